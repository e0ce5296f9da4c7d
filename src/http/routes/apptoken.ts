/**
 * App-token login (SPEC §3): an appKey + appToken pair exchanged for a short-lived ES256 JWT, and
 * the JWKS that verifies it offline. The login response carries a credential, so it is never
 * cached; the appToken is neither echoed nor logged, and a failure says nothing of its reason.
 *
 * The failure limiter applies as to any use of the token (verifier.ts): a client address over the
 * limit still gets its JWT for valid credentials, and a 429 for anything else.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { fail } from "../../core/errors.js";
import { type ControlRefusal, isBrowserRequest, isControlRefusal } from "../../core/key-controls.js";
import { ACCOUNT_NAME, ACCOUNT_NAME_RULE } from "../../core/names.js";
import { MAX_TOKEN_LENGTH } from "../../core/tokens.js";
import { isAuthenticated } from "../../core/verification.js";
import type { Services } from "../../services/index.js";
import type { MintInput, MintResult } from "../../services/signing-keys.js";
import { checkingCredentials } from "../auth.js";
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
    .regex(ACCOUNT_NAME, ACCOUNT_NAME_RULE)
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
    ...problemResponses(400, 401, 403, 429, 503),
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

export type Exchange =
  | MintResult
  | { ok: false; reason: "RATE_LIMITED"; retryAfter: number }
  /** A control of the key (its expiry, IP allowlist, browser refusal) refused the right token. */
  | { ok: false; reason: ControlRefusal };

/**
 * App-token login under the failure limiter, shared with VTEX's login path: the credentials go
 * through the verifier first (key-state cache; a blocked address passes only with valid ones, and
 * an unknown appKey from it costs no lookup), then `mint` signs the JWT from the stored key. A
 * fault in either (the store did not answer) is a logged 503 UNAVAILABLE.
 */
export function exchangeAppToken(
  c: Context<AppEnv>,
  services: Services,
  input: MintInput,
): Promise<Exchange> {
  return checkingCredentials(c, async () => {
    const ip = c.get("clientIp");
    const decision = await services.verifier.verify({
      credentials: { kind: "key", appKey: input.appKey, appToken: input.appToken },
      ip,
      ownAccount: true,
      countUsage: false,
      browser: isBrowserRequest((name) => c.req.header(name)),
    });
    if (decision.code === "RATE_LIMITED") {
      return { ok: false, reason: "RATE_LIMITED", retryAfter: decision.retryAfter };
    }
    if (isControlRefusal(decision.code)) return { ok: false, reason: decision.code };
    // The verifier has counted this failure.
    if (!isAuthenticated(decision)) return { ok: false, reason: "WRONG_CREDENTIALS" };
    const result = await services.jwt.mint(input);
    // The cache can lag a change made on another instance by up to a second: the store has the last word.
    if (!result.ok && result.reason === "WRONG_CREDENTIALS") await services.limiter.recordFailure(ip);
    return result;
  });
}

export function appTokenRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  app.openapi(secure("public", login), async (c) => {
    const result = await exchangeAppToken(c, services, c.req.valid("json"));
    if (!result.ok) {
      if (result.reason === "RATE_LIMITED") {
        const wait = result.retryAfter;
        fail("RATE_LIMITED", `Too many failed authentications from this address; retry in ${wait} s`, {
          retryAfter: wait,
        });
      }
      if (isControlRefusal(result.reason)) fail(result.reason);
      if (result.reason === "EXTERNAL_KEY_PENDING")
        fail("EXTERNAL_KEY_PENDING", "The key's addition to this account awaits approval");
      if (result.reason === "ACCOUNT_DENIED")
        fail("APPTOKEN_ACCOUNT_DENIED", "The key was not added to this account as an external key");
      fail("UNAUTHENTICATED", "The appKey and appToken are not valid, or the key is inactive");
    }
    return c.json({ token: result.token, expires: result.expires, expiresAt: result.expiresAt }, 200);
  });

  app.openapi(secure("public", jwks), async (c) => {
    const set = await services.jwt.jwks();
    c.header("cache-control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return c.json({ keys: set.keys.map((key) => Jwk.parse(key)) }, 200);
  });
}
