import { z } from "@hono/zod-openapi";
import { ProblemSchema } from "../core/api.js";
import { ACCOUNT_NAME, ACCOUNT_NAME_RULE } from "../core/names.js";
import { RATE_LIMITED_RESPONSE } from "./openapi.js";

/**
 * Request schemas and response helpers shared by several route files. Request bodies are strict:
 * unknown fields are a 400. The shapes of responses live in core/api.ts.
 */

const problemContent = { "application/problem+json": { schema: ProblemSchema } } as const;

/** Error responses; a 429 is the failure limiter's, with its Retry-After header. */
export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      status === 429
        ? { ...RATE_LIMITED_RESPONSE, content: problemContent }
        : { description: "Error", content: problemContent },
    ]),
  );

export const AccountParam = z.object({
  account: z
    .string()
    .regex(ACCOUNT_NAME, ACCOUNT_NAME_RULE)
    .openapi({ param: { name: "account", in: "path" }, example: "mystore" }),
});

/** Text matched against stored values: no NUL (PostgreSQL refuses it) nor other control character. */
export const PlainText = z.string().regex(/^\P{Cc}*$/u, "must not contain control characters");

export const Label = z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters");

export const RoleIds = z.array(z.number().int().positive()).max(200);

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } } as const;
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}
