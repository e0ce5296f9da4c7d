import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WEBHOOK_SECRET_PURPOSE, webhookSecretContext } from "../../src/core/settings.js";
import { createSealer } from "../../src/crypto/sealing.js";
import { NO_SMTP } from "../../src/notify/email.js";
import { LEASE_MS, MAX_ATTEMPTS, RETRY_DELAYS_MS, retryAt } from "../../src/notify/outbox.js";
import { SYSTEM_AUTHORITY } from "../../src/services/authority.js";
import { createNotifyHarness, DAY, MINUTE, type NotifyHarness, WEBHOOK_ID } from "./support.js";

let h: NotifyHarness;

beforeEach(async () => {
  h = await createNotifyHarness();
  await h.createKey("orders sync");
});
afterEach(() => h.close());

/** Both keys (bootstrap + orders sync) enter orange: two webhook notifications. */
async function twoDueWebhooks() {
  await h.configure({ webhook: true });
  h.advance(95 * DAY);
}

describe("retry schedule", () => {
  it("backs off 1 min, 5 min, 30 min, 2 h, 12 h, then gives up at the 6th failure", () => {
    expect(RETRY_DELAYS_MS).toEqual([MINUTE, 5 * MINUTE, 30 * MINUTE, 120 * MINUTE, 720 * MINUTE]);
    expect(MAX_ATTEMPTS).toBe(6);
    expect([1, 2, 3, 4, 5].map((attempts) => retryAt(attempts, 0))).toEqual([...RETRY_DELAYS_MS]);
    expect(retryAt(6, 0)).toBeNull();
  });
});

