/**
 * Helpers for failure-limiter tests: requests from a chosen TCP peer address (as @hono/node-server
 * hands them to the app) and a count of every Store call, to prove that a refusal looked nothing up.
 */
import type { Credentials, Harness } from "./harness.js";

export interface Call {
  as?: Credentials;
  jwt?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON shapes
  body: any;
}

export async function requestFrom(
  h: Harness,
  ip: string,
  method: string,
  path: string,
  call: Call = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.as) {
    headers["x-api-appkey"] = call.as.appKey;
    headers["x-api-apptoken"] = call.as.appToken;
  }
  if (call.jwt !== undefined) headers.authorization = `Bearer ${call.jwt}`;
  if (call.body !== undefined) headers["content-type"] = "application/json";
  const init = { method, headers, ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }) };
  const res = await h.app.request(path, init, { incoming: { socket: { remoteAddress: ip } } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : null };
}

/** Wraps every Store method (own prototype chain) with a counter; `restore` puts them back. */
export function countStoreCalls(store: object): { count: () => number; restore: () => void } {
  let calls = 0;
  const target = store as Record<string, unknown>;
  const wrapped: string[] = [];
  for (let proto = Object.getPrototypeOf(store); proto && proto !== Object.prototype; ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = target[name];
      if (name === "constructor" || typeof method !== "function" || Object.hasOwn(target, name)) continue;
      target[name] = (...args: unknown[]) => {
        calls += 1;
        return (method as (...a: unknown[]) => unknown).apply(store, args);
      };
      wrapped.push(name);
    }
    proto = Object.getPrototypeOf(proto);
  }
  return {
    count: () => calls,
    restore: () => {
      for (const name of wrapped) delete target[name];
    },
  };
}
