/**
 * The shapes the /v1 API answers with: the one source for them. `http/` serves these schemas in its
 * OpenAPI document (/openapi.json), services declare their results as their `z.infer` types, and
 * the typed client (src/client/openapi.ts) is generated from that document for the admin UI, the
 * CLI and integrators (`npm run client:generate`; a test fails when it is stale).
 *
 * Plain zod with `.meta()`: `id` names the schema in the document's components (and so in the
 * generated client), `description` documents a field. Request bodies and parameters, which carry
 * the validation rules of their route, stay with their routes in `http/`.
 */
import { z } from "zod";

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    requestId: z.string(),
  })
  .meta({ id: "Problem" });

export const RoleRefSchema = z.object({ id: z.number().int(), name: z.string() }).meta({ id: "RoleRef" });

const Status = z.enum(["active", "inactive"]);
const Alert = z.enum(["none", "orange", "red"]);

/**
 * Why an inactive key is inactive: its token was reported leaked (POST /v1/credentials/revoke), the
 * account's policies found it unused (deactivateUnusedDays) or its token too old (maxTokenAgeDays),
 * or a person or key deactivated it.
 */
export const INACTIVE_REASONS = ["leak_reported", "unused", "token_too_old", "deactivated"] as const;
export type InactiveReason = (typeof INACTIVE_REASONS)[number];

export const RateLimitSchema = z
  .object({
    limit: z.number().int().meta({ description: "Calls allowed per window" }),
    windowSeconds: z.number().int().meta({ description: "The window, in seconds (aligned to the epoch)" }),
  })
  .meta({ id: "RateLimit" });

export const QuotaRefillSchema = z
  .object({
    amount: z.number().int().meta({ description: "What `remaining` is set back to" }),
    every: z.enum(["day", "month"]).meta({ description: "At the start of each UTC day or month" }),
  })
  .meta({ id: "QuotaRefill" });

export const KeySchema = z
  .object({
    id: z.string(),
    appKey: z.string(),
    account: z.string(),
    name: z.string(),
    keyType: z.literal("generated"),
    status: Status,
    active: z.boolean(),
    inactiveReason: z.enum(INACTIVE_REASONS).nullable().meta({
      description:
        "Why the key is inactive: leak_reported (its token was reported leaked), unused (policy deactivateUnusedDays), token_too_old (policy maxTokenAgeDays), deactivated (by a person or key). Null when active, or when it was deactivated before reasons were recorded",
    }),
    roles: z.array(RoleRefSchema),
    creationDate: z.string(),
    creationDateToken: z.string().meta({
      description: "Creation of the current token (the older one while a renewal is pending)",
    }),
    creationDateNewToken: z
      .string()
      .nullable()
      .meta({ description: "Creation of the pending token; null when no renewal is pending" }),
    pendingRenewal: z.boolean(),
    alert: Alert.meta({
      description: "Renewal alert of the newest token against the account's renewal period",
    }),
    lastUsedAt: z.string().nullable(),
    lastUsedAtToken: z.string().nullable().meta({
      description:
        "Last authentication with the current token (the older one while a renewal is pending); null when none was recorded",
    }),
    lastUsedAtNewToken: z.string().nullable().meta({
      description:
        "Last authentication with the pending token; null when no renewal is pending or it was not used yet",
    }),
    tokenAgeDays: z.number().int().meta({
      description: "Whole days since the newest token was created (what the renewal alert counts)",
    }),
    updatedAt: z.string(),
    expiresAt: z.string().nullable().meta({ description: "When the key stops authenticating; null: never" }),
    expiry: z.enum(["none", "ok", "soon", "expired"]).meta({
      description:
        "none: no expiry; soon: within 14 days (the admin's badge); expired: no longer authenticates",
    }),
    ipAllowlist: z
      .array(z.string())
      .nullable()
      .meta({ description: "CIDR blocks the key may be used from; null: any address" }),
    metadata: z
      .record(z.string(), z.unknown())
      .nullable()
      .meta({ description: "The integrator's data returned on verification; never secrets" }),
    allowBrowser: z.boolean().meta({ description: "May be used from browser pages (refused by default)" }),
    rateLimit: RateLimitSchema.nullable().meta({
      description: "At most `limit` calls per `windowSeconds` (429 KEY_RATE_LIMITED past it); null: none",
    }),
    quota: z
      .object({
        remaining: z.number().int().meta({
          description:
            "Calls left, as last written by the usage flush (a few seconds behind the verifications)",
        }),
        refill: QuotaRefillSchema.nullable(),
        refillsAt: z
          .string()
          .nullable()
          .meta({ description: "When `remaining` is next set back to the refill amount; null: never" }),
      })
      .nullable()
      .meta({ description: "Calls left before 429 QUOTA_EXHAUSTED; null: no quota" }),
  })
  .meta({ id: "Key" });

