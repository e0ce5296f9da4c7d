/**
 * The real `latchkey` CLI (bin/latchkey.mjs over dist/: build first) against a real server: a
 * renewal step that would remove the token the CLI itself calls with is refused, with what to do,
 * unless --yes is given; a share link that blocks renewal is shown and cancelled; `keys show` gives
 * each token's last use while a renewal is pending.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type Served, serve } from "./process.js";

interface Credentials {
  appKey: string;
  appToken: string;
}

const TOKEN = /lkt_[0-9A-Za-z]{46}/g;

describe("the CLI's renewal guard and share-link commands", () => {
  let dir: string;
  let server: Served;
  let owner: Credentials;
  const lk = (args: string[], as: Credentials) =>
    runCli(args, {
      LATCHKEY_URL: server.url,
      LATCHKEY_APPKEY: as.appKey,
      LATCHKEY_APPTOKEN: as.appToken,
      LATCHKEY_ACCOUNT: "",
    });
  const verify = async (creds: Credentials) => {
    const res = await fetch(`${server.url}/v1/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ appKey: creds.appKey, appToken: creds.appToken }),
    });
    return ((await res.json()) as { valid: boolean }).valid;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-cli-guard-"));
    const env = { DATA_DIR: dir, LATCHKEY_SECRET: randomBytes(32).toString("hex"), DATABASE_URL: "" };
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    owner = JSON.parse(init.stdout) as Credentials;
    server = await serve({ ...env, LOG_LEVEL: "warn" });
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("complete-renewal with the old token in LATCHKEY_APPTOKEN says so first and refuses without --yes", async () => {
    const renewed = await lk(["keys", "renew", owner.appKey, "--json"], owner);
    expect(renewed.code, renewed.stderr).toBe(0);
    const fresh = { appKey: owner.appKey, appToken: JSON.parse(renewed.stdout).appToken as string };

    // Both tokens were used (renew with the old, show with the new): their uses are written in the
    // usage batch, within a few seconds.
    let shown = await lk(["keys", "show", owner.appKey], fresh);
    const deadline = Date.now() + 15_000;
    while (!/new token last used: +\d{4}-/.test(shown.stdout) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      shown = await lk(["keys", "show", owner.appKey], fresh);
    }
    expect(shown.stdout).toMatch(/old token last used: +\d{4}-/);
    expect(shown.stdout).toMatch(/new token last used: +\d{4}-/);
    expect(shown.stdout).not.toMatch(TOKEN);

    const refused = await lk(["keys", "complete-renewal", owner.appKey], owner);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`you are calling with the old token of ${owner.appKey}`);
    expect(refused.stderr).toContain("Set LATCHKEY_APPTOKEN to the new token");
    expect(refused.stderr).toContain("--yes");
    expect(refused.stderr).not.toMatch(TOKEN);
    expect(await verify(owner)).toBe(true);

    // With the new token there is nothing to warn of.
    const undoWithNew = await lk(["keys", "undo-renewal", owner.appKey], fresh);
    expect(undoWithNew.code).toBe(2);
    expect(undoWithNew.stderr).toContain(`you are calling with the new token of ${owner.appKey}`);
    expect(await verify(fresh)).toBe(true);

    const forced = await lk(["keys", "complete-renewal", owner.appKey, "--yes"], owner);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain("warning: you are calling with the old token");
    expect(await verify(owner)).toBe(false);
    expect(await verify(fresh)).toBe(true);
    owner = fresh;
  });

  it("completes without a question when the caller uses the new token, or another key", async () => {
    const created = await lk(["keys", "create", "ERP", "--role", "10", "--json"], owner);
    const appKey = JSON.parse(created.stdout).key.appKey as string;
    expect((await lk(["keys", "renew", appKey], owner)).code).toBe(0);
    const done = await lk(["keys", "complete-renewal", appKey], owner);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).not.toContain("warning");
  });

  it("shows and cancels a share link that blocks renewal", async () => {
    const created = await lk(["keys", "create", "Linked", "--link", "--json"], owner);
    expect(created.code, created.stderr).toBe(0);
    const appKey = JSON.parse(created.stdout).key.appKey as string;
    const blocked = await lk(["keys", "renew", appKey], owner);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(`latchkey keys cancel-share-link ${appKey}`);
    const state = await lk(["keys", "share-link", appKey], owner);
    expect(state.stdout).toMatch(/state: +unopened/);
    expect(state.stdout).toMatch(/blocks renewal: +yes/);
    const cancelled = await lk(["keys", "cancel-share-link", appKey, "--json"], owner);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({
      blocksRenewal: false,
      shareLink: { state: "cancelled" },
    });
    const again = await lk(["keys", "cancel-share-link", appKey], owner);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("NO_UNOPENED_SHARE_LINK");
    expect((await lk(["keys", "renew", appKey], owner)).code).toBe(0);
  });
});
