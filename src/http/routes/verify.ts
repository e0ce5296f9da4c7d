/**
 * The verification API (SPEC §6): `POST /v1/verify` for services that ask about presented
 * credentials, `/v1/authorize` for gateways (nginx auth_request, Traefik ForwardAuth, Envoy
 * ext_authz over HTTP), and a key's daily usage counts.
 *
 * `/v1/authorize` is also answered by the bare node:http fast path (src/http/fast-path.ts) when
 * latchkey runs as a server; this route serves in-process callers and documents it in OpenAPI.
 *
 * `clientIp` on `/v1/verify`: a service verifying for its own clients names the end client, so
 * that the failure limiter counts that client rather than the service. It is believed only from a
 * caller whose address (the TCP peer, or X-Forwarded-For's last entry with TRUST_PROXY) is in
 * VERIFY_TRUSTED_PROXIES; from any other caller it is refused (400), never silently ignored, so a
 * missing trust setting shows at once instead of as every client counted as one.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { addressMatcher, isIpAddress } from "../../core/addresses.js";
import { KeyUsageSchema, type VerifyResult, VerifyResultSchema } from "../../core/api.js";
import type { Catalog } from "../../core/catalog.js";
import { fail } from "../../core/errors.js";
import { isBrowserRequest } from "../../core/key-controls.js";
import { ACCOUNT_NAME, ACCOUNT_NAME_RULE } from "../../core/names.js";
import type { Allowance, Decision, RateLimited } from "../../core/verification.js";
import type { Services, Verifier } from "../../services/index.js";
import { checkingCredentials } from "../auth.js";
import type { AppEnv } from "../context.js";
import { authorize } from "../forward-auth.js";
import { AccountParam, jsonBody, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

const tags = ["Verification"];

export const VerifyBody = z.strictObject({
  appKey: z.string().max(200),
  appToken: z.string().max(1024),
  // Checked before any lookup: a made-up name must not cost a read (docs/verification.md).
  account: z
    .string()
    .regex(ACCOUNT_NAME, ACCOUNT_NAME_RULE)
    .optional()
    .openapi({ description: "Account the call is for; the key's own account when absent" }),
  resource: z
    .string()
    .max(100)
    .optional()
    .openapi({ description: "A resource key to check, e.g. ViewOrders" }),
  clientIp: z
    .string()
    .max(64)
    .refine((value) => !value.includes("%") && isIpAddress(value), "must be an IPv4 or IPv6 address")
    .optional()
    .openapi({
      description:
        "The end client's address, counted by the failed-authentication limiter instead of the caller's. Only from callers in VERIFY_TRUSTED_PROXIES; from others it is a 400 CLIENT_IP_NOT_TRUSTED.",
      example: "203.0.113.7",
    }),
});

type VerifyResultBody = VerifyResult;

/** The `/v1/verify` answer to a decision (a rate-limited one is a 429 instead). */
export function verifyResult(decision: Exclude<Decision, RateLimited>): VerifyResultBody {
  // The body's keys credentials only (no missing credentials, no route): these codes cannot occur.
  const code = decision.code as VerifyResultBody["code"];
  switch (decision.code) {
    case "ACCOUNT_NOT_GRANTED":
    case "EXTERNAL_KEY_PENDING": {
      const { account, key, allowed } = decision;
      const appKey = key.appKey;
      const none = { keyType: null, resources: null, metadata: null };
      return {
        valid: false,
        code,
        account,
        appKey,
        allowed,
        ...none,
        ...allowanceFields(decision.allowance),
      };
    }
    case "KEY_RATE_LIMITED":
    case "QUOTA_EXHAUSTED": {
      const { account, key, retryAfter } = decision;
      const none = { keyType: null, resources: null, allowed: null, metadata: null };
      return {
        valid: false,
        code,
        account,
        appKey: key.appKey,
        ...none,
        ...allowanceFields(decision.allowance),
        ...(retryAfter === null ? {} : { retryAfter }),
      };
    }
    case "OK":
    case "RESOURCE_NOT_GRANTED":
    case "ROUTE_NOT_MAPPED": {
      const { account, key, keyType, resources, allowed } = decision;
      const json = key.controls?.metadataJson ?? null;
      const metadata = json === null ? null : (JSON.parse(json) as Record<string, unknown>);
      const appKey = key.appKey;
      const listed = [...resources];
      const limits = allowanceFields(decision.allowance);
      return { valid: true, code, account, appKey, keyType, resources: listed, allowed, metadata, ...limits };
    }
    default:
      return {
        valid: false,
        code,
        account: null,
        appKey: null,
        keyType: null,
        resources: null,
        allowed: null,
        metadata: null,
        rateLimit: null,
        quota: null,
      };
  }
}