/**
 * A key listing's total counted from its matches stops here (docs/scaling.md, "total"): past it the
 * listing says "at least this many" (`totalExact` false). Totals latchkey keeps as counts (no
 * filter, `status`, `role` alone) are exact at any size.
 */
export const COUNTED_TOTAL_MAX = 1000;
/**
 * "1,000", grouped by hand: `toLocaleString` here, at every server's start, mapped ~5 MB of ICU's
 * data into the process for good (bench/README.md, idle memory). The server formats nothing with
 * ICU on its own paths (test/e2e/startup.test.ts).
 */
const COUNTED_TOTAL_TEXT = String(COUNTED_TOTAL_MAX).replace(/\B(?=(\d{3})+$)/g, ",");

export const KeyPageSchema = z
  .object({
    items: z.array(KeySchema),
    nextCursor: z.string().nullable(),
    total: z
      .number()
      .int()
      .meta({
        description: `Keys matching the filters, all pages together; when \`totalExact\` is false, at least this many (${COUNTED_TOTAL_TEXT}) match`,
      }),
    totalExact: z.boolean().meta({
      description: `False when a filter that no kept count answers (\`q\`, \`alert\`, \`expiry\`, \`control\`, \`role\` with another filter) matches more than ${COUNTED_TOTAL_TEXT} keys: counting stops there`,
    }),
  })
  .meta({ id: "KeyPage" });

export const IssuedKeySchema = z
  .union([
    z.object({ key: KeySchema, appToken: z.string() }),
    z.object({ key: KeySchema, shareUrl: z.string(), shareExpiresAt: z.string() }),
  ])
  .meta({ id: "IssuedKey" });

export const ShareLinkStatusSchema = z
  .object({
    appKey: z.string(),
    shareLink: z
      .object({
        state: z.enum(["unopened", "revealed", "expired", "cancelled"]),
        createdAt: z.string(),
        expiresAt: z.string(),
        revealedAt: z.string().nullable(),
        cancelledAt: z.string().nullable(),
      })
      .nullable()
      .meta({
        description: "The key's newest share link (never its address or token); null when it has none",
      }),
    blocksRenewal: z.boolean().meta({
      description:
        "An unopened, unexpired link refuses the next renewal (409 SHARE_LINK_UNOPENED) until it is opened, expires or is cancelled",
    }),
  })
  .meta({ id: "ShareLinkStatus" });

/** What `POST /v1/accounts/{account}/keys/bulk` can do to each key: the single actions, by name. */
export const BULK_KEY_ACTIONS = ["activate", "deactivate", "delete"] as const;
/** The most appKeys one bulk request may name. */
export const MAX_BULK_KEYS = 1000;

export const BulkKeyResultSchema = z
  .union([
    z.object({
      appKey: z.string(),
      ok: z.literal(true),
      // The key after the change; absent after delete.
      key: KeySchema.optional(),
    }),
    z.object({
      appKey: z.string(),
      ok: z.literal(false),
      error: z
        .object({ code: z.string(), detail: z.string(), status: z.number().int() })
        .meta({ description: "What the single action would have answered (code, detail, HTTP status)" }),
    }),
  ])
  .meta({ id: "BulkKeyResult" });

export const BulkKeyResultsSchema = z
  .object({
    action: z.enum(BULK_KEY_ACTIONS),
    results: z.array(BulkKeyResultSchema).meta({ description: "One per appKey, in the order sent" }),
    succeeded: z.number().int(),
    failed: z.number().int(),
  })
  .meta({ id: "BulkKeyResults" });

export const KeyImportResultSchema = z
  .object({
    dryRun: z.boolean(),
    imported: z.number().int().meta({ description: "Keys written: all of them, or 0 on a dry run" }),
    failed: z.number().int().meta({ description: "Entries that cannot be imported (0 unless a dry run)" }),
    results: z
      .array(
        z.union([
          z.object({
            index: z.number().int(),
            name: z.string(),
            appKey: z.string().meta({ description: "The key's appKey: the one given, or the one made" }),
            ok: z.literal(true),
          }),
          z.object({
            index: z.number().int(),
            name: z.string(),
            appKey: z.string().nullable(),
            ok: z.literal(false),
            error: z
              .object({ code: z.string(), detail: z.string(), status: z.number().int() })
              .meta({ description: "Why the entry cannot be imported (code, detail, HTTP status)" }),
          }),
        ]),
      )
      .meta({ description: "One per entry, in the order sent; never a token hash" }),
  })
  .meta({ id: "KeyImportResult" });

