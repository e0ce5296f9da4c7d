import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { MeSchema, ResourceSchema } from "../../core/api.js";
import { fail } from "../../core/errors.js";
import type { Services } from "../../services/index.js";
import { csrfMatches } from "../../services/sessions.js";
import type { AppEnv } from "../context.js";
import { CSRF_COOKIE, SESSION_COOKIE } from "../credentials.js";
import { jsonBody, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

const tags = ["Session"];
const login = createRoute({
  method: "post",
  path: "/v1/auth/login",
  tags,
  summary: "Sign in to the admin; sets the session cookie",
  request: { body: jsonBody(z.strictObject({ email: z.string().max(254), password: z.string().max(200) })) },
  responses: {
    200: jsonResponse(
      z.object({
        user: z.object({ id: z.string(), email: z.string() }),
        csrfToken: z.string(),
        expiresAt: z.string(),
        mustChangePassword: z.boolean().meta({
          description:
            "An administrator reset the password: until it is changed (POST /v1/me/password), the " +
            "session may do nothing else (403 PASSWORD_CHANGE_REQUIRED)",
        }),
      }),
      "Signed in",
    ),
    ...problemResponses(400, 401, 429),
  },
});

const logout = createRoute({
  method: "post",
  path: "/v1/auth/logout",
  tags,
  summary: "End the session",
  description:
    "With the session cookie, the `X-CSRF-Token` from sign-in is required, as on every other " +
    "state-changing call (403 CSRF_FAILED otherwise). Without it, the cookies are cleared.",
  responses: { 204: { description: "Signed out" }, ...problemResponses(403) },
});

const me = createRoute({
  method: "get",
  path: "/v1/me",
  tags,
  summary: "Who is calling, in which accounts, with which resources",
  description:
    "`accounts` are those where the caller holds roles. A user's pending invitations are not " +
    "listed: each is answered with the code its inviting account was given (`/v1/me/invitations`).",
  responses: {
    200: jsonResponse(MeSchema, "The caller"),
    ...problemResponses(401),
  },
});

const resources = createRoute({
  method: "get",
  path: "/v1/resources",
  tags: ["Roles"],
  summary: "The resource catalog",
  responses: {
    200: jsonResponse(z.object({ items: z.array(ResourceSchema) }), "Every resource"),
    ...problemResponses(401),
  },
});

export function sessionRoutes(
  app: OpenAPIHono<AppEnv>,
  secure: Secure,
  services: Services,
  secureCookies: boolean,
) {
  const { sessions, callers, catalog } = services;
  const cookie = { path: "/", sameSite: "Lax", secure: secureCookies } as const;

  app.openapi(secure("public", login), async (c) => {
    const { email, password } = c.req.valid("json");
    const meta = {
      ip: c.get("clientIp"),
      userAgent: c.req.header("user-agent") ?? null,
      requestId: c.get("requestId"),
    };
    // Strict, unlike tokens: while the address or the email is blocked even the right password
    // gets 429, before its hash is computed. Unknown emails are counted and refused alike.
    const wait = Math.max(services.limiter.blockedFor(meta.ip), services.signInLimiter.blockedFor(email));
    if (wait > 0) fail("RATE_LIMITED", `Too many failed sign-ins; retry in ${wait} s`, { retryAfter: wait });
    const session = await sessions.login(email, password, meta);
    if (!session) {
      await Promise.all([
        services.limiter.recordFailure(meta.ip),
        services.signInLimiter.recordFailure(email),
      ]);
      fail("INVALID_LOGIN");
    }
    const maxAge = session.maxAgeSeconds;
    setCookie(c, SESSION_COOKIE, session.secret, { ...cookie, httpOnly: true, maxAge });
    setCookie(c, CSRF_COOKIE, session.csrfToken, { ...cookie, httpOnly: false, maxAge });
    const expiresAt = new Date(session.expiresAt).toISOString();
    const { user, csrfToken, mustChangePassword } = session;
    return c.json({ user, csrfToken, expiresAt, mustChangePassword }, 200);
  });

  app.openapi(secure("public", logout), async (c) => {
    const secret = getCookie(c, SESSION_COOKIE);
    if (secret) {
      // Another site must not end the session either: the same CSRF check as every change.
      if (!csrfMatches(secret, c.req.header("x-csrf-token") ?? "")) {
        fail("CSRF_FAILED", "Send the CSRF token from sign-in in the X-CSRF-Token header");
      }
      await sessions.logout(secret);
    }
    deleteCookie(c, SESSION_COOKIE, cookie);
    deleteCookie(c, CSRF_COOKIE, cookie);
    return c.body(null, 204);
  });

  app.openapi(secure("authenticated", me), async (c) => {
    const caller = c.get("caller");
    const described = await callers.describe(caller.principal);
    if (caller.via !== "session" || described.principal.type !== "user") return c.json(described, 200);
    const principal = { ...described.principal, mustChangePassword: caller.mustChangePassword === true };
    return c.json({ ...described, principal }, 200);
  });

  app.openapi(secure("authenticated", resources), (c) => {
    const items = catalog.resources.map(({ key, id, name, description, product, category }) => ({
      key,
      id,
      name,
      description,
      product,
      category,
    }));
    return c.json({ items }, 200);
  });
}
