/**
 * `POST /v1/credentials/revoke`: report leaked tokens (SPEC §3). Public: holding a token is the
 * proof. The answer is the same whether or not anything matched, so the endpoint cannot be used to
 * learn which tokens are live. Every request counts against the reporter's address (rate limit),
 * malformed ones included. Reported tokens are never logged or echoed (see services/revoke.ts).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { MAX_TOKEN_LENGTH } from "../../core/tokens.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { jsonBody, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

export const MAX_REVOKE_TOKENS = 100;

const revoke = createRoute({
  method: "post",
  path: "/v1/credentials/revoke",
  tags: ["Credentials"],
  summary: "Report leaked tokens: their keys are deactivated at once and their accounts alerted",
  description:
    "Anyone holding a token may report it; secret scanners call this. The answer never says which tokens matched. Rate limited per client address.",
  request: {
    body: jsonBody(
      z.strictObject({
        tokens: z
          .array(z.string().min(1).max(MAX_TOKEN_LENGTH))
          .min(1)
          .max(MAX_REVOKE_TOKENS)
          .openapi({
            description: `1-${MAX_REVOKE_TOKENS} tokens, each at most ${MAX_TOKEN_LENGTH} characters`,
          }),
      }),
    ),
  },
  responses: {
    202: jsonResponse(z.object({ received: z.number().int() }), "Received; the same answer whatever matched"),
    ...problemResponses(400, 413, 429),
  },
});

export function revokeRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { revoke: revokeService } = services;

  // Ahead of body validation, so that malformed reports count too.
  app.on("POST", revoke.path, async (c, next) => {
    await revokeService.admit(c.get("clientIp"));
    await next();
  });

  app.openapi(secure("public", revoke), async (c) => {
    const { tokens } = c.req.valid("json");
    const outcome = await revokeService.revokeLeaked(tokens, {
      ip: c.get("clientIp"),
      userAgent: c.req.header("user-agent") ?? null,
      requestId: c.get("requestId"),
    });
    if (outcome.deactivated.length > 0) {
      c.get("log").warn(
        { requestId: c.get("requestId"), appKeys: outcome.deactivated },
        "leaked tokens reported: keys deactivated",
      );
    }
    return c.json({ received: outcome.received }, 202);
  });
}
