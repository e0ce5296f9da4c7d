/**
 * What /openapi.json says about credentials and servers, so that /docs has an Authorize button and
 * "Try it out" sends what the guard reads (credentials.ts), to the server the page came from.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Access, AppEnv } from "./context.js";
import { CSRF_COOKIE, SESSION_COOKIE } from "./credentials.js";

/** The credentials of SPEC §3, as OpenAPI security schemes (one appKey/appToken pair: both at once). */
export const SECURITY_SCHEMES = {
  appKey: {
    type: "apiKey",
    in: "header",
    name: "X-API-AppKey",
    description: "The key's appKey, with its token in X-API-AppToken. Also accepted as X-VTEX-API-AppKey.",
  },
  appToken: {
    type: "apiKey",
    in: "header",
    name: "X-API-AppToken",
    description: "The key's appToken. Also accepted as X-VTEX-API-AppToken. Never logged or echoed.",
  },
  bearer: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "A JWT from app-token login (POST /v1/auth/apptoken). Also accepted in the VtexIdclientAutCookie header.",
  },
  session: {
    type: "apiKey",
    in: "cookie",
    name: SESSION_COOKIE,
    description:
      "The admin session, set by POST /v1/auth/login (HttpOnly): a browser signed in to /admin sends it on its own.",
  },
  csrf: {
    type: "apiKey",
    in: "header",
    name: "X-CSRF-Token",
    description: `With the session, on state-changing methods: the csrfToken of sign-in (also in the ${CSRF_COOKIE} cookie).`,
  },
} as const;

const SAFE_METHODS = new Set(["get", "head", "options"]);

/** Who may call an operation, as its `security`: any one of the listed requirements. */
export function securityOf(access: Access, method: string): Record<string, string[]>[] {
  if (access === "public") return [];
  const session = SAFE_METHODS.has(method.toLowerCase()) ? { session: [] } : { session: [], csrf: [] };
  return [{ appKey: [], appToken: [] }, { bearer: [] }, session];
}

/** A 429 of the failed-authentication limiter: the problem document, and when to retry. */
export const RATE_LIMITED_RESPONSE = {
  description:
    "RATE_LIMITED: this client address is over the failure limit (RATE_LIMIT_FAILURES per RATE_LIMIT_WINDOW; for sign-in also per email, for leak reports every report counts) and these credentials do not authenticate: valid appKey/appToken pairs and JWTs are still served. Retry after Retry-After seconds.",
  headers: {
    "Retry-After": {
      description: "Seconds until the address's window ends",
      schema: { type: "integer", minimum: 1 },
    },
  },
} as const;

export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  }
}

/**
 * The servers "Try it out" calls. First the path of PUBLIC_URL, relative: it resolves against the
 * origin the document was fetched from, so /docs opened at 127.0.0.1 calls 127.0.0.1 (a call to
 * PUBLIC_URL's localhost would be another origin, which latchkey does not allow by CORS). Then
 * PUBLIC_URL itself, for tools that read the document elsewhere.
 */
export function serversOf(publicUrl: string): { url: string; description: string }[] {
  const here = { url: "/", description: "This server (the origin this document was fetched from)" };
  let parsed: URL;
  try {
    parsed = new URL(publicUrl);
  } catch {
    return [here];
  }
  const path = parsed.pathname.replace(/\/+$/, "");
  if (path) here.url = path;
  return [here, { url: `${parsed.origin}${path}`, description: "PUBLIC_URL" }];
}