describe("outbox delivery", () => {
  it("retries with backoff when the receiver answers 500, then delivers on 200", async () => {
    await twoDueWebhooks();
    h.hooks.respond = () => 500;
    expect((await h.pass()).deliveries).toEqual({ sent: 0, retrying: 2, failed: 0 });
    const failedAt = h.deps.clock.now();
    for (const n of await h.notifications()) {
      expect(n).toMatchObject({ status: "pending", attempts: 1, lastError: "webhook answered HTTP 500" });
      expect(n.nextAttemptAt).toBe(failedAt + MINUTE);
    }

    h.advance(MINUTE - 1);
    expect((await h.pass()).deliveries).toEqual({ sent: 0, retrying: 0, failed: 0 });
    h.hooks.respond = () => 200;
    h.advance(1);
    expect((await h.pass()).deliveries).toEqual({ sent: 2, retrying: 0, failed: 0 });
    for (const n of await h.notifications()) {
      expect(n).toMatchObject({ status: "sent", attempts: 2, sentAt: h.deps.clock.now() });
    }
    // A retry carries the same delivery id, so receivers can de-duplicate.
    const ids = h.hooks.deliveries.map((d) => d.headers["x-latchkey-delivery"]);
    expect(new Set(ids).size).toBe(2);
    const sent = await h.audit("notification.sent");
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatchObject({ actorType: "system", targetType: "notification" });
    expect(sent[0]?.data).toEqual({
      channel: "webhook",
      target: WEBHOOK_ID,
      event: "key.alert.orange",
      attempts: 2,
    });
    expect(await h.audit("notification.failed")).toHaveLength(0);
  });

  it("gives up after the 6th failed attempt, with an audit event", async () => {
    await twoDueWebhooks();
    h.hooks.respond = () => 500;
    await h.pass();
    for (const delay of RETRY_DELAYS_MS) {
      h.advance(delay - 1);
      expect((await h.pass()).deliveries).toEqual({ sent: 0, retrying: 0, failed: 0 });
      h.advance(1);
      await h.pass();
    }
    expect(h.hooks.deliveries).toHaveLength(2 * MAX_ATTEMPTS);
    for (const n of await h.notifications()) expect(n).toMatchObject({ status: "failed", attempts: 6 });
    const failed = await h.audit("notification.failed");
    expect(failed).toHaveLength(2);
    expect(failed[0]?.data).toEqual({
      channel: "webhook",
      target: WEBHOOK_ID,
      event: "key.alert.orange",
      attempts: 6,
      error: "webhook answered HTTP 500",
    });
    h.advance(DAY);
    expect((await h.pass()).deliveries).toEqual({ sent: 0, retrying: 0, failed: 0 });
  });

  it("gives up at once on a webhook removed from the settings meanwhile", async () => {
    await twoDueWebhooks();
    h.hooks.respond = () => 503;
    await h.pass();
    await h.configure({});
    h.advance(MINUTE);
    expect((await h.pass()).deliveries).toEqual({ sent: 0, retrying: 0, failed: 2 });
    const [n] = await h.notifications();
    expect(n).toMatchObject({ status: "failed", attempts: 2 });
    expect(n?.lastError).toMatch(/no longer in the account's settings/);
  });

  it("fails email notifications permanently, with a clear error, when SMTP_URL is not set", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test"] });
    h.advance(95 * DAY);
    const summary = await h.notifier({ smtpUrl: undefined }).runPass();
    expect(summary.deliveries).toEqual({ sent: 0, retrying: 0, failed: 2 });
    const [event] = await h.audit("notification.failed");
    expect(event?.data).toMatchObject({
      channel: "email",
      target: "ops@acme.test",
      attempts: 1,
      error: NO_SMTP,
    });
  });

  it("delivers each notification once when two passes run at the same time", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test", "sec@acme.test"], webhook: true });
    h.advance(95 * DAY);
    const [one, two] = await Promise.all([h.notifier().runPass(), h.notifier().runPass()]);
    expect((one?.alerts ?? 0) + (two?.alerts ?? 0)).toBe(2);
    expect((one?.deliveries.sent ?? 0) + (two?.deliveries.sent ?? 0)).toBe(6);
    expect(h.smtp.mails).toHaveLength(4);
    expect(h.hooks.deliveries).toHaveLength(2);
    const notifications = await h.notifications();
    expect(notifications).toHaveLength(6);
    for (const n of notifications) expect(n).toMatchObject({ status: "sent", attempts: 1 });
    expect(await h.audit("notification.sent")).toHaveLength(6);
  });

  it("survives a process that died mid-delivery: the next process sends once the lease ends", async () => {
    await twoDueWebhooks();
    h.hooks.respond = () => 500;
    await h.pass();
    h.advance(MINUTE);
    // A process leases the rows, then dies before recording anything.
    const now = h.deps.clock.now();
    expect(await h.store.outbox.claim(now, now + LEASE_MS, 100)).toHaveLength(2);
    h.hooks.respond = () => 200;
    const restarted = h.notifier();
    expect((await restarted.runPass()).deliveries.sent).toBe(0);
    h.advance(LEASE_MS);
    expect((await restarted.runPass()).deliveries.sent).toBe(2);
  });

  it("erases the sealed tokens of expired share links each pass", async () => {
    const key = await h.createKey("shared");
    await h.services.renewal.start(SYSTEM_AUTHORITY, "acme", key.appKey, { delivery: "link" });
    expect((await h.pass()).shareLinksPurged).toBe(0);
    h.advance(DAY + 1);
    expect((await h.pass()).shareLinksPurged).toBe(1);
    expect((await h.pass()).shareLinksPurged).toBe(0);
  });

  it("keeps URLs and credentials out of errors", async () => {
    const dead = await unusedPort();
    const sealer = createSealer(h.deps.secret, WEBHOOK_SECRET_PURPOSE);
    const webhook = {
      id: "wh_dead",
      url: `http://127.0.0.1:${dead}/hook?token=s3cr3t-in-query`,
      sealedSecret: sealer.seal("whsec-dead-0123456789abcdef01", webhookSecretContext("acme", "wh_dead")),
      createdAt: 0,
    };
    await h.store.settings.put("acme", { notifyEmails: ["ops@acme.test"], webhooks: [webhook] }, 0);
    h.advance(95 * DAY);
    await h.notifier({ smtpUrl: `smtp://mailer:hunter2-pw@127.0.0.1:${dead}` }).runPass();
    const errors = (await h.notifications()).map((n) => n.lastError ?? "");
    expect(errors).toHaveLength(4);
    expect(errors).toContain("webhook unreachable: ECONNREFUSED");
    for (const error of errors) {
      expect(error).not.toMatch(/s3cr3t|hunter2|whsec/);
      expect(error.length).toBeLessThanOrEqual(300);
    }
  });

  it("times out a webhook that does not answer", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      await h.configure({ webhook: `http://127.0.0.1:${port}/` });
      h.advance(95 * DAY);
      const summary = await h.notifier({ webhookTimeoutMs: 200 }).runPass();
      expect(summary.deliveries).toEqual({ sent: 0, retrying: 2, failed: 0 });
      expect((await h.notifications())[0]?.lastError).toBe("webhook did not answer within 0.2 s");
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});

