/**
 * POST /v1/accounts/{account}/settings/api-keys/test: a test message to every saved recipient,
 * through a real SMTP server and a real webhook receiver on loopback that checks the signature.
 * That receiver needs WEBHOOK_ALLOW_PRIVATE; without it (the default) loopback is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SmtpPeer, startReceiver, startSmtp, type WebhookPeer } from "../notify/peers.js";
import { createHarness, type Harness } from "../support/harness.js";

const PATH = "/v1/accounts/acme/settings/api-keys";
const SECRET = "test-notification-secret-0123456789";
const policiesOff = { deactivateUnusedDays: null, maxTokenAgeDays: null };

let h: Harness;
let smtp: SmtpPeer;
let hooks: WebhookPeer;

beforeAll(async () => {
  smtp = await startSmtp();
  h = await createHarness("sqlite", { smtpUrl: smtp.url, webhookAllowPrivate: true });
  hooks = await startReceiver(SECRET, () => h.deps.clock.now());
});
afterAll(async () => {
  await Promise.all([smtp?.close(), hooks?.close()]);
  await h?.close();
});

async function save(emails: string[], webhooks: { url: string; secret?: string }[], on: Harness = h) {
  const res = await on.request("PUT", PATH, {
    body: { renewalPeriodMonths: 3, notifications: { emails, webhooks }, policies: policiesOff },
  });
  expect(res.status, res.text).toBe(200);
  return res.body as { notifications: { webhooks: { id: string; url: string }[] } };
}

async function auditOf(action: string) {
  return (await h.store.audit.list("acme", 500)).filter((event) => event.action === action);
}

describe("test notifications", () => {
  it("refuses with 409 NO_RECIPIENTS while no recipient is saved, and records nothing", async () => {
    const res = await h.request("POST", `${PATH}/test`);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("NO_RECIPIENTS");
    expect(res.body.detail).toMatch(/no notification email or webhook/);
    expect(await auditOf("settings.test_notification")).toEqual([]);
  });

  it("sends one email per address and one signed webhook per hook, and answers each outcome", async () => {
    const saved = await save(["ops@acme.test", "oncall@acme.test"], [{ url: hooks.url, secret: SECRET }]);
    const hookId = saved.notifications.webhooks[0]?.id;
    const res = await h.request("POST", `${PATH}/test`);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      results: [
        { channel: "email", to: "ops@acme.test", ok: true },
        { channel: "email", to: "oncall@acme.test", ok: true },
        { channel: "webhook", to: hooks.url, ok: true },
      ],
    });

    expect(smtp.mails.map((mail) => mail.to).sort()).toEqual([["oncall@acme.test"], ["ops@acme.test"]]);
    const mail = smtp.mails[0];
    expect(mail?.subject).toBe("[latchkey] Test notification for account acme");
    expect(mail?.text).toContain("asked for by appkey-acme-");
    expect(mail?.from).toBe("no-reply@localhost");

    expect(hooks.deliveries).toHaveLength(1);
    const delivery = hooks.deliveries[0];
    expect(delivery?.verified, "signature checks out with the webhook's secret").toBe(true);
    expect(delivery?.headers["x-latchkey-signature"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(delivery?.headers["x-latchkey-event"]).toBe("notification.test");
    expect(delivery?.json).toMatchObject({
      type: "notification.test",
      account: "acme",
      data: { test: true },
    });

    const events = await auditOf("settings.test_notification");
    expect(events).toHaveLength(1);
    expect(events[0]?.data).toEqual({
      results: [
        { channel: "email", to: "ops@acme.test", ok: true },
        { channel: "email", to: "oncall@acme.test", ok: true },
        { channel: "webhook", to: hookId, ok: true },
      ],
    });
    // Nothing outlives the request: no outbox row, no secret in the answer or the audit event.
    expect(await h.store.outbox.list("acme", 10)).toEqual([]);
    expect(JSON.stringify(events)).not.toContain(SECRET);
    expect(res.text).not.toContain(SECRET);
  });

  it("reports a webhook that answers 500 as failed, while the email still goes", async () => {
    smtp.mails.length = 0;
    hooks.deliveries.length = 0;
    hooks.respond = () => 500;
    try {
      await save(["ops@acme.test"], [{ url: hooks.url, secret: SECRET }]);
      const res = await h.request("POST", `${PATH}/test`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.results).toEqual([
        { channel: "email", to: "ops@acme.test", ok: true },
        { channel: "webhook", to: hooks.url, ok: false, error: "webhook answered HTTP 500" },
      ]);
      expect(hooks.deliveries.map((d) => [d.verified, d.status])).toEqual([[true, 500]]);
      expect(smtp.mails).toHaveLength(1);
      const [latest] = await auditOf("settings.test_notification");
      expect(JSON.stringify(latest?.data)).toContain("webhook answered HTTP 500");
    } finally {
      hooks.respond = () => 200;
    }
  });

  it("reports an unreachable webhook without quoting its URL", async () => {
    const dead = "http://127.0.0.1:9/secret-path?token=abc";
    await save([], [{ url: dead }]);
    const res = await h.request("POST", `${PATH}/test`);
    expect(res.status, res.text).toBe(200);
    const [result] = res.body.results;
    expect(result).toMatchObject({ channel: "webhook", to: dead, ok: false });
    expect(result.error).toMatch(/^webhook unreachable: /);
    const [latest] = await auditOf("settings.test_notification");
    expect(JSON.stringify(latest?.data)).not.toContain("secret-path");
  });

  it("needs EditApiKeysSettings: a key that may only view the settings gets 403", async () => {
    const role = await h.request("POST", "/v1/accounts/acme/roles", {
      body: { name: "settings viewer", resources: ["ViewApiKeys"] },
    });
    const viewer = await h.createKey("settings viewer", [role.body.id]);
    expect((await h.request("GET", PATH, { as: viewer })).status).toBe(200);
    const res = await h.request("POST", `${PATH}/test`, { as: viewer });
    expect(res.status).toBe(403);
    expect(res.body.detail).toContain("EditApiKeysSettings");
  });
});

describe("test notifications without WEBHOOK_ALLOW_PRIVATE (the default)", () => {
  let strict: Harness;
  beforeAll(async () => {
    strict = await createHarness("sqlite", { smtpUrl: smtp.url });
  });
  afterAll(() => strict?.close());

  it("saves loopback URLs (addresses are checked when sending) and then refuses them with the reason", async () => {
    hooks.deliveries.length = 0;
    const port = new URL(hooks.url).port;
    const byName = `http://localhost:${port}/secret-path?token=abc`;
    const metadata = "http://169.254.169.254/latest/meta-data/";
    await save([], [{ url: hooks.url, secret: SECRET }, { url: byName }, { url: metadata }], strict);
    const res = await strict.request("POST", `${PATH}/test`);
    expect(res.status, res.text).toBe(200);
    const hint = "; set WEBHOOK_ALLOW_PRIVATE=true to allow";
    expect(res.body.results).toEqual([
      {
        channel: "webhook",
        to: hooks.url,
        ok: false,
        error: `webhook refused: address 127.0.0.1 is a loopback address${hint}`,
      },
      {
        channel: "webhook",
        to: byName,
        ok: false,
        error: expect.stringMatching(/^webhook refused: address (127\.0\.0\.1|::1) is a loopback address;/),
      },
      {
        channel: "webhook",
        to: metadata,
        ok: false,
        error: `webhook refused: address 169.254.169.254 is link-local${hint}`,
      },
    ]);
    expect(hooks.deliveries).toEqual([]);
    const [event] = (await strict.store.audit.list("acme", 500)).filter(
      (e) => e.action === "settings.test_notification",
    );
    const recorded = JSON.stringify(event?.data);
    expect(recorded).toContain("is a loopback address");
    expect(recorded).not.toContain("secret-path");
    expect(recorded).not.toContain(SECRET);
  });
});
