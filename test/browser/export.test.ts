/** The API keys page's Export menu: each format downloads a file with a dated name and its content. */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoConsoleErrors, setUpAdmin } from "./support.js";

const lk = setUpAdmin();
let appKey: string;

beforeAll(async () => {
  const created = await lk.admin.api<{ key: { appKey: string } }>("POST", "/v1/accounts/acme/keys", {
    name: "Export me, please",
    roles: [10],
  });
  appKey = created.key.appKey;
});

const FORMATS = [
  { item: "Excel (.xlsx)", ext: "xlsx" },
  { item: "CSV (.csv)", ext: "csv" },
  { item: "JSON (.json)", ext: "json" },
] as const;

describe("the Export menu", () => {
  it("downloads the keys as xlsx, csv and json", async () => {
    const { context, page } = await lk.ownerPage();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    const files = new Map<string, Buffer>();
    for (const format of FORMATS) {
      await page.getByRole("button", { name: "Export keys" }).click();
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("menuitem", { name: format.item }).click(),
      ]);
      expect(download.suggestedFilename()).toMatch(
        new RegExp(`^latchkey-acme-keys-\\d{4}-\\d{2}-\\d{2}\\.${format.ext}$`),
      );
      files.set(format.ext, readFileSync(await download.path()));
    }

    const xlsx = files.get("xlsx") as Buffer;
    expect(xlsx.subarray(0, 2).toString("latin1")).toBe("PK");

    const [header, ...lines] = (files.get("csv") as Buffer).toString("utf8").trim().split("\r\n");
    expect(header?.split(",")).toContain("keyName");
    expect(lines.some((line) => line.includes(appKey) && line.includes('"Export me, please"'))).toBe(true);

    const json = JSON.parse((files.get("json") as Buffer).toString("utf8")) as {
      generated: { keyName: string; label: string; roles: string }[];
      external: unknown[];
    };
    expect(json.generated.find((row) => row.keyName === appKey)).toMatchObject({
      label: "Export me, please",
      roles: "OMS - Read only",
    });
    expect(json.external).toEqual([]);
    // The owner's bootstrap key is listed too; no token is.
    expect(json.generated.map((row) => row.keyName)).toContain(lk.admin.owner.appKey);
    for (const file of files.values()) expect(file.toString("latin1")).not.toContain(lk.admin.owner.appToken);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});
