import { z } from "@hono/zod-openapi";
import { ACCOUNT_NAME, ACCOUNT_NAME_RULE } from "../core/names.js";

/** Schemas shared by several route files. Request bodies are strict: unknown fields are a 400. */

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    requestId: z.string(),
  })
  .openapi("Problem");

export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: "Error", content: { "application/problem+json": { schema: ProblemSchema } } },
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

export const RoleRef = z.object({ id: z.number().int(), name: z.string() });

/** What a caller holds in one account (GET /v1/me). */
export const AccountAccess = z.object({
  account: z.string(),
  roles: z.array(RoleRef),
  resources: z.array(z.string()),
});

export const KeySchema = z
  .object({
    id: z.string(),
    appKey: z.string(),
    account: z.string(),
    name: z.string(),
    keyType: z.literal("generated"),
    status: z.enum(["active", "inactive"]),
    active: z.boolean(),
    roles: z.array(RoleRef),
    creationDate: z.string(),
    creationDateToken: z.string(),
    creationDateNewToken: z.string().nullable(),
    pendingRenewal: z.boolean(),
    alert: z.enum(["none", "orange", "red"]),
    lastUsedAt: z.string().nullable(),
    updatedAt: z.string(),
  })
  .openapi("Key");

export const RoleSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    type: z.enum(["predefined", "custom"]),
    resources: z.array(z.string()),
    products: z.array(z.string()),
  })
  .openapi("Role");

export const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    roles: z.array(RoleRef),
    addedAt: z.string(),
    status: z.enum(["active", "invited"]).openapi({
      description:
        "`invited`: the email already had a sign-in, so the user was invited; the roles are offered, " +
        "and grant nothing until the user accepts",
    }),
  })
  .openapi("User");

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } } as const;
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}