export type KeyImportResult = z.infer<typeof KeyImportResultSchema>;

export const KeyUsageSchema = z
  .object({
    appKey: z.string(),
    lastUsedAt: z.string().nullable(),
    days: z.array(z.object({ date: z.string(), ok: z.number().int(), denied: z.number().int() })),
    total: z.object({ ok: z.number().int(), denied: z.number().int() }),
  })
  .meta({ id: "KeyUsage" });

export const ExternalKeySchema = z
  .object({
    id: z.string().meta({
      description: "Id of the key's addition to this account (not the owner's id of the key)",
    }),
    appKey: z.string(),
    keyName: z.string(),
    account: z.string().meta({ description: "The owner: the account that generated the key" }),
    roles: z.array(RoleRefSchema),
    addedDate: z.string(),
    status: z.enum(["active", "inactive", "pending"]).meta({
      description:
        "active or inactive: set by the owner. pending: the addition is a request awaiting approval (the account's requireExternalKeyApproval policy); it grants nothing, and `roles` is empty until approved",
    }),
    lastUsedAt: z.string().nullable().meta({
      description: "The key's last allowed call in this account; its use elsewhere is not shown",
    }),
  })
  .meta({ id: "ExternalKey" });

export const ExternalKeyRequestSchema = z
  .object({
    id: z.string().meta({ description: "Id of the addition (the same id once approved)" }),
    appKey: z.string(),
    account: z.string().meta({ description: "The owner: the account that generated the key" }),
    roles: z.array(RoleRefSchema).meta({ description: "Roles asked for, granted on approval" }),
    requestedAt: z.string(),
    expiresAt: z
      .string()
      .meta({ description: "7 days after the request: it can no longer be approved then" }),
    requestedBy: z.object({
      type: z.enum(["user", "key", "system"]),
      id: z.string().meta({ description: "User id or appKey" }),
      label: z.string().meta({ description: "Email or appKey" }),
    }),
    byYou: z.boolean().meta({
      description:
        "The caller made this request (or is the user who created the key that made it, or a key that user created): it may reject it but not approve it",
    }),
    keyStatus: Status.meta({ description: "The key's status, set by its owner" }),
  })
  .meta({ id: "ExternalKeyRequest" });

export const RoleSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    type: z.enum(["predefined", "custom"]),
    resources: z.array(z.string()),
    products: z.array(z.string()),
  })
  .meta({ id: "Role" });

export const ResourceSchema = z
  .object({
    key: z.string(),
    id: z.number().int(),
    name: z.string(),
    description: z.string(),
    product: z.string(),
    category: z.string(),
  })
  .meta({ id: "Resource" });

export const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    roles: z.array(RoleRefSchema),
    addedAt: z.string(),
    status: z.enum(["active", "invited"]).meta({
      description:
        "`invited`: the email already had a sign-in, so the user was invited; the roles are offered, " +
        "and grant nothing until the user accepts",
    }),
  })
  .meta({ id: "User" });

/** What a caller holds in one account (GET /v1/me). */
export const AccountAccessSchema = z
  .object({ account: z.string(), roles: z.array(RoleRefSchema), resources: z.array(z.string()) })
  .meta({ id: "AccountAccess" });

/** What the invited user is shown on presenting the invitation's code. */
export const InvitationSchema = z
  .object({
    account: z.string(),
    roles: z.array(RoleRefSchema).meta({ description: "The roles offered: held there once accepted" }),
    invitedBy: z
      .string()
      .nullable()
      .meta({ description: "The email or appKey of the inviting account that invited; else null" }),
    invitedAt: z.string(),
    expiresAt: z.string(),
  })
  .meta({ id: "Invitation" });

/** What the inviting account is given, once, to pass on to the person out of band. */
export const IssuedInvitationSchema = z
  .object({
    code: z.string(),
    url: z.string().meta({ description: "The admin's page for answering it, the code in the fragment" }),
    expiresAt: z.string(),
  })
  .meta({ id: "IssuedInvitation" });

