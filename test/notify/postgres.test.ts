/**
 * The races that matter between server instances, on PostgreSQL where transactions really run at
 * the same time: several passes at once announce, deactivate and deliver everything exactly once.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createNotifyHarness, DAY, type NotifyHarness } from "./support.js";

let h: NotifyHarness;

beforeEach(async () => {
  h = await createNotifyHarness("postgres");
  for (const name of ["a", "b", "c", "d"]) await h.createKey(name);
});
afterEach(() => h.close());

const passes = (n: number) => Promise.all(Array.from({ length: n }, () => h.notifier().runPass()));

describe("concurrent passes on PostgreSQL", () => {
  it("announce each alert once and deliver each notification once", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test"], webhook: true });
    h.advance(95 * DAY);
    const summaries = await passes(4);
    expect(summaries.reduce((sum, s) => sum + s.alerts, 0)).toBe(5);
    expect(summaries.reduce((sum, s) => sum + s.deliveries.sent, 0)).toBe(10);
    expect(h.smtp.mails).toHaveLength(5);
    expect(h.hooks.deliveries).toHaveLength(5);
    expect(await h.audit("notification.sent")).toHaveLength(10);
  });

  it("deactivate each key once", async () => {
    await h.configure({ notifyEmails: ["ops@acme.test"], deactivateUnusedDays: 30, maxTokenAgeDays: 30 });
    h.advance(31 * DAY);
    const summaries = await passes(4);
    expect(summaries.reduce((sum, s) => sum + s.deactivated, 0)).toBe(5);
    expect(await h.audit("key.deactivated_by_policy")).toHaveLength(5);
    expect(h.smtp.mails).toHaveLength(5);
  });
});
