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
export type ExternalKey = Schemas["ExternalKey"];
export type ApiKeySettings = Schemas["ApiKeySettings"];
export type TestNotificationResult = Schemas["TestNotificationResult"];
export type Role = Schemas["Role"];
export type User = Schemas["User"];
export type VerifyResult = Schemas["VerifyResult"];
export type KeyUsage = Schemas["KeyUsage"];
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