/** What the account says of itself (GET|PUT …/settings/profile; VTEX's GET /api/vlm/account). */
export const AccountProfileSchema = z
  .object({
    account: z.string(),
    displayName: z
      .string()
      .nullable()
      .meta({ description: "The name shown for the account (VTEX's tradingName); null: the account name" }),
    hosts: z.array(z.string()).meta({ description: "Hosts the account's store answers on, lower case" }),
    createdAt: z.string(),
  })
  .meta({ id: "AccountProfile" });
export type AccountProfile = z.infer<typeof AccountProfileSchema>;

export const MeSchema = z
  .object({
    principal: z.union([
      z.object({
        type: z.literal("user"),
        id: z.string(),
        email: z.string(),
        mustChangePassword: z.boolean().optional().meta({
          description: "Signed in with the session: true after an administrator's reset, until changed",
        }),
      }),
      z.object({
        type: z.literal("key"),
        appKey: z.string(),
        account: z.string(),
        token: z.enum(["current", "old", "new"]).meta({
          description:
            "Which of the key's tokens this call authenticated with: `current` when the key has one; while " +
            "a renewal is pending `old` (completing the renewal removes it: switch to the new one first) or `new`",
        }),
        key: KeySchema.meta({
          description:
            "The key's own view (token dates and age, renewal alert, pending renewal, last use of each " +
            "token), whatever the key's roles: a key may always read itself here",
        }),
      }),
    ]),
    accounts: z.array(AccountAccessSchema),
  })
  .meta({ id: "Me" });

const Days = z.number().nullable();

export const ApiKeySettingsSchema = z
  .object({
    renewalPeriodMonths: z.union([z.literal(3), z.literal(6)]),
    notifications: z.object({
      emails: z.array(z.string()),
      webhooks: z.array(z.object({ id: z.string(), url: z.string(), secretSet: z.literal(true) })),
    }),
    policies: z.object({
      deactivateUnusedDays: Days,
      maxTokenAgeDays: Days,
      maxKeyLifetimeDays: Days,
      allowBrowserKeys: z.boolean(),
      requireExternalKeyApproval: z.boolean().meta({
        description:
          "Adding an external key makes a request that grants nothing until another caller holding EditApiKeys approves it",
      }),
    }),
    updatedAt: z.string().nullable(),
  })
  .meta({ id: "ApiKeySettings" });

export const TestNotificationResultSchema = z
  .object({
    channel: z.enum(["email", "webhook"]),
    to: z.string().meta({ description: "The email address, or the webhook's URL" }),
    ok: z.boolean(),
    error: z.string().optional().meta({
      description:
        "Why it failed (an SMTP reply, an HTTP status, a webhook address refused by WEBHOOK_ALLOW_PRIVATE…)",
    }),
  })
  .meta({ id: "TestNotificationResult" });

export const AuditEventSchema = z
  .object({
    id: z.string(),
    at: z.string(),
    account: z.string(),
    actor: z.object({
      type: z.string().meta({ description: "user, key or system" }),
      id: z.string().meta({ description: "User id, appKey, or system" }),
      label: z.string().meta({ description: "Email, appKey, or system" }),
    }),
    action: z.string(),
    target: z.object({ type: z.string().nullable(), id: z.string().nullable() }).nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
    data: z.unknown().meta({ description: "Before/after of the changed fields, or other facts" }),
    seq: z.number().int(),
    hash: z.string().nullable(),
    prevHash: z.string().nullable(),
  })
  .meta({ id: "AuditEvent" });

export const AuditPageSchema = z
  .object({ items: z.array(AuditEventSchema), nextCursor: z.string().nullable() })
  .meta({ id: "AuditPage" });

export const AuditChainCheckSchema = z
  .object({
    ok: z.boolean(),
    checked: z.number().int(),
    firstBroken: z
      .object({
        account: z.string(),
        id: z.string().nullable(),
        seq: z.number().int().nullable(),
        reason: z.enum(["hash_mismatch", "prev_hash_mismatch", "head_mismatch", "head_missing"]),
        detail: z.string(),
      })
      .nullable(),
    head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
  })
  .meta({ id: "AuditChainCheck" });

const FindingSchema = z.object({
  kind: z.enum(["never_used", "unused", "unused_role", "owner", "token_age"]),
  detail: z.string(),
  suggestion: z.string(),
  roleId: z.number().int().optional(),
});

