/**
 * The admin UI's only way to the server: the public /v1 API, with the session cookie and the CSRF
 * token (from the lk_csrf cookie) on every state-changing call. Errors arrive as problem+json and
 * become ApiError, whose message is the server's precise detail. Calls go through the typed client
 * generated from the OpenAPI document (src/client), whose types the pages use too.
 */
import { createLatchkeyClient, type paths } from "../../src/client/client";

export type {
  AccountAccess,
  ApiKeySettings,
  AuditChainCheck,
  AuditEvent,
  AuditPage,
  BulkKeyResults,
  ExternalKey,
  ExternalKeyRequest,
  Invitation,
  IssuedInvitation,
  IssuedKey,
  Key,
  KeyImportResult,
  KeyPage,
  KeyUsage,
  Me,
  Resource,
  Role,
  RoleRef,
  ShareLinkStatus,
  TestNotificationResult,
  User,
} from "../../src/client/client";

/** The body of a call's answer; error statuses never reach it (`send` throws ApiError). */
export { ok } from "../../src/client/client";

/** GET …/keys query parameters. */
export type KeyListQuery = NonNullable<paths["/v1/accounts/{account}/keys"]["get"]["parameters"]["query"]>;

/** The body of PUT …/settings/api-keys. */
export type ApiKeySettingsInput =
  paths["/v1/accounts/{account}/settings/api-keys"]["put"]["requestBody"]["content"]["application/json"];

/** GET …/audit query parameters. */
export type AuditListQuery = NonNullable<paths["/v1/accounts/{account}/audit"]["get"]["parameters"]["query"]>;

/** One invalid field of a 400 VALIDATION_FAILED: `path` names it (`ipAllowlist.3`, `expiresAt`). */
export interface FieldProblem {
  path: string;
  message: string;
}

export interface Problem {
  status: number;
  code: string;
  title: string;
  detail: string;
  requestId?: string;
  errors?: FieldProblem[];
  /** Members a code adds (KEY_LIFETIME_EXCEEDED's `latest`, …). */
  [extension: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;
  /** The fields a 400 names; empty for other errors. */
  readonly errors: readonly FieldProblem[];
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ApiError";
    this.status = problem.status;
    this.code = problem.code;
    this.requestId = problem.requestId;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
  }
}

/** Listeners learn when the server stops accepting the session (expired or signed out elsewhere). */
const expiredListeners = new Set<() => void>();
export function onSessionExpired(listener: () => void): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)lk_csrf=([^;]+)/);
  return match?.[1] ? decodeURIComponent(match[1]) : "";
}

type Query = Record<string, unknown>;

/** Query parameters without the empty ones (unset filters), in the order given. */
function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  return params.toString();
}

export function withQuery(path: string, query: Query = {}): string {
  const text = queryString(query);
  return text ? `${path}?${text}` : path;
}

async function problemOf(response: Response): Promise<Problem> {
  const fallback = {
    status: response.status,
    code: `HTTP_${response.status}`,
    title: response.statusText || "Request failed",
    detail: `The server answered ${response.status} ${response.statusText}`.trim(),
  };
  try {
    const body = (await response.json()) as Partial<Problem>;
    return { ...fallback, ...body, status: response.status };
  } catch {
    return fallback;
  }
}

/**
 * Sends one call of the client with the CSRF token; resolves to the response when it is a 2xx,
 * throws ApiError otherwise.
 */
async function send(request: Request): Promise<Response> {
  if (request.method !== "GET") request.headers.set("x-csrf-token", csrfToken());
  let response: Response;
  try {
    response = await fetch(request);
  } catch {
    throw new ApiError({
      status: 0,
      code: "NETWORK",
      title: "Network error",
      detail: "The server could not be reached. Check your connection and try again.",
    });
  }
  if (!response.ok) {
    const problem = await problemOf(response);
    if (response.status === 401 && new URL(request.url).pathname !== "/v1/auth/login")
      for (const listener of expiredListeners) listener();
    throw new ApiError(problem);
  }
  return response;
}

/** The typed /v1 client (src/client), with the session cookie; an error status throws ApiError. */
export const client = createLatchkeyClient({
  baseUrl: globalThis.location?.origin ?? "",
  credentials: "same-origin",
  fetch: send,
  querySerializer: queryString,
});

/** `/v1/accounts/{account}` + rest, with every segment encoded. */
export function accountPath(account: string, ...rest: string[]): string {
  return ["/v1/accounts", account, ...rest]
    .map((part, i) => (i === 0 ? part : encodeURIComponent(part)))
    .join("/");
}

/** Human text for an error, with a 403 spelled out rather than shown as a code. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 403) return `You do not have permission to do this. ${error.message}`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
