/**
 * The signed-in user's answer to an invitation (services/invitations.ts), and leaving an account. Any
 * authenticated caller may reach these routes; only a user can have an invitation, so a key always
 * gets 404.
 *
 * The invitation's code travels in the body only (never the path or the query, which end up in
 * access logs). A wrong code is an authentication failure: it is counted per client address by the
 * failure limiter, and while the address is blocked every attempt, the right code included, gets 429
 * before any lookup, as password sign-ins do (routes/session.ts).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { AccountAccessSchema, InvitationSchema, type IssuedInvitation } from "../../core/api.js";
import { AppError, fail } from "../../core/errors.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonBody, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

const tags = ["Session"];
const CodeBody = jsonBody(
  z.strictObject({
    code: z
      .string()
      .max(100)
      .openapi({ description: "The invitation's code, as the inviting account gave it" }),
  }),
);

const preview = createRoute({
  method: "post",
  path: "/v1/me/invitations/{account}/preview",
  tags,
  summary: "See what an invitation offers (changes nothing)",
  request: { params: AccountParam, body: CodeBody },
  responses: {
    200: jsonResponse(InvitationSchema, "The invitation"),
    ...problemResponses(400, 401, 403, 404, 410, 429),
  },
});

const accept = createRoute({
  method: "post",
  path: "/v1/me/invitations/{account}",
  tags,
  summary: "Accept an invitation with its code: become a member of the account with the roles offered",
  request: { params: AccountParam, body: CodeBody },
  responses: {
    200: jsonResponse(AccountAccessSchema, "What the user now holds in the account"),
    ...problemResponses(400, 401, 403, 404, 410, 429),
  },
});

const decline = createRoute({
  method: "delete",
  path: "/v1/me/invitations/{account}",
  tags,
  summary: "Decline an invitation with its code: it is removed, with the roles it offered",
  request: { params: AccountParam, body: CodeBody },
  responses: { 204: { description: "Declined" }, ...problemResponses(400, 401, 403, 404, 410, 429) },
});

const signUp = createRoute({
  method: "post",
  path: "/v1/invitations/{account}/sign-up",
  tags,
  summary: "A person invited with no sign-in chooses a password with the code, and accepts",
  description:
    "For an invitation that created the person's sign-in (VTEX's `POST /api/license-manager/users`): " +
    "sets its first password and makes the membership active; the person then signs in with " +
    "`POST /v1/auth/login`. Any refusal is 404 INVITATION_NOT_FOUND, counted by the failure limiter; " +
    "a code given for an existing sign-in never sets its password.",
  request: {
    params: AccountParam,
    body: jsonBody(
      z.strictObject({
        email: z.string().max(254),
        code: z.string().max(100),
        password: z.string().max(200),
      }),
    ),
  },
  responses: {
    204: { description: "Password set; invitation accepted" },
    ...problemResponses(400, 404, 410, 429),
  },
});

const leave = createRoute({
  method: "delete",
  path: "/v1/me/accounts/{account}",
  tags,
  summary: "Leave an account: the signed-in user's membership and roles there are removed",
  request: { params: AccountParam },
  responses: { 204: { description: "Left" }, ...problemResponses(400, 401, 403, 404, 409) },
});

/**
 * With SMTP_URL, mails a new invitation's link to the person once the answer is on its way; a failed
 * send is logged (without the link) and changes nothing of the invitation or the answer.
 */
export function mailInvitation(
  c: Context<AppEnv>,
  services: Services,
  to: string,
  account: string,
  invitation: IssuedInvitation,
): void {
  const log = c.get("log");
  const requestId = c.get("requestId");
  services.invitations.mailLater(to, account, invitation, (error) =>
    log.error({ err: error, requestId, account }, "an invitation email was not sent"),
  );
}

export function invitationRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { invitations, callers, limiter } = services;

  /** Runs `answer` under the failure limiter: a blocked address is refused, a wrong code counted. */
  async function withCode<T>(c: Context<AppEnv>, answer: () => Promise<T>): Promise<T> {
    const ip = c.get("clientIp");
    const wait = ip === null ? 0 : limiter.blockedFor(ip);
    if (wait > 0) fail("RATE_LIMITED", `Too many failed attempts; retry in ${wait} s`, { retryAfter: wait });
    try {
      return await answer();
    } catch (error) {
      if (error instanceof AppError && error.code === "INVITATION_NOT_FOUND") await limiter.recordFailure(ip);
      throw error;
    }
  }

  app.openapi(secure("authenticated", preview), async (c) => {
    const { account } = c.req.valid("param");
    const { code } = c.req.valid("json");
    const invitation = await withCode(c, () => invitations.preview(c.get("caller").actor, account, code));
    return c.json(invitation, 200);
  });

  app.openapi(secure("authenticated", accept), async (c) => {
    const { account } = c.req.valid("param");
    const { code } = c.req.valid("json");
    const { principal, actor } = c.get("caller");
    await withCode(c, () => invitations.accept(actor, account, code));
    return c.json(await callers.accountAccess(principal, account), 200);
  });

  app.openapi(secure("authenticated", decline), async (c) => {
    const { account } = c.req.valid("param");
    const { code } = c.req.valid("json");
    await withCode(c, () => invitations.decline(c.get("caller").actor, account, code));
    return c.body(null, 204);
  });

  app.openapi(secure("public", signUp), async (c) => {
    const { account } = c.req.valid("param");
    const meta = {
      ip: c.get("clientIp"),
      userAgent: c.req.header("user-agent") ?? null,
      requestId: c.get("requestId"),
    };
    await withCode(c, () => invitations.signUp(account, c.req.valid("json"), meta));
    return c.body(null, 204);
  });

  app.openapi(secure("authenticated", leave), async (c) => {
    await services.users.leave(c.get("caller").actor, c.req.valid("param").account);
    return c.body(null, 204);
  });
}
