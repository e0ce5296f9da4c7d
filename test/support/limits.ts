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

/**
 * Wraps every Store method with a counter: the store's own functions (transaction, ping, ...) and the
 * methods of each of its repositories. A call counts once, not again for the methods it calls in
 * turn; `restore` puts them back.
 */
export function countStoreCalls(store: object): { count: () => number; restore: () => void } {
  let calls = 0;
  let depth = 0;
  const restores: (() => void)[] = [];
  const wrap = (owner: object, name: string, method: (...a: unknown[]) => unknown) => {
    const target = owner as Record<string, unknown>;
    const own = Object.getOwnPropertyDescriptor(target, name);
    target[name] = (...args: unknown[]) => {
      if (depth === 0) calls += 1;
      depth += 1;
      try {
        return method.apply(owner, args);
      } finally {
        depth -= 1;
      }
    };
    restores.push(() => {
      if (own) Object.defineProperty(target, name, own);
      else delete target[name];
    });
  };
  for (const [name, value] of Object.entries(store)) {
    if (typeof value === "function") {
      wrap(store, name, value as (...a: unknown[]) => unknown);
    } else if (typeof value === "object" && value !== null) {
      const repository = value as Record<string, unknown>;
      for (let proto = Object.getPrototypeOf(repository); proto && proto !== Object.prototype; ) {
        for (const name of Object.getOwnPropertyNames(proto)) {
          if (name === "constructor" || Object.hasOwn(repository, name)) continue;
          const method = Object.getOwnPropertyDescriptor(proto, name)?.value;
          if (typeof method === "function") wrap(repository, name, method as (...a: unknown[]) => unknown);
        }
        proto = Object.getPrototypeOf(proto);
      }
    }
  }
  return {
    count: () => calls,
    restore: () => {
      for (const undo of restores) undo();
    },
  };
}
