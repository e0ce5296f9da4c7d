/**
 * VTEX ID paths (SPEC §4): app-token login, JWT validation, token renewal.
 *
 * Secrets: the appToken presented at login is handed to the same `jwt.mint` as /v1/auth/apptoken
 * and never echoed; the login and renew responses carry a credential and are never cached. A
 * failed login or validation says nothing of its reason and counts against the client address in
 * the same failure limiter as every other authentication; an address over the limit still logs in
 * and validates with valid credentials (routes/apptoken.ts `exchangeAppToken`, verifier.ts).
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { isBrowserRequest } from "../../core/key-controls.js";
import { isAccountName } from "../../core/names.js";
import { MAX_TOKEN_LENGTH } from "../../core/tokens.js";
import { isAuthenticated } from "../../core/verification.js";
import type { Services } from "../../services/index.js";
import { checkingCredentials } from "../auth.js";
import type { AppEnv } from "../context.js";
import { exchangeAppToken } from "../routes/apptoken.js";
import {
  isLookupId,
  type VtexAccess,
  type VtexContext,
  VtexError,
  vtexHandler,
  vtexMessage,
} from "./adapter.js";
import { readVtexBody } from "./fields.js";

const LoginBody = z.object({
  appkey: z.string().min(1).max(100),
  apptoken: z.string().min(1).max(MAX_TOKEN_LENGTH),
});
const ValidateBody = z.object({ token: z.string().min(1).max(8192) });
const INVALID_CREDENTIALS_BODY = "Send the credentials as a JSON object";
const WRONG_CREDENTIALS = () => new VtexError(401, { authStatus: "WrongCredentials" });
/**
 * A failed app-token login, as VTEX's reference documents the login's answer: 200 with the
 * `authStatus` (and no token), not an HTTP error (docs/vtex.md; /v1/auth/apptoken keeps SPEC's 401).
 */
const LOGIN_REFUSED = { authStatus: "WrongCredentials" } as const;
/** A month of the renewal period, as VTEX counts `expirationPeriod` in days. */
const DAYS_PER_MONTH = 30;

/** A key the account does not own is a 400 on VTEX's renewal paths. */
const renewalErrors = (error: { code: string; detail: string }) =>
  error.code === "KEY_NOT_FOUND" ? vtexMessage(400, error.detail) : undefined;

/** The `:apiKey` of a renewal path; one that can name no key is refused without a lookup. */
function apiKeyOf(c: VtexContext): string {
  const apiKey = c.req.param("apiKey") ?? "";
  if (!isLookupId(apiKey)) throw vtexMessage(400, "No such key in this account");
  return apiKey;
}

export function vtexIdRoutes(app: OpenAPIHono<AppEnv>, access: VtexAccess, services: Services) {
  const { jwt, renewal, settings } = services;

  app.post(
    "/api/vtexid/apptoken/login",
    vtexHandler(async (c) => {
      const body = await readVtexBody(c, LoginBody, INVALID_CREDENTIALS_BODY);
      // `an` names the account the token is for: the key's own, or one that added it as an external
      // key (mint refuses any other). One that cannot be an account name is refused the same way.
      const named = (c.req.query("an") ?? "").toLowerCase();
      if (named !== "" && !isAccountName(named)) return c.json(LOGIN_REFUSED, 200);
      const result = await exchangeAppToken(c, services, {
        appKey: body.appkey,
        appToken: body.apptoken,
        ...(named === "" ? {} : { account: named }),
        lifetime: "vtex",
      });
      if (!result.ok && result.reason === "RATE_LIMITED") {
        c.header("retry-after", String(result.retryAfter));
        throw vtexMessage(429, `Too many failed authentications; retry in ${result.retryAfter} s`);
      }
      if (!result.ok) return c.json(LOGIN_REFUSED, 200);
      return c.json({ authStatus: "Success", token: result.token, expires: result.expires });
    }),
  );

  app.post(
    "/api/vtexid/credential/validate",
    vtexHandler(async (c) => {
      const { token } = await readVtexBody(c, ValidateBody, INVALID_CREDENTIALS_BODY);
      // The verifier applies the failure limiter and the key's current state, as for any JWT caller.
      const decision = await checkingCredentials(c, () =>
        services.verifier.verify({
          credentials: { kind: "jwt", token },
          ip: c.get("clientIp"),
          ownAccount: true,
          browser: isBrowserRequest((name) => c.req.header(name)),
        }),
      );
      if (decision.code === "RATE_LIMITED") {
        c.header("retry-after", String(decision.retryAfter));
        throw vtexMessage(429, `Too many failed authentications; retry in ${decision.retryAfter} s`);
      }
      if (decision.code === "KEY_RATE_LIMITED" || decision.code === "QUOTA_EXHAUSTED") {
        if (decision.retryAfter !== null) c.header("retry-after", String(decision.retryAfter));
        throw vtexMessage(
          429,
          decision.code === "KEY_RATE_LIMITED"
            ? "The key is over its rate limit"
            : "The key's quota is used up",
        );
      }
      if (!isAuthenticated(decision)) throw WRONG_CREDENTIALS();
      const claims = await jwt.verify(token);
      if (!claims) throw WRONG_CREDENTIALS();
      // A JWT minted for an account that added the key: that account's id for the addition, never
      // the owner's key id; and none once the key was removed from it.
      let id = decision.key.keyId;
      if (claims.account !== decision.key.account) {
        const added = await services.externalKeys.find(claims.account, { appKey: claims.appKey });
        // A request awaiting approval grants nothing: its JWTs are not valid there either.
        if (!added || added.status === "pending") throw WRONG_CREDENTIALS();
        id = added.id;
      }
      return c.json({
        authStatus: "Success",
        id,
        user: claims.appKey,
        account: claims.account,
        audience: "admin",
        tokenType: "appkey",
      });
    }),
  );

  app.patch(
    "/api/vtexid/apikey/:apiKey/apitoken/renew",
    vtexHandler(async (c) => {
      const { account, authority } = await access.authorize(c, "RenewApiToken");
      const started = await renewal.start(authority, account, apiKeyOf(c), {});
      const { renewalPeriodMonths } = await settings.get(account);
      return c.json({
        id: started.key.id,
        keyName: started.key.appKey,
        creationDateToken: started.key.creationDateToken,
        creationDateNewToken: started.key.creationDateNewToken,
        expirationPeriod: renewalPeriodMonths * DAYS_PER_MONTH,
        newToken: "appToken" in started ? started.appToken : null,
      });
    }, renewalErrors),
  );

  app.patch(
    "/api/vtexid/apikey/:apiKey/apitoken/finish-renewal",
    vtexHandler(async (c) => {
      const { account, authority } = await access.authorize(c, "RenewApiToken");
      const key = await renewal.complete(authority, account, apiKeyOf(c));
      return c.json({ id: key.id, creationDateToken: key.creationDateToken, creationDateNewToken: null });
    }, renewalErrors),
  );
}