export const AccessReviewSchema = z
  .object({
    account: z.string(),
    days: z.number().int(),
    generatedAt: z.string(),
    keysReviewed: z.number().int(),
    items: z.array(
      z.object({
        appKey: z.string(),
        name: z.string(),
        keyType: z.enum(["generated", "external"]),
        owner: z.string(),
        status: Status,
        roles: z.array(RoleRefSchema),
        lastUsedAt: z.string().nullable(),
        tokenCreatedAt: z.string().nullable(),
        usedResources: z.array(z.string()),
        findings: z.array(FindingSchema),
      }),
    ),
  })
  .meta({ id: "AccessReview" });

export const VerifyResultSchema = z
  .object({
    valid: z
      .boolean()
      .meta({ description: "The credentials authenticate an active key granted in the account" }),
    code: z.enum([
      "OK",
      "MALFORMED_CREDENTIALS",
      "INVALID_CREDENTIALS",
      "KEY_INACTIVE",
      "KEY_EXPIRED",
      "IP_NOT_ALLOWED",
      "BROWSER_REQUEST_REFUSED",
      "KEY_RATE_LIMITED",
      "QUOTA_EXHAUSTED",
      "ACCOUNT_NOT_GRANTED",
      "EXTERNAL_KEY_PENDING",
      "RESOURCE_NOT_GRANTED",
    ]),
    account: z.string().nullable(),
    appKey: z.string().nullable(),
    keyType: z.enum(["generated", "external"]).nullable(),
    resources: z.array(z.string()).nullable(),
    allowed: z
      .boolean()
      .nullable()
      .meta({ description: "Whether `resource` is held; null when none was asked" }),
    metadata: z.record(z.string(), z.unknown()).nullable().meta({
      description:
        "The key's metadata (never secrets); null when it has none or the credentials are not valid",
    }),
    rateLimit: z
      .object({
        limit: z.number().int(),
        remaining: z.number().int().meta({ description: "Calls left in the current window" }),
        reset: z.number().int().meta({ description: "Seconds until the window ends" }),
      })
      .nullable()
      .meta({
        description:
          "The key's rate limit as this call left it; null when the key has none or the credentials are not valid",
      }),
    quota: z
      .object({ remaining: z.number().int().meta({ description: "Calls left in the quota" }) })
      .nullable()
      .meta({
        description:
          "The key's quota as this call left it; null when the key has none or the credentials are not valid",
      }),
    retryAfter: z.number().int().optional().meta({
      description: "With KEY_RATE_LIMITED or QUOTA_EXHAUSTED: seconds until a call may succeed",
    }),
  })
  .meta({ id: "VerifyResult" });

export type Problem = z.infer<typeof ProblemSchema>;
export type RoleRef = z.infer<typeof RoleRefSchema>;
export type Key = z.infer<typeof KeySchema>;
export type KeyPage = z.infer<typeof KeyPageSchema>;
export type IssuedKey = z.infer<typeof IssuedKeySchema>;
export type BulkKeyAction = (typeof BULK_KEY_ACTIONS)[number];
export type BulkKeyResult = z.infer<typeof BulkKeyResultSchema>;
export type BulkKeyResults = z.infer<typeof BulkKeyResultsSchema>;
export type KeyUsage = z.infer<typeof KeyUsageSchema>;
export type ShareLinkStatus = z.infer<typeof ShareLinkStatusSchema>;
export type ExternalKey = z.infer<typeof ExternalKeySchema>;
export type ExternalKeyRequest = z.infer<typeof ExternalKeyRequestSchema>;
export type Role = z.infer<typeof RoleSchema>;
export type Resource = z.infer<typeof ResourceSchema>;
export type User = z.infer<typeof UserSchema>;
export type AccountAccess = z.infer<typeof AccountAccessSchema>;
export type Invitation = z.infer<typeof InvitationSchema>;
export type IssuedInvitation = z.infer<typeof IssuedInvitationSchema>;
export type Me = z.infer<typeof MeSchema>;
export type ApiKeySettings = z.infer<typeof ApiKeySettingsSchema>;
export type TestNotificationResult = z.infer<typeof TestNotificationResultSchema>;
export type AuditEvent = z.infer<typeof AuditEventSchema>;
export type AuditPage = z.infer<typeof AuditPageSchema>;
export type AuditChainCheck = z.infer<typeof AuditChainCheckSchema>;
export type AccessReview = z.infer<typeof AccessReviewSchema>;
export type VerifyResult = z.infer<typeof VerifyResultSchema>;
