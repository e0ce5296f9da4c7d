/**
 * The request body limit of the application (413 past `maxSize` bytes), decided from the
 * Content-Length header whenever the request has one, without touching the body.
 *
 * Why not Hono's `bodyLimit` alone: it reads `c.req.raw.body` first, on every request, and on
 * node:http (@hono/node-server) that turns the lightweight request into a full fetch `Request`,
 * with an AbortController, a ReadableStream over the socket and undici's abort-signal bookkeeping
 * (WeakRefs and a FinalizationRegistry). V8's young-generation collections keep whatever a WeakRef
 * points to, so all of it reached the old generation and waited there for a full collection: under
 * a `POST /v1/verify` load the heap grew to 350 MB and RSS to 450 MB with 50 MB of live data
 * (bench/README.md, Soak). Read directly (`c.req.json()`), the body needs none of that.
 *
 * Over HTTP/1.1 a request without Content-Length or Transfer-Encoding has no body. A chunked body,
 * or a request that did not come through node:http (`app.request()` in tests), is still counted
 * as it streams, by Hono's middleware.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";

export interface BodyLimitOptions {
  maxSize: number;
  onError: (c: Context) => Response | Promise<Response>;
}

export function limitBody(options: BodyLimitOptions): MiddlewareHandler {
  const streamed = bodyLimit(options);
  return async (c, next) => {
    const overNodeHttp = (c.env as { incoming?: unknown } | undefined)?.incoming !== undefined;
    const length = c.req.header("content-length");
    if (c.req.header("transfer-encoding") !== undefined || (length === undefined && !overNodeHttp))
      return streamed(c, next);
    if (length !== undefined && Number.parseInt(length, 10) > options.maxSize) return options.onError(c);
    await next();
  };
}
