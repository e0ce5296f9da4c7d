/**
 * For tests that run several latchkeys over one database and time how a change travels between
 * them: one way to ask an instance (in process through `app.request`, or over HTTP), the forward-auth
 * call and the cache-miss count they read, a poll with a deadline, and a logger that keeps its lines.
 */
import { Writable } from "node:stream";
import { createLogger } from "../../src/log.js";

/** How a test reaches one instance. */
export type Ask = (path: string, init?: RequestInit) => Promise<Response>;

/** An instance built in this process (`composeLatchkey`). */
export const inProcess =
  (app: { request(path: string, init?: RequestInit): Response | Promise<Response> }): Ask =>
  async (path, init) =>
    app.request(path, init);

/** A running server (`serve`). */
export const overHttp =
  (url: string): Ask =>
  (path, init) =>
    fetch(`${url}${path}`, init);

/** The status of a forward-auth check of `key` reading an order (OMS read). */
export async function authorizeStatus(ask: Ask, key: { appKey: string; appToken: string }): Promise<number> {
  const res = await ask("/v1/authorize", {
    headers: {
      "x-api-appkey": key.appKey,
      "x-api-apptoken": key.appToken,
      "x-original-method": "GET",
      "x-original-uri": "/api/oms/pvt/orders/42",
    },
  });
  await res.arrayBuffer();
  return res.status;
}

/** The instance's count of verifications its key cache could not answer. */
export async function cacheMisses(ask: Ask): Promise<number> {
  const text = await (await ask("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith('latchkey_key_cache_requests_total{result="miss"}'));
  return Number(line?.split(" ").at(-1) ?? 0);
}

/** Milliseconds until `check` holds, polling every 10 ms, or -1 after `withinMs`. */
export async function timeUntil(check: () => Promise<boolean>, withinMs = 3000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < withinMs) {
    if (await check()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return -1;
}

/** A debug logger whose lines are kept in `lines`. */
export function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}
