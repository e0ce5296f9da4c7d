/**
 * The verification fast paths: `/v1/authorize` and `/v1/verify` answered straight from node:http,
 * ahead of the web framework, because a gateway sends one `/v1/authorize` per API call of every
 * integration, and a service without a gateway one `/v1/verify`. Each makes the same decision as its
 * Hono route (forward-auth.ts; routes/verify.ts `verifyRequestOf` and `verifyResult`) and answers
 * with the same status, headers and body. Every fault is logged, as the application logs its own.
 *
 * `/v1/authorize` has no log line per request (metrics count them). `/v1/verify` logs the
 * application's line ("request", with the request id it answers with).
 *
 * `/v1/verify` is taken only for the plain case: `POST /v1/verify`, a JSON content type and a
 * Content-Length of at most 16 KiB. The body is read here; when it is anything but a valid request
 * (not JSON, a field the schema refuses, an unknown resource, a `clientIp` from an untrusted
 * caller) the request goes on to the application with the body already read, which answers the
 * precise 400 as it always does. So the fast path never words an error of its own.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Catalog } from "../core/catalog.js";
import { AppError } from "../core/errors.js";
import type { Decision } from "../core/verification.js";
import type { Verifier } from "../services/index.js";
import { requestIdOf } from "./app.js";
import { authorize, clientAddress, type ForwardAuthAnswer, type ForwardAuthDeps } from "./forward-auth.js";
import { problemBody } from "./problem.js";
import { VerifyBody, verifyRequestOf, verifyResult } from "./routes/verify.js";

export interface FastPathOptions {
  verifier: Verifier;
  catalog: Catalog;
  trustProxy: boolean;
  logger: Pick<Logger, "error" | "info">;
  /** VERIFY_TRUSTED_PROXIES: callers that may name the end client (`clientIp`). */
  verifyTrustedProxies?: readonly string[];
  /**
   * The application, for a `/v1/verify` whose body the fast path read but does not answer. Without
   * it `/v1/verify` is left to the caller of `fastPath` (false).
   */
  application?: RequestListener;
}

/** The largest `/v1/verify` body read here; larger ones (never a valid request) go to the application. */
const VERIFY_BODY_MAX = 16 * 1024;
const JSON_TYPE = /^application\/([a-z.+-]*\+)?json\b/i;

