import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError, ERRORS, type ErrorCode } from "../core/errors.js";
import { connectionFailure } from "../services/index.js";
import type { AppEnv } from "./context.js";
import { withVtexHeaderNames } from "./vtex/headers.js";
import { isVtexPath } from "./vtex/paths.js";

/**
 * The one error mapper: AppError → RFC 9457 problem+json with a stable `code` and the request id.
 * A database that cannot be reached (down, restarting) is a 503 UNAVAILABLE the caller may retry.
 * Anything unexpected becomes a generic 500; its details go to the log only, never to the client.
 */
export function problemBody(
  code: ErrorCode,
  detail: string,
  requestId: string,
  extra: Record<string, unknown> = {},
) {
  const { status, title } = ERRORS[code];
  return { type: `urn:latchkey:error:${code}`, title, status, detail, code, requestId, ...extra };
}

/**
 * An error in VTEX's shape: `{"Message": …}`, or the body of one of the few errors VTEX words its
 * own way (VTEX ID's `{"authStatus"}`, License Manager's error codes).
 */
export function vtexErrorBody(c: Context<AppEnv>, status: number, body: Record<string, unknown>) {
  return c.body(JSON.stringify(body), status as 400, { "content-type": "application/json; charset=utf-8" });
}

export function problem(
  c: Context<AppEnv>,
  code: ErrorCode,
  detail: string = ERRORS[code].title,
  extra: Record<string, unknown> = {},
) {
  // The VTEX-compatible paths (src/http/vtex/) keep VTEX's `{"Message"}` shape and header names.
  if (isVtexPath(c.req.path)) {
    return vtexErrorBody(c, ERRORS[code].status, { Message: withVtexHeaderNames(detail) });
  }
  const body = problemBody(code, detail, c.get("requestId") ?? "unknown", extra);
  return c.body(JSON.stringify(body), body.status as 400, { "content-type": "application/problem+json" });
}

/**
 * Whether the client went away before sending its whole body (the connection is gone and the body
 * never completed): whatever the request then answers, nobody reads it, and it is no fault of ours.
 */
export function clientClosed(c: Context): boolean {
  const incoming = (
    c.env as { incoming?: { complete?: boolean; socket?: { destroyed?: boolean } } } | undefined
  )?.incoming;
  return incoming?.complete === false && incoming.socket?.destroyed === true;
}

export function onError(error: Error, c: Context<AppEnv>) {
  if (error instanceof AppError) {
    // A refusal that ends (RATE_LIMITED) says when, in seconds, as the Retry-After header too.
    if (typeof error.extra.retryAfter === "number") c.header("retry-after", String(error.extra.retryAfter));
    return problem(c, error.code, error.detail, { ...error.extra });
  }
  if (error instanceof HTTPException) {
    if (error.status === 400 || error.status === 415) return problem(c, "INVALID_JSON", error.message);
    if (error.status === 413) return problem(c, "BODY_TOO_LARGE");
  }
  // A body cut short by the client fails its read: logged once, at info, by the request log.
  if (clientClosed(c))
    return problem(c, "INVALID_JSON", "The client closed the connection before its body was complete");
  const fault = describeFault(error, c);
  return problem(c, fault.code, fault.detail);
}

/**
 * An unexpected fault (not an AppError) as the caller may see it, its details logged here: a
 * database that cannot be reached is UNAVAILABLE (retry), anything else a generic INTERNAL.
 */
export function describeFault(
  error: unknown,
  c: Context<AppEnv>,
): { code: "UNAVAILABLE" | "INTERNAL"; detail: string } {
  const failure = connectionFailure(error);
  if (failure !== null) {
    c.get("log")?.warn({ requestId: c.get("requestId"), error: failure }, "the database cannot be reached");
    return { code: "UNAVAILABLE", detail: "The database cannot be reached now; retry shortly" };
  }
  c.get("log")?.error({ err: error, requestId: c.get("requestId") }, "unhandled error");
  return { code: "INTERNAL", detail: `Something went wrong; quote request id ${c.get("requestId")}` };
}
