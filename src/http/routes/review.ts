/**
 * The access review (`GET /v1/accounts/{account}/keys/review`): keys that hold more than they use,
 * each with a suggested action. See src/services/review.ts for the findings.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { AccessReviewSchema } from "../../core/api.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

const review = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/keys/review",
  tags: ["Generated keys"],
  summary: "Access review: keys holding more than they use, with suggested actions",
  description:
    "Findings: never_used, unused (no use in `days`), unused_role (none of a role's resources used in `days`), owner (holds Owner), token_age (older than the renewal period). Keys without findings are left out.",
  request: {
    params: AccountParam,
    query: z.strictObject({ days: z.coerce.number().int().min(1).max(365).default(90) }),
  },
  responses: {
    200: jsonResponse(AccessReviewSchema, "The review"),
    ...problemResponses(400, 401, 403),
  },
});

export function reviewRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  app.openapi(secure({ resource: "ViewApiKeys" }, review), async (c) => {
    const { account } = c.req.valid("param");
    const { days } = c.req.valid("query");
    return c.json(await services.review.review(account, days), 200);
  });
}