export function createFastPath(options: FastPathOptions) {
  const { trustProxy, logger, application } = options;
  const deps: ForwardAuthDeps = {
    verifier: options.verifier,
    catalog: options.catalog,
    onFault: (error) =>
      logger.error({ err: error, path: "/v1/authorize" }, "credentials could not be checked"),
  };
  const verifyRequest = verifyRequestOf(options.catalog, options.verifyTrustedProxies ?? []);

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

  function addressOf(req: IncomingMessage, header: (name: string) => string | undefined) {
    return clientAddress(
      trustProxy ? header("x-forwarded-for") : undefined,
      req.socket.remoteAddress,
      trustProxy,
    );
  }

  /** Handles the request and returns true when it is one of the fast paths'; false otherwise. */
  return function fastPath(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url;
    if (url === undefined) return false;
    const headers = req.headers;
    const header = (name: string) => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    if (url === "/v1/verify" && application !== undefined) return verifyFast(req, res, header);
    if (!url.startsWith("/v1/authorize") || (url.length > 13 && url[13] !== "?")) return false;
    const ip = addressOf(req, header);
    // A body, if any, is never read: drain it so the connection can be reused.
    if (headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined) req.resume();
    // `authorize` answers a fault itself (503 UNAVAILABLE, logged): its promise never rejects.
    const answer = authorize(deps, header, ip);
    if (answer instanceof Promise) void answer.then((value) => send(res, value));
    else send(res, answer);
    return true;
  };

  function verifyFast(
    req: IncomingMessage,
    res: ServerResponse,
    header: (name: string) => string | undefined,
  ): boolean {
    const length = Number(header("content-length") ?? Number.NaN);
    if (
      req.method !== "POST" ||
      !(length > 0 && length <= VERIFY_BODY_MAX) ||
      header("transfer-encoding") !== undefined ||
      !JSON_TYPE.test(header("content-type") ?? "")
    ) {
      return false;
    }
    const started = performance.now();
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      try {
        answerVerify(req, res, header, body, started);
      } catch (error) {
        // Nothing above throws but a bug: the application answers (and logs) instead.
        logger.error(
          { err: error, path: "/v1/verify" },
          "verify fast path failed; answered by the application",
        );
        handOver(req, res, body);
      }
    });
    // A client that goes away mid-body: nobody reads an answer. The application logs it at info.
    req.on("aborted", () => logger.info({ method: "POST", path: "/v1/verify" }, "client closed the request"));
    return true;
  }

  /** The request, its body read, goes to the application as if the fast path had not been there. */
  function handOver(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    // @hono/node-server reads a body already read from `rawBody`.
    (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
    void (application as RequestListener)(req, res);
  }

  function answerVerify(
    req: IncomingMessage,
    res: ServerResponse,
    header: (name: string) => string | undefined,
    body: Buffer,
    started: number,
  ) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return handOver(req, res, body);
    }
    const valid = VerifyBody.safeParse(parsed);
    if (!valid.success) return handOver(req, res, body);
    let asked: ReturnType<typeof verifyRequest>;
    try {
      asked = verifyRequest(valid.data, addressOf(req, header), header);
    } catch (error) {
      if (error instanceof AppError) return handOver(req, res, body);
      throw error;
    }
    const requestId = requestIdOf(header("x-request-id"));
    const done = (decision: Decision) => reply(res, requestId, started, decision);
    const failed = (error: unknown) => {
      logger.error({ err: error, requestId }, "credentials could not be checked");
      problemReply(
        res,
        requestId,
        started,
        "UNAVAILABLE",
        "Credentials could not be checked now; retry shortly",
      );
    };
    let decision: ReturnType<Verifier["verify"]>;
    try {
      decision = options.verifier.verify(asked);
    } catch (error) {
      return failed(error);
    }
    if (decision instanceof Promise) decision.then(done, failed);
    else done(decision);
  }

  function reply(res: ServerResponse, requestId: string, started: number, decision: Decision) {
    if (decision.code === "RATE_LIMITED") {
      const { retryAfter } = decision;
      const detail = `Too many failed authentications; retry in ${retryAfter} s`;
      return problemReply(res, requestId, started, "RATE_LIMITED", detail, retryAfter);
    }
    const text = JSON.stringify(verifyResult(decision));
    res.writeHead(200, [
      "cache-control",
      "no-store",
      "content-type",
      "application/json",
      "x-request-id",
      requestId,
      "content-length",
      String(Buffer.byteLength(text)),
    ]);
    res.end(text);
    logged(requestId, started, 200);
  }

  function problemReply(
    res: ServerResponse,
    requestId: string,
    started: number,
    code: "RATE_LIMITED" | "UNAVAILABLE",
    detail: string,
    retryAfter?: number,
  ) {
    // The application's problem for these codes: Retry-After as a header only.
    const problem = problemBody(code, detail, requestId);
    const text = JSON.stringify(problem);
    const list = [
      "cache-control",
      "no-store",
      "content-type",
      "application/problem+json",
      "x-request-id",
      requestId,
      "content-length",
      String(Buffer.byteLength(text)),
    ];
    if (retryAfter !== undefined) list.push("retry-after", String(retryAfter));
    res.writeHead(problem.status, list);
    res.end(text);
    logged(requestId, started, problem.status);
  }

  function logged(requestId: string, started: number, status: number) {
    const ms = +(performance.now() - started).toFixed(2);
    logger.info({ requestId, method: "POST", path: "/v1/verify", ms, status }, "request");
  }
}
