import type { Actor } from "../services/deps.js";
import type { StoreOps } from "../storage/store.js";

/**
 * Appends one audit event through the transaction of the change it records, so that a change and
 * its record commit together. `data` holds before/after of changed fields: never a token or password.
 */
export interface AuditWrite {
  account: string;
  action: string;
  target?: { type: string; id: string };
  data?: Record<string, unknown>;
}

export async function recordAudit(
  tx: StoreOps,
  deps: { clock: { now(): number }; newId: () => string },
  actor: Actor,
  event: AuditWrite,
): Promise<void> {
  await tx.appendAudit({
    id: deps.newId(),
    account: event.account,
    at: deps.clock.now(),
    actorType: actor.type,
    actorId: actor.id,
    actorLabel: actor.label,
    action: event.action,
    targetType: event.target?.type ?? null,
    targetId: event.target?.id ?? null,
    ip: actor.ip,
    userAgent: actor.userAgent,
    requestId: actor.requestId,
    data: event.data ?? null,
  });
}
