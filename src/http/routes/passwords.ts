/**
 * Password change and reset (services/password-changes.ts).
 *
 * Limits: a wrong current password is a failed sign-in, counted per client address and per email by
 * the sign-in limiters, and while either is blocked the change is refused before any hash is
 * computed (as routes/session.ts does). Every reset link asked for counts, per address and per email,
 * known or not. A wrong reset code is a failed authentication of the address, as a wrong invitation
 * code is.
 *
 * Secrets: passwords and codes travel in bodies only (never a path or a query, which reach access
 * logs); the mailed link keeps the code in its fragment, which browsers do not send. The answer to
 * a link request is the same 202 whether the email has a sign-in or not, and it is given before the
 * link is made and mailed, so its timing does not tell either.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError, fail } from "../../core/errors.js";
import type { Services } from "../../services/index.js";
import { noEmailDetail } from "../../services/password-changes.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonBody, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

const Password = z.string().max(200);

const change = createRoute({
  method: "post",
  path: "/v1/me/password",
  tags: ["Session"],
  summary: "Change the signed-in user's own password",
  description:
    "Only with the session cookie (a key has no password). The user's other sessions end; this one " +
    "stays. A wrong `currentPassword` is 403 CURRENT_PASSWORD_WRONG and counts as a failed sign-in. " +
    "After an administrator's reset, this is the one change the session may make.",
  request: {
    body: jsonBody(z.strictObject({ currentPassword: Password, newPassword: Password })),
  },
  responses: {
    200: jsonResponse(
      z.object({ sessionsEnded: z.number().int().meta({ description: "Other sessions of the user ended" }) }),
      "Changed",
    ),
    ...problemResponses(400, 401, 403, 429),
  },
});

const reset = createRoute({
  method: "post",
  path: "/v1/accounts/{account}/users/{id}/password-reset",
  tags: ["Users"],
  summary: "Reset a member's password: a one-time password is returned once",
  description:
    "Every session of the user ends, and at their next sign-in they must choose a new password. " +
    "Refused (403 TARGET_EXCEEDS_CALLER) when the user holds a resource the caller lacks, here or in " +
    "any other account where the user is a member.",
  request: {
    params: AccountParam.extend({
      id: z
        .string()
        .max(64)
        .openapi({ param: { name: "id", in: "path" } }),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({
        user: z.object({ id: z.string(), email: z.string() }),
        password: z.string().meta({ description: "The one-time password; shown only here" }),
        mustChangePassword: z.literal(true),
      }),
      "Reset",
    ),
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

const linkStatus = createRoute({
  method: "get",
  path: "/v1/auth/password-reset",
  tags: ["Session"],
  summary: "Whether this server can mail a password reset link",
  responses: {
    200: jsonResponse(
      z.object({ email: z.boolean(), detail: z.string() }),
      "`email` false: an administrator must reset the password",
    ),
  },
});

const requestLink = createRoute({
  method: "post",
  path: "/v1/auth/password-reset",
  tags: ["Session"],
  summary: "Mail a password reset link (only with SMTP_URL)",
  description:
    "Always 202 with the same body, whether the email has a sign-in or not. The link " +
    "(`{PUBLIC_URL}/admin/reset-password#code=…`) works once, within 30 minutes; only the newest " +
    "link of a user works. Limited per client address and per email.",
  request: { body: jsonBody(z.strictObject({ email: z.string().max(254) })) },
  responses: {
    202: jsonResponse(z.object({ detail: z.string() }), "Accepted"),
    ...problemResponses(400, 429, 501),
  },
});

const completeLink = createRoute({
  method: "post",
  path: "/v1/auth/password-reset/complete",
  tags: ["Session"],
  summary: "Set a new password with the code of a reset link",
  description: "Every session of the user ends; sign in with the new password.",
  request: {
    body: jsonBody(
      z.strictObject({
        code: z.string().max(100).meta({ description: "From the link's fragment" }),
        newPassword: Password,
      }),
    ),
  },
  responses: { 204: { description: "Password set" }, ...problemResponses(400, 410, 429) },
});

export const LINK_ACCEPTED =
  "If this email has a sign-in, a reset link is on its way; it works once, within 30 minutes";

export function passwordRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { passwords, limiter, signInLimiter } = services;

  app.openapi(secure("authenticated", change), async (c) => {
    const caller = c.get("caller");
    if (caller.via !== "session" || caller.sessionIdHash === undefined) {
      fail("SESSION_REQUIRED", "Only a user signed in to the admin has a password to change");
    }
    const ip = c.get("clientIp");
    const email = caller.actor.label;
    const wait = Math.max(limiter.blockedFor(ip), signInLimiter.blockedFor(email));
    if (wait > 0) fail("RATE_LIMITED", `Too many failed sign-ins; retry in ${wait} s`, { retryAfter: wait });
    const result = await passwords.change(caller.actor, caller.sessionIdHash, c.req.valid("json"));
    if (!result.ok) {
      await Promise.all([limiter.recordFailure(ip), signInLimiter.recordFailure(email)]);
      fail("CURRENT_PASSWORD_WRONG", "The current password is wrong; nothing was changed");
    }
    return c.json({ sessionsEnded: result.sessionsEnded }, 200);
  });

  app.openapi(secure({ resource: "EditAdminUsers" }, reset), async (c) => {
    const { account, id } = c.req.valid("param");
    return c.json(await passwords.reset(c.get("authority"), account, id), 200);
  });

  app.openapi(secure("public", linkStatus), (c) =>
    c.json(
      passwords.emailEnabled
        ? { email: true, detail: "A reset link can be mailed to the email you sign in with" }
        : { email: false, detail: noEmailDetail() },
      200,
    ),
  );

  app.openapi(secure("public", requestLink), async (c) => {
    const { email } = c.req.valid("json");
    if (!passwords.emailEnabled) fail("PASSWORD_RESET_EMAIL_OFF", noEmailDetail());
    const ip = c.get("clientIp");
    // Every request counts, this one included: the limit is how many links may be asked for.
    await Promise.all([
      services.resetLinkLimiter.recordFailure(ip),
      services.resetLinkEmailLimiter.recordFailure(email),
    ]);
    const wait = Math.max(
      services.resetLinkLimiter.blockedFor(ip),
      services.resetLinkEmailLimiter.blockedFor(email),
    );
    if (wait > 0) {
      fail("RATE_LIMITED", `Too many reset links asked for; retry in ${wait} s`, { retryAfter: wait });
    }
    const log = c.get("log");
    const requestId = c.get("requestId");
    const meta = { ip, userAgent: c.req.header("user-agent") ?? null, requestId };
    passwords.requestLinkLater(email, meta, (error) =>
      log.error({ err: error, requestId }, "a password reset link was not sent"),
    );
    return c.json({ detail: LINK_ACCEPTED }, 202);
  });

  app.openapi(secure("public", completeLink), async (c) => {
    const { code, newPassword } = c.req.valid("json");
    const ip = c.get("clientIp");
    const wait = limiter.blockedFor(ip);
    if (wait > 0) fail("RATE_LIMITED", `Too many failed attempts; retry in ${wait} s`, { retryAfter: wait });
    const meta = { ip, userAgent: c.req.header("user-agent") ?? null, requestId: c.get("requestId") };
    try {
      await passwords.completeLink(code, newPassword, meta);
    } catch (error) {
      if (error instanceof AppError && error.code === "PASSWORD_RESET_INVALID")
        await limiter.recordFailure(ip);
      throw error;
    }
    return c.body(null, 204);
  });
}
