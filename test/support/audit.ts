/**
 * Helpers for the audit tests: requests that carry a known client address, user agent and request
 * id, the events a piece of work appended (read below the API, so a key the work deactivates does
 * not matter), and the checks every audited action shares.
 */
import { expect } from "vitest";
import { type AuditItem, toAuditItem } from "../../src/services/audit-log.js";
import type { Harness, RequestOptions, TestResponse } from "./harness.js";

export const CLIENT = { ip: "203.0.113.7", userAgent: "latchkey-audit-test/1.0" };

export interface ActorView {
  type: string;
  id: string;
  label: string;
}

export function auditClient(h: Harness) {
  let count = 0;

  /** A request from CLIENT with a fresh request id (the harness must trust X-Forwarded-For). */
  async function call(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<TestResponse & { requestId: string }> {
    count += 1;
    const requestId = `audit-test-${count}`;
    const headers = {
      "x-forwarded-for": CLIENT.ip,
      "user-agent": CLIENT.userAgent,
      "x-request-id": requestId,
      ...options.headers,
    };
    return { ...(await h.request(method, path, { ...options, headers })), requestId };
  }

  /** The account's events appended while `work` ran, oldest first. */
  async function during(account: string, work: () => Promise<unknown>): Promise<AuditItem[]> {
    const [newest] = await h.store.audit.listEvents({ account, order: "desc", limit: 1 });
    await work();
    const events = await h.store.audit.listEvents({
      account,
      order: "asc",
      limit: 1000,
      afterSeq: newest?.seq ?? 0,
    });
    return events.map(toAuditItem);
  }

  return { call, during };
}

export interface Expected {
  action: string;
  account: string;
  actor: ActorView;
  target: { type: string; id: string } | null;
  /** The request that caused it; absent for work the system does on its own. */
  requestId?: string | null;
  at: number;
}

/** The one event `events` must hold, with its who, what, when and where; no secret anywhere in it. */
export function expectOneEvent(
  events: AuditItem[],
  expected: Expected,
  secrets: readonly string[],
): AuditItem {
  expect(events.map((event) => event.action)).toEqual([expected.action]);
  const event = events[0] as AuditItem;
  expect(event.account).toBe(expected.account);
  expect(event.actor).toEqual(expected.actor);
  expect(event.target).toEqual(expected.target);
  expect(event.at).toBe(new Date(expected.at).toISOString());
  if (expected.requestId === undefined) {
    expect(event).toMatchObject({ ip: null, userAgent: null, requestId: null });
  } else {
    expect(event).toMatchObject({
      ip: CLIENT.ip,
      userAgent: CLIENT.userAgent,
      requestId: expected.requestId,
    });
  }
  expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(event.hash).toMatch(/^[0-9a-f]{64}$/);
  expectNoSecret(events, secrets);
  return event;
}

export function expectNoSecret(value: unknown, secrets: readonly string[]): void {
  const text = JSON.stringify(value);
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThanOrEqual(8);
    expect(text).not.toContain(secret);
  }
}

function cookieValue(setCookie: string[], name: string): string {
  const cookie = setCookie.find((c) => c.startsWith(`${name}=`));
  if (!cookie) throw new Error(`no ${name} cookie`);
  return cookie.split(";")[0] as string;
}

/** Signs in and returns request options acting as that user (session cookie and CSRF header). */
export async function signIn(h: Harness, email: string, password: string): Promise<RequestOptions> {
  const res = await h.request("POST", "/v1/auth/login", { as: null, body: { email, password } });
  if (res.status !== 200) throw new Error(`sign-in ${email}: ${res.status} ${res.text}`);
  const setCookie = res.headers.getSetCookie();
  const cookie = `${cookieValue(setCookie, "lk_session")}; ${cookieValue(setCookie, "lk_csrf")}`;
  return { as: null, headers: { cookie, "x-csrf-token": res.body.csrfToken as string } };
}
