/**
 * The HTTP client of the remote commands: every call goes through latchkey's public API, so the
 * server applies permissions and writes the audit trail exactly as for any other caller.
 *
 * Secrets: the appToken travels only in the `X-API-AppToken` header of each request. It is never
 * put in a URL, an error message or any output; errors carry the server's problem `code` and
 * `detail` (which never contain a token) or, for transport failures, the address and a system
 * error code only.
 */

import { createLatchkeyClient, type LatchkeyClient } from "../client/client.js";
import { ACCOUNT_NAME_PATTERN } from "../core/names.js";
import { UsageError } from "./output.js";

/** The body of a call's answer; error statuses never reach it (the client throws ApiError). */
export { ok } from "../client/client.js";

export interface Connection {
  /** Base URL of the server, e.g. `https://latchkey.example.com` (a path prefix is kept). */
  url: string;
  appKey: string;
  appToken: string;
}

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;
export type Query = Record<string, string | number | undefined>;

/** The server answered with an error status: the problem+json `code`, `detail` and request id. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly requestId: string | undefined,
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

/** The request did not get an answer (refused, unreachable, timed out, cut off mid-download). */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = "TransportError";
  }
}

export interface Client {
  readonly baseUrl: string;
  /**
   * The typed client of the /v1 API (src/client): an error status throws ApiError, and a request
   * that gets no answer TransportError, so `data` is there whenever a call returns.
   */
  readonly api: LatchkeyClient;
  /** GET a file: the response is returned as soon as its headers are in, its body unread. */
  download(path: string, query?: Query): Promise<Response>;
}

/** Options left out are no parameter at all (not an `undefined` one). */
export function compact<T extends Record<string, unknown>>(
  values: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** `api\`/v1/accounts/${account}/keys/${appKey}\``: every interpolated value is one encoded segment. */
export function api(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  return strings.reduce(
    (path, part, index) =>
      index === 0 ? part : `${path}${encodeURIComponent(String(values[index - 1]))}${part}`,
    "",
  );
}

const KEY_SHAPE = new RegExp(`^[a-z][a-z0-9]{1,19}-(${ACCOUNT_NAME_PATTERN})-[A-Z]{6}$`);

/** The account an appKey was generated in (`{prefix}-{account}-{SUFFIX}`), when it has that shape. */
export function accountOfAppKey(appKey: string): string | undefined {
  return KEY_SHAPE.exec(appKey)?.[1];
}

/** Checks a base URL given by the operator. */
export function parseBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`the server URL is not a URL: ${raw}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError(`the server URL must be http or https: ${raw}`);
  if (url.username || url.password) throw new UsageError("the server URL must not hold credentials");
  if (url.search || url.hash) throw new UsageError("the server URL must not have a query or fragment");
  return url;
}

/** Plain http is fine on this machine; anywhere else it would carry the appToken in clear. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const DEFAULT_TIMEOUT_MS = 60_000;
const USER_AGENT = "latchkey-cli";

export function createClient(
  connection: Connection,
  fetchImpl: Fetch = fetch,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Client {
  const base = parseBaseUrl(connection.url);
  // A path prefix (a server behind a proxy at /latchkey) is kept; the trailing slash is dropped.
  const baseUrl = `${base.origin}${base.pathname.replace(/\/+$/, "")}`;
  const headers = {
    "x-api-appkey": connection.appKey,
    "x-api-apptoken": connection.appToken,
    "user-agent": USER_AGENT,
  };

  function urlOf(path: string, query: Query = {}): string {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) search.set(name, String(value));
    const text = search.toString();
    return `${baseUrl}${path}${text ? `?${text}` : ""}`;
  }

  async function call(url: string, init: RequestInit, timeout: number | undefined): Promise<Response> {
    let response: Response;
    try {
      response = await fetchImpl(url, {
        ...init,
        ...(timeout === undefined ? {} : { signal: AbortSignal.timeout(timeout) }),
      });
    } catch (error) {
      throw transportError(error, baseUrl, timeout);
    }
    if (!response.ok) throw await problemOf(response);
    return response;
  }

  /** openapi-fetch's requests, sent through `fetchImpl` as a URL and init, with the timeout. */
  async function send(request: Request): Promise<Response> {
    const init: RequestInit = { method: request.method, headers: Object.fromEntries(request.headers) };
    if (request.body !== null) init.body = await request.text();
    return call(request.url, init, timeoutMs);
  }

  return {
    baseUrl,
    api: createLatchkeyClient({
      baseUrl,
      key: { appKey: connection.appKey, appToken: connection.appToken },
      headers: { "user-agent": USER_AGENT },
      fetch: send,
    }),
    // A large export may take longer than any fixed limit: no timeout once the download runs.
    download: (path, query) => call(urlOf(path, query), { headers }, undefined),
  };
}

/** An error status as an ApiError; a body that is not a problem document is not echoed. */
async function problemOf(response: Response): Promise<ApiError> {
  const requestId = response.headers.get("x-request-id") ?? undefined;
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    body = undefined;
  }
  if (typeof body === "object" && body !== null && "code" in body && typeof body.code === "string") {
    const detail = "detail" in body && typeof body.detail === "string" ? body.detail : body.code;
    const id = "requestId" in body && typeof body.requestId === "string" ? body.requestId : requestId;
    return new ApiError(response.status, body.code, detail, id);
  }
  const reason = response.statusText || "the server answered with an error";
  return new ApiError(response.status, `HTTP_${response.status}`, reason, requestId);
}

function transportError(error: unknown, baseUrl: string, timeout: number | undefined): TransportError {
  if (error instanceof DOMException && error.name === "TimeoutError")
    return new TransportError("TIMEOUT", `no answer from ${baseUrl} within ${(timeout ?? 0) / 1000} s`);
  const cause = error instanceof Error ? error.cause : undefined;
  const reason =
    cause instanceof Error
      ? (("code" in cause && typeof cause.code === "string" ? cause.code : undefined) ?? cause.message)
      : error instanceof Error
        ? error.message
        : "failed";
  return new TransportError("CONNECTION_FAILED", `cannot reach ${baseUrl}: ${reason}`);
}
