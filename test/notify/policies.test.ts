import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SYSTEM_AUTHORITY } from "../../src/services/authority.js";
import { appKeyOf, createNotifyHarness, DAY, type NotifyHarness } from "./support.js";

let h: NotifyHarness;

beforeEach(async () => {
  h = await createNotifyHarness();
});
afterEach(() => h.close());

async function activeOf(appKey: string): Promise<boolean | undefined> {
  return (await h.store.keys.getByAppKey(appKey))?.active;
}

describe("policies", () => {
  it("are off by default: old, unused keys stay active", async () => {
    await h.createKey("idle");
    await h.configure({ notifyEmails: ["ops@acme.test"] });
    h.advance(400 * DAY);
    expect(await h.pass()).toMatchObject({ deactivated: 0 });
    expect((await h.keys()).every((key) => key.active)).toBe(true);
  });

  it("deactivates keys unused for N days, with an audit event and notifications", async () => {
    const idle = await h.createKey("idle");
    h.advance(10 * DAY);
    const fresh = await h.createKey("fresh");
    await h.configure({ notifyEmails: ["ops@acme.test"], webhook: true, deactivateUnusedDays: 30 });
    h.advance(25 * DAY);

    // The bootstrap key is unused too.
    expect(await h.pass()).toMatchObject({ deactivated: 2, enqueued: 4, deliveries: { sent: 4 } });
    expect(await activeOf(idle.appKey)).toBe(false);
    expect(await activeOf(fresh.appKey)).toBe(true);

    const events = await h.audit("key.deactivated_by_policy");
    const event = events.find((e) => e.targetId === idle.appKey);
    expect(events).toHaveLength(2);
    expect(event).toMatchObject({ actorType: "system", actorId: "system", targetType: "key" });
    expect(event?.data).toMatchObject({
      policy: "deactivateUnusedDays",
      days: 30,
      before: { active: true },
      after: { active: false },
      lastUsedAt: null,
    });

    const mail = h.smtp.mails.find((m) => m.subject.includes(idle.appKey));
    expect(mail?.subject).toBe(`[latchkey] API key "idle" (${idle.appKey}) was deactivated by policy`);
    expect(mail?.text).toContain("neither used nor created in the last 30 days");
    expect(mail?.text).toContain("Last used: never");
    const hook = h.hooks.deliveries.find((d) => d.json.data.key.appKey === idle.appKey);
    expect(hook?.headers["x-latchkey-event"]).toBe("key.deactivated_by_policy");
    expect(hook?.json.data).toMatchObject({ policy: "deactivateUnusedDays", days: 30 });
    expect(hook?.verified).toBe(true);

    expect(await h.pass()).toMatchObject({ deactivated: 0, enqueued: 0 });
  });

  it("gives a reactivated key a full window before deactivating it again", async () => {
    const idle = await h.createKey("idle");
    await h.configure({ notifyEmails: ["ops@acme.test"], deactivateUnusedDays: 30 });
    h.advance(31 * DAY);
    await h.pass();
    expect(await activeOf(idle.appKey)).toBe(false);

    await h.services.keys.update(SYSTEM_AUTHORITY, "acme", idle.appKey, { active: true });
    h.advance(20 * DAY);
    expect(await h.pass()).toMatchObject({ deactivated: 0 });
    expect(await activeOf(idle.appKey)).toBe(true);
    h.advance(11 * DAY);
    expect(await h.pass()).toMatchObject({ deactivated: 1 });
    expect(await activeOf(idle.appKey)).toBe(false);
    const notices = (await h.notifications()).filter((n) => appKeyOf(n) === idle.appKey);
    expect(notices).toHaveLength(2);
  });

  it("deactivates keys whose token is older than the maximum age; a renewal spares a key", async () => {
    const old = await h.createKey("old");
    const renewed = await h.createKey("renewed");
    await h.configure({ notifyEmails: ["ops@acme.test"], maxTokenAgeDays: 100 });
    h.advance(50 * DAY);
    await h.renew(renewed.appKey);
    h.advance(49 * DAY);
    expect(await h.pass()).toMatchObject({ deactivated: 0 });
    h.advance(2 * DAY);

    expect(await h.pass()).toMatchObject({ deactivated: 2, enqueued: 2 });
    expect(await activeOf(old.appKey)).toBe(false);
    expect(await activeOf(renewed.appKey)).toBe(true);
    const event = (await h.audit("key.deactivated_by_policy")).find((e) => e.targetId === old.appKey);
    expect(event?.data).toMatchObject({ policy: "maxTokenAgeDays", days: 100 });
    const mail = h.smtp.mails.find((m) => m.subject.includes(old.appKey) && m.subject.endsWith("policy"));
    expect(mail?.text).toContain("its token is older than 100 days");
    expect(mail?.text).toContain("Token age: 101 days");
  });

  it("deactivates even with no recipient, and notifies nobody", async () => {
    const idle = await h.createKey("idle");
    await h.configure({ maxTokenAgeDays: 10 });
    h.advance(11 * DAY);
    expect(await h.pass()).toMatchObject({ deactivated: 2, enqueued: 0 });
    expect(await activeOf(idle.appKey)).toBe(false);
  });

  it("deactivates each key once when two instances run at the same time", async () => {
    for (const name of ["a", "b", "c"]) await h.createKey(name);
    await h.configure({ notifyEmails: ["ops@acme.test"], deactivateUnusedDays: 30, maxTokenAgeDays: 30 });
    h.advance(31 * DAY);
    const [one, two] = await Promise.all([h.notifier().runPass(), h.notifier().runPass()]);
    expect((one?.deactivated ?? 0) + (two?.deactivated ?? 0)).toBe(4);
    expect(await h.audit("key.deactivated_by_policy")).toHaveLength(4);
    expect(await h.notifications()).toHaveLength(4);
    expect(h.smtp.mails).toHaveLength(4);
  });
});