describe("webhook destinations", () => {
  const refusal = (address: string, what: string) =>
    `webhook refused: address ${address} ${what}; set WEBHOOK_ALLOW_PRIVATE=true to allow`;

  it("refuses a loopback receiver by default, at once and without retries, with the reason", async () => {
    await twoDueWebhooks();
    const summary = await h.notifier({ webhookAllowPrivate: false }).runPass();
    expect(summary.deliveries).toEqual({ sent: 0, retrying: 0, failed: 2 });
    expect(h.hooks.deliveries).toEqual([]);
    const expected = refusal("127.0.0.1", "is a loopback address");
    for (const n of await h.notifications()) {
      expect(n).toMatchObject({ status: "failed", attempts: 1, lastError: expected });
    }
    const failed = await h.audit("notification.failed");
    expect(failed.map((event) => event.data?.error)).toEqual([expected, expected]);
    // Nothing more is tried later: a refusal is not a transient fault.
    h.advance(DAY);
    expect((await h.notifier({ webhookAllowPrivate: false }).runPass()).deliveries).toEqual({
      sent: 0,
      retrying: 0,
      failed: 0,
    });
  });

  it("refuses a name that resolves to loopback, naming the address and never the URL", async () => {
    const port = new URL(h.hooks.url).port;
    await h.configure({ webhook: `http://localhost:${port}/hooks/latchkey?token=s3cr3t-in-query` });
    h.advance(95 * DAY);
    const summary = await h.notifier({ webhookAllowPrivate: false }).runPass();
    expect(summary.deliveries).toEqual({ sent: 0, retrying: 0, failed: 2 });
    expect(h.hooks.deliveries).toEqual([]);
    for (const n of await h.notifications()) {
      expect(n.lastError).toMatch(
        /^webhook refused: address (127\.0\.0\.1|::1) is a loopback address; set WEBHOOK_ALLOW_PRIVATE=true to allow$/,
      );
    }
  });

  it.each([
    ["http://10.0.0.5/hook", refusal("10.0.0.5", "is in a private network")],
    ["http://169.254.169.254/latest/meta-data/", refusal("169.254.169.254", "is link-local")],
    ["http://100.64.1.2/", refusal("100.64.1.2", "is in the carrier-grade NAT range 100.64.0.0/10")],
    ["http://0.0.0.0:8080/", refusal("0.0.0.0", "is unspecified (this host)")],
    ["http://0x7f.1/", refusal("127.0.0.1", "is a loopback address")],
    ["https://[::1]/", refusal("::1", "is a loopback address")],
    ["http://[::ffff:169.254.169.254]/", refusal("::ffff:a9fe:a9fe", "is link-local")],
    ["http://[fd00::5]/", refusal("fd00::5", "is in a private network")],
    ["http://[fe80::1]/", refusal("fe80::1", "is link-local")],
  ])("refuses the literal address in %s before connecting", async (url, expected) => {
    await h.configure({ webhook: url });
    h.advance(95 * DAY);
    const summary = await h.notifier({ webhookAllowPrivate: false }).runPass();
    expect(summary.deliveries).toEqual({ sent: 0, retrying: 0, failed: 2 });
    expect((await h.notifications()).map((n) => n.lastError)).toEqual([expected, expected]);
  });

  it("delivers to loopback when WEBHOOK_ALLOW_PRIVATE is on", async () => {
    const port = new URL(h.hooks.url).port;
    await h.configure({ webhook: `http://localhost:${port}/hooks/latchkey` });
    h.advance(95 * DAY);
    const summary = await h.notifier({ webhookAllowPrivate: true }).runPass();
    expect(summary.deliveries).toEqual({ sent: 2, retrying: 0, failed: 0 });
    expect(h.hooks.deliveries.map((d) => d.verified)).toEqual([true, true]);
  });

  it("does not follow a redirect: the attempt fails, says why, and is retried", async () => {
    const redirecting = createServer((_req, res) => res.writeHead(307, { Location: h.hooks.url }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, "127.0.0.1", resolve));
    const { port } = redirecting.address() as AddressInfo;
    try {
      await h.configure({ webhook: `http://127.0.0.1:${port}/old` });
      h.advance(95 * DAY);
      expect((await h.pass()).deliveries).toEqual({ sent: 0, retrying: 2, failed: 0 });
      expect(h.hooks.deliveries).toEqual([]);
      expect((await h.notifications())[0]?.lastError).toBe(
        "webhook answered HTTP 307, a redirect: redirects are not followed, save the final URL",
      );
    } finally {
      redirecting.closeAllConnections();
      redirecting.close();
    }
  });
});

function unusedPort(): Promise<number> {
  const server = createServer();
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    }),
  );
}
