/**
 * `latchkey keys import FILE [--dry-run]` in process against the in-process app, from CSV and JSON
 * files; and the file reader the CLI and the admin share (src/client/import-file.ts).
 */
import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseImportFile } from "../../src/client/import-file.js";
import { runCli } from "../support/cli.js";
import { createHarness, type Harness } from "../support/harness.js";

const sha256 = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");
let h: Harness;
let dir: string;

beforeAll(async () => {
  h = await createHarness();
  dir = await mkdtemp(join(tmpdir(), "latchkey-import-"));
});
afterAll(() => h.close());

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const keyCount = async () => (await h.request("GET", "/v1/accounts/acme/keys")).body.total as number;

describe("keys import", () => {
  it("checks a CSV file with --dry-run, then imports it; the tokens verify", async () => {
    const csv = await file(
      "keys.csv",
      [
        "name,appKey,tokenHash,roles,createdAt",
        `"ERP, main",vtexappkey-acme-CSVERP,${sha256("ERPTOKEN")},10;11,2026-01-02T00:00:00Z`,
        `Marketing,,${sha256("MKTTOKEN")},,`,
      ].join("\r\n"),
    );
    const before = await keyCount();
    const dry = await runCli(h, ["keys", "import", csv, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("All 2 key(s) can be imported (dry run: nothing was written).");
    expect(await keyCount()).toBe(before);

    const run = await runCli(h, ["--json", "keys", "import", csv]);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ dryRun: false, imported: 2, failed: 0 });
    expect(result.results[0]).toEqual({
      index: 0,
      name: "ERP, main",
      appKey: "vtexappkey-acme-CSVERP",
      ok: true,
    });
    const verified = await h.request("POST", "/v1/verify", {
      as: null,
      body: { appKey: "vtexappkey-acme-CSVERP", appToken: "ERPTOKEN" },
    });
    expect(verified.body.valid).toBe(true);
    expect(run.stdout).not.toContain(sha256("ERPTOKEN"));
  });

  it("prints every bad entry of a JSON file, imports nothing and exits 1", async () => {
    const json = await file(
      "keys.json",
      JSON.stringify([
        { name: "good one", tokenHash: sha256("good"), roles: [] },
        { name: "bad hash", tokenHash: "abc", roles: [] },
        { name: "unknown role", tokenHash: sha256("r"), roles: [999] },
      ]),
    );
    const before = await keyCount();
    const run = await runCli(h, ["keys", "import", json]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("VALIDATION_FAILED: tokenHash must be the SHA-256");
    expect(run.stdout).toContain("UNKNOWN_ROLE");
    expect(run.stdout).toContain("2 of 3 key(s) cannot be imported; nothing was imported.");
    expect(await keyCount()).toBe(before);
  });

  it("refuses a file it cannot read as an import (exit 2)", async () => {
    const bad = await file("bad.csv", "name,secret\nx,y\n");
    const run = await runCli(h, ["keys", "import", bad]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown column "secret"');
    expect((await runCli(h, ["keys", "import", join(dir, "missing.csv")])).code).toBe(2);
  });
});

describe("parseImportFile", () => {
  it("reads JSON arrays and {keys} objects, and CSV with quotes, CRLF, a BOM and empty cells", () => {
    expect(parseImportFile('[{"name":"a","tokenHash":"h","roles":[]}]')).toEqual({
      ok: true,
      keys: [{ name: "a", tokenHash: "h", roles: [] }],
    });
    expect(parseImportFile('{"keys":[]}')).toEqual({ ok: true, keys: [] });
    expect(parseImportFile('\uFEFFtokenHash,name,roles\r\nh,"say ""hi""",1; 2\r\n\r\n')).toEqual({
      ok: true,
      keys: [{ name: 'say "hi"', tokenHash: "h", roles: [1, 2] }],
    });
  });

  it("names what is wrong", () => {
    expect(parseImportFile("name\nx")).toEqual({
      ok: false,
      error: 'the header lacks the column "tokenHash"',
    });
    expect(parseImportFile("name,tokenHash,roles\nx,h,admin")).toEqual({
      ok: false,
      error: 'line 2: roles must be role ids separated by ";" (got "admin")',
    });
    expect(parseImportFile('name,tokenHash\n"x,h')).toEqual({
      ok: false,
      error: "a quoted cell is not closed",
    });
    expect(parseImportFile("[1,")).toEqual({
      ok: false,
      error: "the file starts like JSON but is not valid JSON",
    });
    expect(parseImportFile("")).toEqual({ ok: false, error: "the file is empty" });
  });
});
