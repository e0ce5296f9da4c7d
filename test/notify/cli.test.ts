/**
 * `latchkey alerts run` as a real process (bin/latchkey.mjs over dist/: build first) against a
 * temporary DATA_DIR, with SMTP_URL pointing at a loopback SMTP server and WEBHOOK_ALLOW_PRIVATE on
 * for the loopback webhook receiver. The process runs on the real clock, so the key's token is aged
 * in the database beforehand.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEBHOOK_SECRET_PURPOSE, webhookSecretContext } from "../../src/core/settings.js";
import { createSealer } from "../../src/crypto/sealing.js";
import { openStore } from "../../src/storage/open.js";
import { runCli, serve } from "../e2e/process.js";
import { type SmtpPeer, startReceiver, startSmtp, type WebhookPeer } from "./peers.js";

const DAY = 86_400_000;
const HOOK_SECRET = "whsec-e2e-0123456789abcdef0123456789";

let dir: string;
let smtp: SmtpPeer;
let hooks: WebhookPeer;
let env: Record<string, string>;
let appKey: string;
let appToken: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-alerts-"));
  smtp = await startSmtp();
  hooks = await startReceiver(HOOK_SECRET, () => Date.now());
  env = {
    DATA_DIR: dir,
    SMTP_URL: smtp.url,
    PUBLIC_URL: "https://keys.example.com",
    LATCHKEY_SECRET: "",
    WEBHOOK_ALLOW_PRIVATE: "true",
  };
  const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
  expect(init.code, init.stderr).toBe(0);
  ({ appKey, appToken } = JSON.parse(init.stdout) as { appKey: string; appToken: string });
  await ageTokenAndConfigure("acme", appKey);
});

afterAll(async () => {
  await Promise.all([smtp.close(), hooks.close()]);
  await rm(dir, { recursive: true, force: true });
});

/** Gives the bootstrap key a token made 100 days ago (orange) and sets the account's recipients. */
async function ageTokenAndConfigure(account: string, appKey: string): Promise<void> {
  const store = await openStore({ kind: "sqlite", file: join(dir, "latchkey.db") });
  try {
    const key = await store.keys.getByAppKey(appKey);
    if (!key) throw new Error("bootstrap key missing");
    const old = {
      id: randomUUID(),
      hash: randomBytes(32).toString("base64url"),
      createdAt: Date.now() - 100 * DAY,
    };
    await store.renewals.addPendingToken(key.id, old, Date.now());
    await store.renewals.dropOldToken(key.id, Date.now());
    const secret = (await readFile(join(dir, "secret"), "utf8")).trim();
    const sealer = createSealer(secret, WEBHOOK_SECRET_PURPOSE);
    const webhook = {
      id: "wh_e2e",
      url: hooks.url,
      sealedSecret: sealer.seal(HOOK_SECRET, webhookSecretContext(account, "wh_e2e")),
      createdAt: Date.now(),
    };
    const settings = { notifyEmails: [`ops@${account}.test`], webhooks: [webhook] };
    await store.settings.put(account, settings, Date.now());
  } finally {
    await store.close();
  }
}

describe("latchkey alerts run", () => {
  it("runs one pass: raises the alert, emails and calls the webhook, prints a JSON summary", async () => {
    const res = await runCli(["alerts", "run", "--json"], env);
    expect(res.code, res.stderr).toBe(0);
    const summary = JSON.parse(res.stdout);
    expect(summary).toMatchObject({
      accounts: 1,
      alerts: 1,
      deactivated: 0,
      enqueued: 2,
      deliveries: { sent: 2, retrying: 0, failed: 0 },
      errors: [],
    });

    expect(smtp.mails).toHaveLength(1);
    const [mail] = smtp.mails;
    expect(mail?.from).toBe("no-reply@keys.example.com");
    expect(mail?.to).toEqual(["ops@acme.test"]);
    expect(mail?.subject).toMatch(new RegExp(`\\(${appKey}\\) needs renewal \\(orange\\)$`));
    expect(mail?.text).toContain("https://keys.example.com/admin");
    expect(mail?.raw).not.toContain(appToken);

    expect(hooks.deliveries).toHaveLength(1);
    expect(hooks.deliveries[0]?.verified).toBe(true);
    expect(hooks.deliveries[0]?.json).toMatchObject({ type: "key.alert.orange", account: "acme" });
  });

  it("sends nothing more on the next pass, and prints a human summary without --json", async () => {
    const res = await runCli(["alerts", "run"], env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/alerts raised: +0/);
    expect(res.stdout).toMatch(/deliveries: +0 sent, 0 to retry, 0 given up/);
    expect(smtp.mails).toHaveLength(1);
    expect(hooks.deliveries).toHaveLength(1);
  });

  it("exits 2 on bad settings", async () => {
    const res = await runCli(["alerts", "run", "--json"], { ...env, SMTP_URL: "http://mail" });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe("");
    const { error } = JSON.parse(res.stderr);
    expect(error).toMatchObject({ code: "USAGE", status: null });
    expect(error.detail).toContain("SMTP_URL");
  });

  it("also runs in the server, on its own timer", async () => {
    const init = await runCli(["init", "--account", "globex", "--email", "owner@globex.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    await ageTokenAndConfigure("globex", JSON.parse(init.stdout).appKey);
    const server = await serve({ ...env, ALERTS_INTERVAL: "5s" });
    try {
      for (let i = 0; i < 200 && smtp.mails.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(smtp.mails.map((mail) => mail.to[0])).toEqual(["ops@acme.test", "ops@globex.test"]);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(server.log()).toContain("notifier pass");
  });

  it("refuses the loopback webhook when WEBHOOK_ALLOW_PRIVATE is left unset, and gives up at once", async () => {
    const init = await runCli(
      ["init", "--account", "initech", "--email", "owner@initech.test", "--json"],
      env,
    );
    expect(init.code, init.stderr).toBe(0);
    await ageTokenAndConfigure("initech", JSON.parse(init.stdout).appKey);
    const before = hooks.deliveries.length;
    const res = await runCli(["alerts", "run", "--json"], { ...env, WEBHOOK_ALLOW_PRIVATE: "" });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).deliveries).toEqual({ sent: 1, retrying: 0, failed: 1 });
    expect(hooks.deliveries).toHaveLength(before);
    const store = await openStore({ kind: "sqlite", file: join(dir, "latchkey.db") });
    try {
      const webhook = (await store.outbox.list("initech", 10)).find((n) => n.channel === "webhook");
      expect(webhook).toMatchObject({
        status: "failed",
        lastError:
          "webhook refused: address 127.0.0.1 is a loopback address; set WEBHOOK_ALLOW_PRIVATE=true to allow",
      });
    } finally {
      await store.close();
    }
  });
});
