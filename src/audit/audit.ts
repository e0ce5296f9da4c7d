/**
 * The audit log: every change and every sign-in, appended through the transaction of the change it
 * records, so that a change and its record commit together.
 *
 * Secrets: `data` holds the before/after of changed fields and other facts, never a token, a token
 * hash, a password or a webhook secret; callers build it field by field.
 *
 * Tamper evidence: each account's events form a hash chain, computed by the store as it appends
 * (storage/audit-chain.ts).
 */
import type { Actor } from "../core/actor.js";
import type { StoreOps } from "../storage/store.js";

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
  await tx.audit.append(auditInput(deps, actor, event));
}

/** Many events of one actor, in their order, in one append (an import: one event per key). */
export async function recordAudits(
  tx: StoreOps,
  deps: { clock: { now(): number }; newId: () => string },
  actor: Actor,
  events: readonly AuditWrite[],
): Promise<void> {
  await tx.audit.appendMany(events.map((event) => auditInput(deps, actor, event)));
}

function auditInput(
  deps: { clock: { now(): number }; newId: () => string },
  actor: Actor,
  event: AuditWrite,
) {
  return {
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
  };
}

/**
 * Events of several accounts in one transaction (a change seen from both sides of an external key).
 * Written in account order: each append locks its account's chain head, so two such changes
 * crossing between the same accounts wait for each other instead of deadlocking.
 */
export async function recordAuditsInOrder(
  tx: StoreOps,
  deps: { clock: { now(): number }; newId: () => string },
  writes: readonly (readonly [Actor, AuditWrite])[],
): Promise<void> {
  const sorted = [...writes].sort(([, a], [, b]) =>
    a.account < b.account ? -1 : a.account > b.account ? 1 : 0,
  );
  for (const [actor, event] of sorted) await recordAudit(tx, deps, actor, event);
}
