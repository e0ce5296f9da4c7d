/**
 * The use cases, assembled over one set of dependencies. This is everything the HTTP layer is
 * handed: no store, no secret, no configuration. The composition root (main.ts) builds the
 * dependencies and the verification path, once, and passes them here.
 */
import type { Metrics } from "../metrics.js";
import type { TestNotifier } from "../notify/test-notification.js";
import type { Allowances } from "../verify/allowance.js";
import type { KeyCache } from "../verify/key-cache.js";
import type { FailureLimiter } from "../verify/rate-limit.js";
import type { UsageRecorder } from "../verify/usage.js";
import type { Verifier } from "../verify/verifier.js";
import { createAccountService } from "./accounts.js";
import { createAuditLogService } from "./audit-log.js";
import { createCallerService } from "./callers.js";
import type { ServiceDeps } from "./deps.js";
import { createExportService } from "./export.js";
import { createExternalKeyService } from "./external-keys.js";
import { createInvitationService } from "./invitations.js";
import { createKeyImport } from "./key-import.js";
import { createKeyService } from "./keys.js";
import { createKeyBulk } from "./keys-bulk.js";
import { createPasswordService, type PlainMailer } from "./password-changes.js";
import { createRenewalService } from "./renewal.js";
import { createReviewService } from "./review.js";
import { createRevokeService } from "./revoke.js";
import type { RoleDirectory } from "./role-directory.js";
import { createRoleService } from "./roles.js";
import { createSessionService } from "./sessions.js";
import { createSettingsService } from "./settings.js";
import { createShareLinkService } from "./share-links.js";
import type { JwtService } from "./signing-keys.js";
import { createUsageReportService } from "./usage-report.js";
import { createUserService } from "./users.js";

/** What the composition root builds beside the use cases, and the use cases share. */
export interface ServiceParts {
  roleDirectory: RoleDirectory;
  jwt: JwtService;
  /** The verification path: key states cached by appKey, usage counted in memory and written in batches. */
  keyCache: KeyCache;
  usage: UsageRecorder;
  verifier: Verifier;
  /** Per-key rate limits and quotas as verification counts them (key views show the quota's count). */
  allowances: Pick<Allowances, "quotasLeft">;
  /** Failed authentications per client address (sign-in, appKey/appToken, verify, authorize). */
  limiter: FailureLimiter;
  /** Failed sign-ins per email (buckets from rate-limit.ts `emailKey`). */
  signInLimiter: FailureLimiter;
  /** Every leaked-token report per client address. */
  revokeLimiter: FailureLimiter;
  /** Every password-reset link asked for, per client address and per email (RESET_LINK_RATE). */
  resetLinkLimiter: FailureLimiter;
  resetLinkEmailLimiter: FailureLimiter;
  /** Mails reset links and invitations; absent without SMTP_URL. */
  mail?: PlainMailer | undefined;
  metrics: Metrics;
  /** Test notifications sent from a request, with the same mail settings as the scheduler's notifier. */
  testNotifier: TestNotifier;
}

export function createServices(deps: ServiceDeps, parts: ServiceParts) {
  const { roleDirectory } = parts;
  const keys = createKeyService(deps, roleDirectory, parts.allowances);
  return {
    /** The resource catalog (read-only). */
    catalog: deps.catalog,
    callers: createCallerService(deps, roleDirectory, parts.allowances),
    accounts: createAccountService(deps),
    keys,
    keyBulk: createKeyBulk(keys),
    keyImport: createKeyImport(deps, roleDirectory),
    usageReport: createUsageReportService(deps),
    roles: createRoleService(deps, roleDirectory),
    users: createUserService(deps, roleDirectory),
    invitations: createInvitationService(deps, roleDirectory, parts.mail),
    sessions: createSessionService(deps),
    passwords: createPasswordService(deps, roleDirectory, parts.mail),
    renewal: createRenewalService(deps, roleDirectory),
    shareLinks: createShareLinkService(deps, roleDirectory),
    externalKeys: createExternalKeyService(deps, roleDirectory),
    settings: createSettingsService(deps, roleDirectory),
    testNotifier: parts.testNotifier,
    exporter: createExportService(deps, roleDirectory),
    jwt: parts.jwt,
    keyCache: parts.keyCache,
    usage: parts.usage,
    verifier: parts.verifier,
    limiter: parts.limiter,
    signInLimiter: parts.signInLimiter,
    resetLinkLimiter: parts.resetLinkLimiter,
    resetLinkEmailLimiter: parts.resetLinkEmailLimiter,
    metrics: parts.metrics,
    revoke: createRevokeService(deps, parts.revokeLimiter),
    auditLog: createAuditLogService(deps),
    review: createReviewService(deps, roleDirectory),
  };
}

export type Services = ReturnType<typeof createServices>;

export { connectionFailure } from "../storage/unreachable.js";
export type { KeyCache } from "../verify/key-cache.js";
export type { Credentials, MaybePromise, Verifier } from "../verify/verifier.js";
