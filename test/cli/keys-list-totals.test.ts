/**
 * `latchkey keys list` over a broad filter whose total is counted up to 1,000 (docs/scaling.md,
 * "total"): the footer and --json say "at least", and --all, having read every page, the exact count.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { createHarness, type Harness } from "../support/harness.js";

const MATCHING = 1001;
let h: Harness;

beforeAll(async () => {
  h = await createHarness();
  const keys = Array.from({ length: MATCHING }, (_, i) => ({
    name: `Broad ${i}`,
    tokenHash: createHash("sha256").update(randomBytes(16)).digest("hex"),
    roles: [],
  }));
  const res = await h.request("POST", "/v1/accounts/acme/keys/import", { body: { keys } });
  if (res.status !== 201) throw new Error(`import: ${res.status} ${res.text}`);
}, 60_000);

afterAll(() => h.close());

describe("keys list with a total counted up to 1,000", () => {
  it("says 1000+ for a page, and the exact count once --all read every page", async () => {
    const page = await runCli(h, ["keys", "list", "--q", "broad", "--limit", "5", "--json"]);
    expect(page.code, page.stderr).toBe(0);
    expect(JSON.parse(page.stdout)).toMatchObject({ total: 1000, totalExact: false });
    const human = await runCli(h, ["keys", "list", "--q", "broad", "--limit", "5"]);
    expect(human.stdout).toContain("5 of 1000+ key(s); more with --cursor ");

    const all = await runCli(h, ["keys", "list", "--q", "broad", "--all", "--json"]);
    const everything = JSON.parse(all.stdout);
    expect(everything.items).toHaveLength(MATCHING);
    expect(everything).toMatchObject({ total: MATCHING, totalExact: true, nextCursor: null });
    const allHuman = await runCli(h, ["keys", "list", "--q", "broad", "--all"]);
    expect(allHuman.stdout).toContain(`${MATCHING} of ${MATCHING} key(s)`);
    // From a cursor, --all reads only the rest: the server's total stands.
    const { nextCursor } = JSON.parse(page.stdout);
    const rest = await runCli(h, ["keys", "list", "--q", "broad", "--cursor", nextCursor, "--all", "--json"]);
    const restBody = JSON.parse(rest.stdout);
    expect(restBody.items).toHaveLength(MATCHING - 5);
    expect(restBody).toMatchObject({ total: 1000, totalExact: false, nextCursor: null });

    // Kept counts stay exact past 1,000: the account's keys and the bootstrap key.
    const unfiltered = await runCli(h, ["keys", "list", "--limit", "1", "--json"]);
    expect(JSON.parse(unfiltered.stdout)).toMatchObject({ total: MATCHING + 1, totalExact: true });
  }, 60_000);
});
