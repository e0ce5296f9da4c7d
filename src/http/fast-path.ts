/**
 * The forward-auth fast path: `/v1/authorize` answered straight from node:http, ahead of the web
 * framework, because a gateway sends one of these per API call of every integration. It makes the
 * same decision as the Hono route (both call forward-auth.ts) and answers with an empty body.
 * No log line per request (metrics count them), but every fault is logged, as the application logs
 * its own; everything else goes to the full application.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Catalog } from "../core/catalog.js";
import type { Verifier } from "../services/index.js";
import { authorize, clientAddress, type ForwardAuthAnswer, type ForwardAuthDeps } from "./forward-auth.js";

export interface FastPathOptions {
  verifier: Verifier;
  catalog: Catalog;
  trustProxy: boolean;
  logger: Pick<Logger, "error">;
}

export function createFastPath(options: FastPathOptions) {
  const { trustProxy, logger } = options;
  const deps: ForwardAuthDeps = {
    verifier: options.verifier,
    catalog: options.catalog,
    onFault: (error) =>
      logger.error({ err: error, path: "/v1/authorize" }, "credentials could not be checked"),
  };

  function send(res: ServerResponse, answer: ForwardAuthAnswer) {
    // A flat [name, value, …] list (node:http takes one): spreading the answer's headers into a new
    // object with two more was a few microseconds per request, more than the rest of `send`.
    const list: string[] = [];
    const headers = answer.headers;
    for (const name in headers) list.push(name, headers[name] as string);
    list.push("content-length", "0", "cache-control", "no-store");
    res.writeHead(answer.status, list);
    res.end();
  }

  /** Handles the request and returns true when it is a forward-auth subrequest; false otherwise. */
  return function fastPath(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url;
    if (url === undefined || !url.startsWith("/v1/authorize") || (url.length > 13 && url[13] !== "?"))
      return false;
    const headers = req.headers;
    const header = (name: string) => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const ip = clientAddress(
      trustProxy ? header("x-forwarded-for") : undefined,
      req.socket.remoteAddress,
      trustProxy,
    );
    // A body, if any, is never read: drain it so the connection can be reused.
    if (headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined) req.resume();
    // `authorize` answers a fault itself (503 UNAVAILABLE, logged): its promise never rejects.
    const answer = authorize(deps, header, ip);
    if (answer instanceof Promise) void answer.then((value) => send(res, value));
    else send(res, answer);
    return true;
  };
}
