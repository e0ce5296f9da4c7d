/**
 * App-token login (SPEC §3): an appKey + appToken pair exchanged for a short-lived ES256 JWT, and
 * the JWKS that verifies it offline. The login response carries a credential, so it is never
 * cached; the appToken is neither echoed nor logged, and a failure says nothing of its reason.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { fail } from "../../core/errors.js";
import { MAX_TOKEN_LENGTH } from "../../core/tokens.js";
import type { Services } from "../../services/index.js";
import { refuseIfBlocked } from "../../verify/rate-limit.js";
import type { AppEnv } from "../context.js";
import { jsonBody, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

/** Offline verifiers may cache the JWKS this long; they should re-fetch it on an unknown kid. */
export const JWKS_MAX_AGE_SECONDS = 300;

const LoginBody = z.strictObject({
  appKey: z.string().min(1).max(100).openapi({ example: "appkey-mystore-QWERTY" }),
  appToken: z.string().min(1).max(MAX_TOKEN_LENGTH),
  account: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,39}$/, "must be an account name: 2-40 of a-z 0-9 -, starting with a letter")
    .optional()
    .openapi({ description: "Account the JWT is for; defaults to the key's own account" }),
});

const login = createRoute({
  method: "post",
  path: "/v1/auth/apptoken",
  tags: ["Session"],
  summary: "Exchange an appKey and appToken for a signed JWT (ES256)",
  description:
    "Send the JWT as `Authorization: Bearer <token>` (or in the `VtexIdclientAutCookie` header). " +
    "latchkey checks the key's state on every call; offline verifiers (JWKS) accept it until `expires`.",
  request: { body: jsonBody(LoginBody) },
  responses: {
    200: jsonResponse(
      z.object({
        token: z.string(),
        expires: z.number().int().openapi({ description: "Expiry, Unix seconds" }),
        expiresAt: z.string().openapi({ description: "Expiry, ISO 8601" }),
      }),
      "The JWT",
    ),
    ...problemResponses(400, 401, 403, 429),
  },
});

const Jwk = z.object({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  x: z.string(),
  y: z.string(),
  kid: z.string(),
  alg: z.literal("ES256"),
  use: z.literal("sig"),
});

const jwks = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["Session"],
  summary: "Public keys that verify app-token JWTs (the current key and recently retired ones)",
  responses: { 200: jsonResponse(z.object({ keys: z.array(Jwk) }), "The JSON Web Key Set") },
});

export function appTokenRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  app.openapi(secure("public", login), async (c) => {
    const ip = c.get("clientIp");
    refuseIfBlocked(services.limiter, ip, "failed authentications");
    const result = await services.jwt.mint(c.req.valid("json"));
    if (!result.ok) {
      if (result.reason === "ACCOUNT_DENIED")
        fail("APPTOKEN_ACCOUNT_DENIED", "The key was not added to this account as an external key");
      await services.limiter.recordFailure(ip);
      fail("UNAUTHENTICATED", "The appKey and appToken are not valid, or the key is inactive");
    }
    c.header("cache-control", "no-store");
    return c.json({ token: result.token, expires: result.expires, expiresAt: result.expiresAt }, 200);
  });

  app.openapi(secure("public", jwks), async (c) => {
    const set = await services.jwt.jwks();
    c.header("cache-control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return c.json({ keys: set.keys.map((key) => Jwk.parse(key)) }, 200);
  });
}
