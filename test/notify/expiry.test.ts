/**
 * Expiry notices end to end (docs/key-controls.md): a key set through the API to expire within 14
 * days is announced once by email (loopback SMTP) and signed webhook, never again on the next
 * passes, and again when its expiry is changed and the new one nears.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createNotifyHarness, DAY, type NotifyHarness } from "./support.js";

describe.each(["sqlite", "postgres"] as const)("expiry notices on %s", (kind) => {
  let h: NotifyHarness;
  beforeEach(async () => {
    h = await createNotifyHarness(kind);
    await h.configure({ notifyEmails: ["ops@acme.test"], webhook: true });
  });
  afterEach(() => h.close());

  const at = (days: number) => new Date(h.deps.clock.now() + days * DAY).toISOString();
  const expiring = (appKey: string) => ({
    mails: h.smtp.mails.filter((mail) => mail.subject.includes(appKey) && /expires in/.test(mail.subject)),
    hooks: h.hooks.deliveries.filter(
      (d) => d.headers["x-latchkey-event"] === "key.expiring" && d.json.data.key.appKey === appKey,
    ),
  });

  async function createExpiring(name: string, days: number) {
    const res = await h.request("POST", "/v1/accounts/acme/keys", { body: { name, expiresAt: at(days) } });
    expect(res.status).toBe(201);
    return { appKey: res.body.key.appKey as string, appToken: res.body.appToken as string };
  }

  it("announces a key once when it comes within 14 days, and again after a new expiry nears", async () => {
    const key = await createExpiring("nightly export", 20);
    const never = await h.createKey("no expiry");

    await h.pass();
    expect(expiring(key.appKey).mails).toHaveLength(0);

    h.advance(7 * DAY); // 13 days left
    const first = await h.pass();
    expect(first.errors).toEqual([]);
    const sent = expiring(key.appKey);
    expect(sent.mails.map((mail) => mail.to)).toEqual([["ops@acme.test"]]);
    expect(sent.mails[0]?.subject).toBe(
      `[latchkey] API key "nightly export" (${key.appKey}) expires in 13 days`,
    );
    expect(sent.mails[0]?.text).toContain("KEY_EXPIRED");
    expect(sent.hooks).toHaveLength(1);
    const delivery = sent.hooks[0];
    // Signed with the webhook's secret (the receiver checks it as a real one would).
    expect(delivery?.verified).toBe(true);
    expect(delivery?.json.data).toMatchObject({
      key: { appKey: key.appKey, name: "nightly export" },
      expiresAt: at(13),
      daysLeft: 13,
    });
    // No secret travels with the notice.
    for (const mail of h.smtp.mails) expect(mail.raw).not.toContain(key.appToken);
    for (const hook of h.hooks.deliveries) expect(hook.body).not.toContain(key.appToken);
    expect(expiring(never.appKey).mails).toHaveLength(0);

    // Later passes, by this notifier or another instance's, say nothing more about the same expiry.
    await h.pass();
    h.advance(DAY);
    await h.notifier().runPass();
    expect(expiring(key.appKey).mails).toHaveLength(1);
    expect(expiring(key.appKey).hooks).toHaveLength(1);

    // A new expiry 30 days out: quiet until it comes within 14 days, then announced once more.
    const patched = await h.request("PATCH", `/v1/accounts/acme/keys/${key.appKey}`, {
      body: { expiresAt: at(30) },
    });
    expect(patched.status).toBe(200);
    await h.pass();
    expect(expiring(key.appKey).mails).toHaveLength(1);
    h.advance(20 * DAY); // 10 days left
    await h.pass();
    await h.pass();
    const again = expiring(key.appKey);
    expect(again.mails).toHaveLength(2);
    expect(again.mails[1]?.subject).toMatch(/expires in 10 days$/);
    expect(again.hooks).toHaveLength(2);
    expect(again.hooks[1]?.json.data).toMatchObject({ daysLeft: 10 });
  }, 60_000);

  it("does not announce an inactive key, nor one already expired", async () => {
    const inactive = await createExpiring("paused", 5);
    const expired = await createExpiring("gone", 1);
    const off = await h.request("PATCH", `/v1/accounts/acme/keys/${inactive.appKey}`, {
      body: { active: false },
    });
    expect(off.status).toBe(200);
    h.advance(2 * DAY);
    await h.pass();
    expect(expiring(inactive.appKey).mails).toHaveLength(0);
    expect(expiring(expired.appKey).mails).toHaveLength(0);
    expect(expiring(expired.appKey).hooks).toHaveLength(0);
  });
});
