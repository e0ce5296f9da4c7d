/**
 * `latchkey keys bulk` as an operator runs it: the real binary (bin/latchkey.mjs over dist/: build
 * first) against a real `latchkey serve` on SQLite. A line per key, exit 1 when any key failed,
 * --json with the API's results, --from a file, and delete refused without --yes off a terminal.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callAs, runCli, type Served, serve } from "./process.js";

interface Credentials {
  appKey: string;
  appToken: string;
}

describe("latchkey keys bulk", () => {
  let dir: string;
  let server: Served;
  let owner: Credentials;
  let editor: Credentials;
  let env: Record<string, string>;

  const lk = (args: string[], as: Credentials) =>
    runCli(args, { LATCHKEY_URL: server.url, LATCHKEY_APPKEY: as.appKey, LATCHKEY_APPTOKEN: as.appToken });
  const create = async (name: string, roles: number[] = []): Promise<Credentials> => {
    const res = await callAs(server.url, owner, "POST", "/v1/accounts/acme/keys", { name, roles });
    expect(res.status, res.text).toBe(201);
    return { appKey: res.json.key.appKey, appToken: res.json.appToken };
  };
  const valid = async (key: Credentials) =>
    (await callAs(server.url, key, "POST", "/v1/verify", key)).json.valid as boolean;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-cli-bulk-"));
    env = { DATA_DIR: dir, LATCHKEY_SECRET: randomBytes(32).toString("hex"), DATABASE_URL: "" };
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    const { appKey, appToken } = JSON.parse(init.stdout) as Credentials;
    owner = { appKey, appToken };
    server = await serve({ ...env, LOG_LEVEL: "warn" });
    const role = await callAs(server.url, owner, "POST", "/v1/accounts/acme/roles", {
      name: "key editor",
      resources: ["EditApiKeys", "ViewApiKeys"],
    });
    editor = await create("editor", [role.json.id]);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("deactivates, prints a result per key and exits 1 when some key was refused", async () => {
    const plain = await create("plain");
    const owned = await create("owner-like", [1]);
    const res = await lk(
      ["keys", "bulk", "deactivate", plain.appKey, owned.appKey, "appkey-acme-NOSUCH"],
      editor,
    );
    expect(res.code, res.stderr).toBe(1);
    const lines = res.stdout.split("\n");
    expect(lines.find((line) => line.includes(plain.appKey))).toMatch(/deactivated/);
    expect(lines.find((line) => line.includes(owned.appKey))).toMatch(/TARGET_EXCEEDS_CALLER/);
    expect(lines.find((line) => line.includes("NOSUCH"))).toMatch(/KEY_NOT_FOUND/);
    expect(res.stdout).toMatch(/1 of 3 key\(s\) deactivated; 2 failed\./);
    expect(await valid(plain)).toBe(false);
    expect(await valid(owned)).toBe(true);

    const on = await lk(["keys", "bulk", "activate", plain.appKey, "--json"], owner);
    expect(on.code, on.stderr).toBe(0);
    const parsed = JSON.parse(on.stdout);
    expect(parsed).toMatchObject({ action: "activate", succeeded: 1, failed: 0 });
    expect(parsed.results[0]).toMatchObject({ appKey: plain.appKey, ok: true, key: { active: true } });
    expect(on.stdout).not.toContain(plain.appToken);
    expect(await valid(plain)).toBe(true);
  }, 60_000);

  it("deletes the keys of a file with --yes, and refuses without it off a terminal", async () => {
    const keys = [await create("gone one"), await create("gone two")];
    const file = join(dir, "keys.txt");
    await writeFile(file, `# keys to delete\n${keys[0]?.appKey}\n\n${keys[1]?.appKey}  # the second\n`);
    const refused = await lk(["keys", "bulk", "delete", "--from", file], owner);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/needs --yes/);
    for (const key of keys) expect(await valid(key)).toBe(true);

    const res = await lk(["keys", "bulk", "delete", "--from", file, "--yes"], owner);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/2 of 2 key\(s\) deleted\./);
    for (const key of keys) expect(await valid(key)).toBe(false);
  }, 60_000);

  it("refuses bad usage with exit 2 before sending anything", async () => {
    const key = await create("stays");
    const cases = [
      ["keys", "bulk", "rename", key.appKey],
      ["keys", "bulk", "deactivate"],
      ["keys", "bulk", "deactivate", key.appKey, key.appKey],
      ["keys", "bulk", "deactivate", "--from", join(dir, "missing.txt")],
    ];
    for (const args of cases) {
      const res = await lk(args, owner);
      expect(res.code, `${args.join(" ")}: ${res.stderr}`).toBe(2);
    }
    expect(await valid(key)).toBe(true);
  }, 60_000);
});
