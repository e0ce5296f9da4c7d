/**
 * The admin UI's only way to the server: the public /v1 API, with the session cookie and the CSRF
 * token (from the lk_csrf cookie) on every state-changing call. Errors arrive as problem+json and
 * become ApiError, whose message is the server's precise detail.
 */

export interface Problem {
  status: number;
  code: string;
  title: string;
  detail: string;
  requestId?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;

  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ApiError";
    this.status = problem.status;
    this.code = problem.code;
    this.requestId = problem.requestId;
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

type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
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

/** Sends the call; resolves to the response when it is a 2xx, throws ApiError otherwise. */
async function send(
  method: string,
  path: string,
  body: unknown,
  extraHeaders: Record<string, string>,
): Promise<Response> {
  const headers: Record<string, string> = { ...extraHeaders, accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = csrfToken();
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
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
    if (response.status === 401 && path !== "/v1/auth/login")
      for (const listener of expiredListeners) listener();
    throw new ApiError(problem);
  }
  return response;
}

async function bodyOf<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("content-type") ?? "";
  return (type.includes("json") ? await response.json() : await response.text()) as T;
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  return bodyOf<T>(await send(method, path, body, {}));
}

/**
 * Like `request`, with extra request headers (If-Match, say) and the response's headers (its ETag,
 * say) alongside the body.
 */
export async function requestWithHeaders<T>(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ body: T; headers: Headers }> {
  const response = await send(method, path, options.body, options.headers ?? {});
  return { body: await bodyOf<T>(response), headers: response.headers };
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>("GET", withQuery(path, query)),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body),
  put: <T>(path: string, body?: unknown) => request<T>("PUT", path, body),
  patch: <T>(path: string, body?: unknown) => request<T>("PATCH", path, body),
  del: <T = void>(path: string, body?: unknown) => request<T>("DELETE", path, body),
};

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
