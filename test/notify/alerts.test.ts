import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifySignature } from "../../src/notify/signature.js";
import { SYSTEM_AUTHORITY } from "../../src/services/authority.js";
import {
  appKeyOf,
  createNotifyHarness,
  DAY,
  type NotifyHarness,
  WEBHOOK_ID,
  WEBHOOK_SECRET,
} from "./support.js";

let h: NotifyHarness;
let orders: { appKey: string; appToken: string };

beforeEach(async () => {
  h = await createNotifyHarness();
  orders = await h.createKey("orders sync");
});
afterEach(() => h.close());

const mailsFor = (appKey: string) => h.smtp.mails.filter((mail) => mail.subject.includes(appKey));
const hooksFor = (appKey: string) => h.hooks.deliveries.filter((d) => d.json.data.key.appKey === appKey);

describe("renewal alerts", () => {
  it("announces orange once per token, by email and signed webhook", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test", "sec@acme.test"], webhook: true });
    h.advance(80 * DAY);
    expect(await h.pass()).toMatchObject({ alerts: 0, enqueued: 0 });

    h.advance(15 * DAY);
    const first = await h.pass();
    // The bootstrap key and "orders sync": 2 keys x (2 emails + 1 webhook).
    expect(first).toMatchObject({ accounts: 1, alerts: 2, enqueued: 6, errors: [] });
    expect(first.deliveries).toEqual({ sent: 6, retrying: 0, failed: 0 });
    expect(
      mailsFor(orders.appKey)
        .map((mail) => mail.to)
        .sort(),
    ).toEqual([["ops@acme.test"], ["sec@acme.test"]]);
    expect(hooksFor(orders.appKey)).toHaveLength(1);

    const second = await h.pass();
    expect(second).toMatchObject({ alerts: 0, enqueued: 0, deliveries: { sent: 0, retrying: 0, failed: 0 } });
    expect(h.smtp.mails).toHaveLength(4);
    expect(h.hooks.deliveries).toHaveLength(2);
    expect((await h.keys()).every((key) => key.active)).toBe(true);
  });

  it("writes a clear email without any token", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test"] });
    h.advance(95 * DAY);
    await h.pass();
    const [mail] = mailsFor(orders.appKey);
    expect(mail?.from).toBe("no-reply@localhost");
    expect(mail?.raw).toMatch(/^From: latchkey <no-reply@localhost>/m);
    expect(mail?.subject).toBe(`[latchkey] API key "orders sync" (${orders.appKey}) needs renewal (orange)`);
    expect(mail?.text).toContain("Alert level: orange");
    expect(mail?.text).toContain("Token age: 95 days (token created 2026-11-26T10:00:00.000Z)");
    expect(mail?.text).toContain("Account: acme");
    expect(mail?.text).toContain("renewal period of 3 months");
    expect(mail?.text).toContain("http://localhost/admin");
    for (const sent of h.smtp.mails) {
      expect(sent.raw).not.toContain(orders.appToken);
      expect(sent.raw).not.toContain(h.owner.appToken);
    }
  });

  it("signs webhook deliveries; a captured delivery is refused after 5 minutes", async () => {
    await h.configure({ webhook: true });
    h.advance(95 * DAY);
    await h.pass();
    const [delivery] = hooksFor(orders.appKey);
    const notification = (await h.notifications()).find((n) => appKeyOf(n) === orders.appKey);
    expect(delivery?.verified).toBe(true);
    expect(delivery?.headers["content-type"]).toBe("application/json");
    expect(delivery?.headers["x-latchkey-event"]).toBe("key.alert.orange");
    expect(delivery?.headers["x-latchkey-delivery"]).toBe(notification?.id);
    expect(delivery?.headers["x-latchkey-signature"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(delivery?.json).toEqual({
      id: notification?.id,
      type: "key.alert.orange",
      account: "acme",
      createdAt: new Date(h.deps.clock.now()).toISOString(),
      data: expect.objectContaining({
        key: expect.objectContaining({ appKey: orders.appKey, name: "orders sync" }),
        level: "orange",
        renewalPeriodMonths: 3,
        tokenAgeDays: 95,
      }),
    });
    expect(delivery?.body).not.toContain(orders.appToken);
    expect(notification?.target).toBe(WEBHOOK_ID);

    const header = String(delivery?.headers["x-latchkey-signature"]);
    const seconds = Math.floor(h.deps.clock.now() / 1000);
    expect(verifySignature(WEBHOOK_SECRET, String(delivery?.body), header, seconds + 299)).toBe(true);
    expect(verifySignature(WEBHOOK_SECRET, String(delivery?.body), header, seconds + 301)).toBe(false);
    expect(verifySignature("another-secret", String(delivery?.body), header, seconds)).toBe(false);
  });

  it("announces red when the token is 3 months past the period, then nothing more", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test"] });
    h.advance(95 * DAY);
    await h.pass();
    h.advance(95 * DAY);
    expect(await h.pass()).toMatchObject({ alerts: 2, enqueued: 2 });
    const subjects = mailsFor(orders.appKey).map((mail) => mail.subject);
    expect(subjects).toEqual([expect.stringMatching(/\(orange\)$/), expect.stringMatching(/\(red\)$/)]);
    expect(mailsFor(orders.appKey)[1]?.text).toContain("3 or more months past the renewal period");
    expect(await h.pass()).toMatchObject({ alerts: 0, enqueued: 0 });
    expect((await h.keys()).every((key) => key.active)).toBe(true);
  });

  it("sends only red to a key found straight in red, and no orange later", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test"] });
    h.advance(190 * DAY);
    await h.pass();
    expect(mailsFor(orders.appKey).map((mail) => mail.subject)).toEqual([expect.stringMatching(/\(red\)$/)]);
    // A longer period brings the key back to orange: it was already told worse.
    await h.configure({ notifyEmails: ["ops@acme.test"], renewalPeriodMonths: 6 });
    expect(await h.pass()).toMatchObject({ alerts: 0, enqueued: 0 });
  });

  it("re-arms the alerts when the token is renewed", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test"] });
    h.advance(95 * DAY);
    await h.pass();
    await h.renew(orders.appKey);
    expect(await h.pass()).toMatchObject({ alerts: 0 });
    h.advance(60 * DAY);
    expect(await h.pass()).toMatchObject({ alerts: 0 });
    h.advance(35 * DAY);
    // The bootstrap key, never renewed, turns red meanwhile.
    expect(await h.pass()).toMatchObject({ alerts: 2, enqueued: 2 });
    expect(mailsFor(orders.appKey).map((mail) => mail.subject.slice(-8))).toEqual(["(orange)", "(orange)"]);
  });

  it("follows a 6-month renewal period", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test"], renewalPeriodMonths: 6 });
    h.advance(120 * DAY);
    expect(await h.pass()).toMatchObject({ alerts: 0 });
    h.advance(70 * DAY);
    expect(await h.pass()).toMatchObject({ alerts: 2 });
    expect(mailsFor(orders.appKey)[0]?.text).toContain("renewal period of 6 months");
    h.advance(60 * DAY);
    expect(await h.pass()).toMatchObject({ alerts: 0 });
    h.advance(35 * DAY);
    expect(await h.pass()).toMatchObject({ alerts: 2 });
    expect(mailsFor(orders.appKey).map((mail) => mail.subject.slice(-5))).toEqual(["ange)", "(red)"]);
  });

  it("scans nothing without recipients, and announces keys in alert once recipients are set", async () => {
    h.advance(95 * DAY);
    expect(await h.pass()).toMatchObject({ alerts: 0, enqueued: 0 });
    await h.configure({ notifyEmails: ["ops@acme.test"] });
    expect(await h.pass()).toMatchObject({ alerts: 2, enqueued: 2 });
  });

  it("does not announce inactive keys until they are reactivated", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test"] });
    await h.services.keys.update(SYSTEM_AUTHORITY, "acme", orders.appKey, { active: false });
    h.advance(95 * DAY);
    await h.pass();
    expect(mailsFor(orders.appKey)).toHaveLength(0);
    await h.services.keys.update(SYSTEM_AUTHORITY, "acme", orders.appKey, { active: true });
    await h.pass();
    expect(mailsFor(orders.appKey)).toHaveLength(1);
  });

  it("visits every account, each with its own recipients", async () => {
    await h.services.accounts.init({
      account: "globex",
      email: "owner@globex.test",
      password: "x".repeat(16),
    });
    await h.configure({ notifyEmails: ["ops@acme.test"] });
    await h.configure({ notifyEmails: ["ops@globex.test"] }, "globex");
    h.advance(95 * DAY);
    expect(await h.pass()).toMatchObject({ accounts: 2, alerts: 3 });
    expect(h.smtp.mails.filter((mail) => mail.to[0] === "ops@globex.test")).toHaveLength(1);
    expect(h.smtp.mails.filter((mail) => mail.to[0] === "ops@acme.test")).toHaveLength(2);
  });
});
