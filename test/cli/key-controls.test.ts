/**
 * The key-control flags of `keys create` and `keys update`, in process against the in-process app
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliOptions, type CliRun, runCli } from "../support/cli.js";
import { createHarness, type Harness } from "../support/harness.js";

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});

afterAll(async () => {
  await h.close();
});

function cli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return runCli(h, args, options);
}

describe("keys create and update with controls", () => {
  it("sets expiry, IP allowlist, metadata and browser use, shows them, and changes or clears them", async () => {
    const created = await cli([
      "--json",
      "keys",
      "create",
      "erp-controlled",
      "--expires",
      "2099-01-31",
      "--ip",
      "203.0.113.0/24",
      "--ip",
      "2001:db8::/32",
      "--metadata",
      '{"customerId":"c-7"}',
    ]);
    expect(created.code).toBe(0);
    const issued = JSON.parse(created.stdout);
    expect(issued.key).toMatchObject({
      expiresAt: "2099-01-31T00:00:00.000Z",
      ipAllowlist: ["203.0.113.0/24", "2001:db8::/32"],
      metadata: { customerId: "c-7" },
      allowBrowser: false,
    });
    const appKey = issued.key.appKey as string;
    const shown = await cli(["keys", "show", appKey]);
    expect(shown.stdout).toMatch(/expires:\s+2099-01-31/);
    expect(shown.stdout).toMatch(/IP allowlist:\s+203\.0\.113\.0\/24, 2001:db8::\/32/);
    const updated = await cli([
      "--json",
      "keys",
      "update",
      appKey,
      "--expires",
      "never",
      "--any-ip",
      "--no-metadata",
    ]);
    expect(updated.stderr).toBe("");
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ expiresAt: null, ipAllowlist: null, metadata: null });
  });

  it("is a usage error (2) for a bad flag value, and 1 with the server's code for a refused one", async () => {
    expect((await cli(["keys", "create", "bad", "--expires", "soonish"])).code).toBe(2);
    expect((await cli(["keys", "create", "bad", "--metadata", "[1]"])).code).toBe(2);
    expect((await cli(["keys", "update", "appkey-acme-AAAAAA"])).code).toBe(2);
    const refused = await cli(["keys", "create", "bad-ip", "--ip", "10.0.0.1/8"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/VALIDATION_FAILED/);
    expect(refused.stderr).toMatch(/10\.0\.0\.0\/8/);
    const browser = await cli(["keys", "create", "browser", "--allow-browser"]);
    expect(browser.code).toBe(1);
    expect(browser.stderr).toMatch(/BROWSER_KEYS_DISABLED/);
  });

  it("keys list filters by expiry and control (--control ip, metadata, browser)", async () => {
    const soon = new Date(h.deps.clock.now() + 5 * 86_400_000).toISOString();
    const made = await cli([
      "--json",
      "keys",
      "create",
      "list-soon-ip",
      "--expires",
      soon,
      "--ip",
      "192.0.2.0/24",
    ]);
    expect(made.code).toBe(0);
    expect((await cli(["keys", "create", "list-meta", "--metadata", '{"a":1}'])).code).toBe(0);
    const listed = await cli(["--json", "keys", "list", "--expiry", "soon", "--control", "ip", "--all"]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).items.map((key: { name: string }) => key.name)).toEqual([
      "list-soon-ip",
    ]);
    const meta = await cli(["keys", "list", "--control", "metadata"]);
    expect(meta.stdout).toContain("list-meta");
    expect(meta.stdout).not.toContain("list-soon-ip");
    const never = await cli(["--json", "keys", "list", "--expiry", "none", "--all"]);
    const names = JSON.parse(never.stdout).items.map((key: { name: string }) => key.name);
    expect(names).toContain("list-meta");
    expect(names).not.toContain("list-soon-ip");
    expect((await cli(["keys", "list", "--expiry", "tomorrow"])).code).toBe(2);
    expect((await cli(["keys", "list", "--control", "quotas"])).code).toBe(2);
  });

  it("keys list filters by rate limit and quota (--control rate, rateLimit, quota)", async () => {
    const rate = await cli(["keys", "create", "list-rate", "--rate-limit", "10/1s"]);
    expect(rate.code).toBe(0);
    const quota = await cli(["keys", "create", "list-quota", "--quota", "0"]);
    expect(quota.code).toBe(0);
    const listed = async (control: string) => {
      const run = await cli(["--json", "keys", "list", "--control", control, "--q", "list-", "--all"]);
      expect(run.code).toBe(0);
      return JSON.parse(run.stdout).items.map((key: { name: string }) => key.name);
    };
    expect(await listed("rate")).toEqual(["list-rate"]);
    expect(await listed("rateLimit")).toEqual(["list-rate"]);
    expect(await listed("quota")).toEqual(["list-quota"]);
  });

  it("sets a rate limit and a quota, shows them with what is left, and removes them", async () => {
    const created = await cli([
      "--json",
      "keys",
      "create",
      "erp-metered",
      "--rate-limit",
      "100/1m",
      "--quota",
      "10000",
      "--quota-refill",
      "10000/month",
    ]);
    expect(created.stderr).toMatch(/warning/);
    expect(created.code).toBe(0);
    const issued = JSON.parse(created.stdout);
    expect(issued.key).toMatchObject({
      rateLimit: { limit: 100, windowSeconds: 60 },
      quota: { remaining: 10000, refill: { amount: 10000, every: "month" } },
    });
    const appKey = issued.key.appKey as string;
    const shown = await cli(["keys", "show", appKey]);
    expect(shown.stdout).toMatch(/rate limit:\s+100\/60s/);
    expect(shown.stdout).toMatch(/quota:\s+10000 calls left, refilled to 10000\/month/);
    const changed = await cli(["--json", "keys", "update", appKey, "--quota", "5", "--quota-refill", "none"]);
    expect(changed.code).toBe(0);
    expect(JSON.parse(changed.stdout)).toMatchObject({ quota: { remaining: 5, refill: null } });
    const removed = await cli(["--json", "keys", "update", appKey, "--no-rate-limit", "--no-quota"]);
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ rateLimit: null, quota: null });
  });

  it("refuses malformed limits and quotas as usage errors (2)", async () => {
    for (const args of [
      ["--rate-limit", "100"],
      ["--rate-limit", "100/0s"],
      ["--rate-limit", "-1/60s"],
      ["--rate-limit", "100/2d"],
      ["--quota", "-5"],
      ["--quota", "many"],
      ["--quota", "10", "--quota-refill", "10/week"],
      ["--quota-refill", "10/day"],
    ]) {
      const run = await cli(["keys", "create", "bad-limits", ...args]);
      expect(run.code, args.join(" ")).toBe(2);
    }
  });
});
