import { createMetrics, type Metrics } from "../metrics.js";
import { createTestNotifier } from "../notify/test-notification.js";
import { createKeyAuthenticator } from "../verify/authenticate.js";
import { tokenFingerprint } from "../verify/jwt.js";
import { createKeyCache } from "../verify/key-cache.js";
import { createFailureLimiter, type FailureLimiter } from "../verify/rate-limit.js";
import { createUsageRecorder } from "../verify/usage.js";
import { createVerifier } from "../verify/verifier.js";
import { createAccountService } from "./accounts.js";
import { createAuditLogService } from "./audit-log.js";
import type { ServiceDeps } from "./deps.js";
import { createExportService } from "./export.js";
import { createExternalKeyService } from "./external-keys.js";
import { createInvitationService } from "./invitations.js";
import { createKeyService } from "./keys.js";
import { createRenewalService } from "./renewal.js";
import { createReviewService } from "./review.js";
import { createRevokeService, REVOKE_RATE } from "./revoke.js";
import { createRoleDirectory } from "./role-directory.js";
import { createRoleService } from "./roles.js";
import { createSessionService } from "./sessions.js";
import { createSettingsService } from "./settings.js";
import { createShareLinkService } from "./share-links.js";
import { createJwtService } from "./signing-keys.js";
import { createUserService } from "./users.js";

/**
 * Built by the composition root from config (Redis-backed when REDIS_URL is set); each one left out
 * gets an in-process default: failures not limited, leak reports at REVOKE_RATE, fresh metrics.
 */
export interface ServiceExtras {
  /** Failed authentications per client address (sign-in, appKey/appToken, verify, authorize). */
  limiter?: FailureLimiter;
  /**
   * Store lookups of uncached appKeys an address may still cause per window while `limiter` blocks
   * it (verifier.ts); unbounded unless given. Local to the instance: it protects this instance's I/O.
   */
  blockedLookups?: FailureLimiter;
  /** Failed sign-ins per email (buckets from rate-limit.ts `emailKey`). */
  signInLimiter?: FailureLimiter;
  /** Every leaked-token report per client address. */
  revokeLimiter?: FailureLimiter;
  metrics?: Metrics;
  /** SMTP_URL, for test notifications sent from a request (the scheduler's notifier gets it in main.ts). */
  smtpUrl?: string | undefined;
  /** WEBHOOK_ALLOW_PRIVATE, for test notifications likewise (refused unless true: notify/destination.ts). */
  webhookAllowPrivate?: boolean | undefined;
}

/** Builds every use case over one set of dependencies. */
export function createServices(deps: ServiceDeps & { sessionTtlSeconds: number } & ServiceExtras) {
  const roleDirectory = createRoleDirectory(deps);
  const limiter = deps.limiter ?? createFailureLimiter({ limit: 0, windowSeconds: 60, clock: deps.clock });
  const signInLimiter =
    deps.signInLimiter ?? createFailureLimiter({ limit: 0, windowSeconds: 60, clock: deps.clock });
  const revokeLimiter = deps.revokeLimiter ?? createFailureLimiter({ ...REVOKE_RATE, clock: deps.clock });
  const metrics = deps.metrics ?? createMetrics({ clock: deps.clock });
  // The verification path: key states cached by appKey, usage counted in memory and written in batches.
  const keyCache = createKeyCache({
    store: deps.store,
    roles: roleDirectory,
    everyResource: deps.catalog.resources.map((resource) => resource.key),
    changes: deps.changes,
    clock: deps.clock,
  });
  const usage = createUsageRecorder({
    store: deps.store,
    clock: deps.clock,
    onFlush: (ok, atMs) => metrics.flushed(ok, atMs),
  });
  const jwt = createJwtService(deps);
  const verifier = createVerifier({
    cache: keyCache,
    tokenPrefix: deps.tokenPrefix,
    usage,
    limiter,
    ...(deps.blockedLookups ? { blockedLookups: deps.blockedLookups } : {}),
    metrics,
    jwt: { verify: (token) => jwt.verify(token), fingerprint: tokenFingerprint },
  });
  return {
    deps,
    roleDirectory,
    accounts: createAccountService(deps),
    keys: createKeyService(deps, roleDirectory),
    roles: createRoleService(deps, roleDirectory),
    users: createUserService(deps, roleDirectory),
    invitations: createInvitationService(deps, roleDirectory),
    sessions: createSessionService(deps),
    renewal: createRenewalService(deps, roleDirectory),
    shareLinks: createShareLinkService(deps, roleDirectory),
    externalKeys: createExternalKeyService(deps, roleDirectory),
    settings: createSettingsService(deps, roleDirectory),
    testNotifier: createTestNotifier(deps),
    exporter: createExportService(deps, roleDirectory),
    authenticateKey: createKeyAuthenticator(deps),
    jwt,
    keyCache,
    usage,
    verifier,
    limiter,
    signInLimiter,
    revokeLimiter,
    metrics,
    revoke: createRevokeService(deps),
    auditLog: createAuditLogService(deps),
    review: createReviewService(deps, roleDirectory),
  };
}

export type Services = ReturnType<typeof createServices>;
