/**
 * The typed client of latchkey's /v1 API: openapi-fetch over the types generated from the OpenAPI
 * document (openapi.ts). Paths, parameters, bodies and answers are checked by TypeScript against
 * the API the server serves.
 *
 * Secrets: the appToken goes only into the `X-API-AppToken` header of each request, never into a
 * URL. It runs in any fetch runtime (Node 20+, browsers); nothing here needs Node's own modules.
 */
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { components, paths } from "./openapi.js";

export type { components, paths };

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type Me = Schemas["Me"];
export type AccountAccess = Schemas["AccountAccess"];
export type RoleRef = Schemas["RoleRef"];
export type Invitation = Schemas["Invitation"];
export type IssuedInvitation = Schemas["IssuedInvitation"];
export type Resource = Schemas["Resource"];
export type AccessReview = Schemas["AccessReview"];
export type KeyPage = Schemas["KeyPage"];
export type Key = Schemas["Key"];
export type IssuedKey = Schemas["IssuedKey"];
export type BulkKeyResults = Schemas["BulkKeyResults"];
export type KeyImportResult = Schemas["KeyImportResult"];
export type BulkKeyResult = Schemas["BulkKeyResult"];
export type ExternalKey = Schemas["ExternalKey"];
export type ExternalKeyRequest = Schemas["ExternalKeyRequest"];
export type ApiKeySettings = Schemas["ApiKeySettings"];
export type TestNotificationResult = Schemas["TestNotificationResult"];
export type Role = Schemas["Role"];
export type User = Schemas["User"];
export type VerifyResult = Schemas["VerifyResult"];
export type KeyUsage = Schemas["KeyUsage"];
export type ShareLinkStatus = Schemas["ShareLinkStatus"];
export type AuditPage = Schemas["AuditPage"];
export type AuditEvent = Schemas["AuditEvent"];
export type AuditChainCheck = Schemas["AuditChainCheck"];

export type LatchkeyClient = Client<paths>;

/** An API key to call as: its appKey and appToken. */
export interface KeyCredentials {
  appKey: string;
  appToken: string;
}

export interface LatchkeyClientOptions extends Omit<ClientOptions, "baseUrl" | "headers"> {
  /**
   * Where latchkey answers, e.g. `https://latchkey.example.com` (a path prefix is kept); `""` for
   * the page's own origin in a browser.
   */
  baseUrl: string;
  /** Call as this key; leave out to call with a session cookie (the admin UI) or with no one. */
  key?: KeyCredentials;
  /** Sent with every request. */
  headers?: Record<string, string>;
}

/** An error status answered to a call that `ok` unwrapped. */
export class LatchkeyError extends Error {
  constructor(
    readonly status: number,
    /** latchkey's problem code (docs/errors.md), or `HTTP_{status}` for an answer that is not one. */
    readonly code: string,
    readonly problem: Problem | undefined,
  ) {
    super(problem?.detail ?? `latchkey answered ${status}`);
    this.name = "LatchkeyError";
  }
}

/**
 * The body of a call's answer, or a LatchkeyError for an error status:
 * `const keys = await ok(latchkey.GET("/v1/accounts/{account}/keys", …))`.
 */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const problem = isProblem(error) ? error : undefined;
  throw new LatchkeyError(response.status, problem?.code ?? `HTTP_${response.status}`, problem);
}

function isProblem(body: unknown): body is Problem {
  return typeof body === "object" && body !== null && "code" in body && typeof body.code === "string";
}

/** A client of the /v1 API. Every call answers `{ data }` on success, `{ error }` (a Problem) otherwise. */
export function createLatchkeyClient(options: LatchkeyClientOptions): LatchkeyClient {
  const { key, headers, ...rest } = options;
  return createClient<paths>({
    ...rest,
    headers: {
      accept: "application/json",
      ...(key ? { "x-api-appkey": key.appKey, "x-api-apptoken": key.appToken } : {}),
      ...headers,
    },
  });
}