/** The key's rate limit and quota as the call left them (null when it has none). */
function allowanceFields(allowance: Allowance | null): Pick<VerifyResultBody, "rateLimit" | "quota"> {
  if (allowance === null) return { rateLimit: null, quota: null };
  const { rateLimit, quota } = allowance;
  return {
    rateLimit: rateLimit === null ? null : { ...rateLimit },
    quota: quota === null ? null : { ...quota },
  };
}

const verify = createRoute({
  method: "post",
  path: "/v1/verify",
  tags,
  summary: "Verify presented credentials, optionally for one resource",
  description:
    "Invalid credentials are a 200 with `valid: false` and a `code`. A key over its rate limit or out of quota is a 200 with `valid: false`, `code` KEY_RATE_LIMITED or QUOTA_EXHAUSTED and `retryAfter`; `rateLimit` and `quota` give what the key has left (null when it has none). A client address over the failed-authentication limit (`clientIp` when a trusted caller sends it) gets a 429 instead, for credentials that do not authenticate only: valid ones are still answered.",
  request: { body: jsonBody(VerifyBody) },
  responses: {
    200: jsonResponse(VerifyResultSchema, "The decision"),
    ...problemResponses(400, 429, 503),
  },
});

const UsageQuery = z.strictObject({
  days: z.coerce.number().int().min(1).max(90).default(30),
});

const usage = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/keys/{appKey}/usage",
  tags: ["Generated keys"],
  summary: "Daily verification counts of a key (UTC days, oldest first)",
  description: "Counts are written in batches every few seconds, so the current day can lag by up to 10 s.",
  request: {
    params: AccountParam.extend({
      appKey: z
        .string()
        .max(100)
        .openapi({ param: { name: "appKey", in: "path" } }),
    }),
    query: UsageQuery,
  },
  responses: {
    200: jsonResponse(KeyUsageSchema, "Usage per day"),
    ...problemResponses(400, 401, 403, 404),
  },
});

/**
 * What a `/v1/verify` body asks the verifier, for the route and for the fast path (fast-path.ts)
 * alike. Refuses (AppError) an unknown resource, and a `clientIp` from a caller that is not a
 * trusted proxy.
 */
export function verifyRequestOf(catalog: Pick<Catalog, "resourceByKey">, trustedProxies: readonly string[]) {
  const trusted = addressMatcher(trustedProxies);

  /** The address the limiter counts: the end client's when a trusted caller names it. */
  function limitedAddress(caller: string | null, clientIp: string | undefined): string | null {
    if (clientIp === undefined) return caller;
    if (!trusted(caller)) {
      fail(
        "CLIENT_IP_NOT_TRUSTED",
        `The caller's address ${caller ?? "(unknown)"} is not in VERIFY_TRUSTED_PROXIES: send no clientIp, or add the caller's network there`,
      );
    }
    return clientIp;
  }

  return (
    body: VerifyBodyInput,
    caller: string | null,
    header: (name: string) => string | undefined,
  ): VerifyRequest => {
    if (body.resource !== undefined && !catalog.resourceByKey(body.resource)) {
      fail("UNKNOWN_RESOURCE", `No resource ${body.resource}`);
    }
    return {
      credentials: { kind: "key", appKey: body.appKey, appToken: body.appToken },
      account: body.account ?? null,
      ...(body.resource === undefined ? {} : { resources: [body.resource] }),
      ip: limitedAddress(caller, body.clientIp),
      browser: isBrowserRequest(header),
    };
  };
}

export type VerifyBodyInput = z.infer<typeof VerifyBody>;
type VerifyRequest = Parameters<Verifier["verify"]>[0];

export function verifyRoutes(
  app: OpenAPIHono<AppEnv>,
  secure: Secure,
  services: Services,
  trustedProxies: readonly string[],
) {
  const { verifier, catalog, usageReport } = services;
  const request = verifyRequestOf(catalog, trustedProxies);

  app.openapi(secure("public", verify), async (c) => {
    const body = c.req.valid("json");
    const asked = request(body, c.get("clientIp"), (name) => c.req.header(name));
    const decision = await checkingCredentials(c, () => verifier.verify(asked));
    if (decision.code === "RATE_LIMITED") {
      c.header("retry-after", String(decision.retryAfter));
      fail("RATE_LIMITED", `Too many failed authentications; retry in ${decision.retryAfter} s`);
    }
    return c.json(verifyResult(decision), 200);
  });

  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/v1/authorize",
    tags,
    summary: "Forward-auth for gateways (any method)",
    description:
      "Reads credentials from the forwarded headers (X-API-AppKey + X-API-AppToken, the X-VTEX-API-* names, Authorization: Bearer, VtexIdclientAutCookie), the original request from X-Original-Method/X-Original-URI (nginx) or X-Forwarded-Method/X-Forwarded-Uri (Traefik) and the account from X-API-Account. 200 carries X-Auth-Account, X-Auth-AppKey and X-Auth-Key-Type, and X-Latchkey-Key-Metadata (base64url, no padding, of the key's metadata as UTF-8 JSON) when the key has metadata; 400, 401, 403, 429 (with Retry-After) and 503 carry X-Auth-Code. An expired key is 401 KEY_EXPIRED; a call from outside the key's IP allowlist is 403 IP_NOT_ALLOWED; key credentials on a request from a browser page (Origin or Sec-Fetch-* headers forwarded) are 403 BROWSER_REQUEST_REFUSED unless the key allows it. A key with a rate limit gets RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds) on 200, 403 and 429; over its rate limit it is 429 KEY_RATE_LIMITED, out of quota 429 QUOTA_EXHAUSTED, both with Retry-After (none for a quota that never refills) and X-Latchkey-Quota-Remaining for a key with a quota. Answers to every method.",
    responses: {
      200: { description: "Allowed" },
      400: {
        description:
          "The gateway sent no original URI (X-Auth-Code: MISSING_ORIGINAL_REQUEST), or X-API-Account is not an account name (MALFORMED_ACCOUNT)",
      },
      401: { description: "No valid credentials, or an expired key (X-Auth-Code: KEY_EXPIRED)" },
      403: {
        description:
          "Authenticated, but the route's resource is not held (or no resource covers the route), or a key control refuses the call (IP_NOT_ALLOWED, BROWSER_REQUEST_REFUSED)",
      },
      429: {
        description:
          "Too many failed authentications from this client address, and these credentials do not authenticate either (X-Auth-Code: RATE_LIMITED); or the key is over its own rate limit (KEY_RATE_LIMITED) or out of quota (QUOTA_EXHAUSTED)",
      },
      503: { description: "The credentials could not be checked now (X-Auth-Code: UNAVAILABLE); logged" },
    },
    [ACCESS]: "public",
  } as Parameters<typeof app.openAPIRegistry.registerPath>[0]);

  app.all("/v1/authorize", async (c) => {
    const onFault = (error: unknown) =>
      c.get("log").error({ err: error, requestId: c.get("requestId") }, "credentials could not be checked");
    const forward = { verifier, catalog, onFault };
    const answer = await authorize(forward, (name) => c.req.header(name), c.get("clientIp"));
    return c.body(null, answer.status, answer.headers);
  });

  app.openapi(secure({ resource: "ViewApiKeys" }, usage), async (c) => {
    const { account, appKey } = c.req.valid("param");
    const { days } = c.req.valid("query");
    return c.json(await usageReport.daily(account, appKey, days), 200);
  });
}

const ACCESS = "x-latchkey-access";
