/**
 * Approval of external keys (docs/key-controls.md, Approval of external keys): the pure rules. While
 * an account's `requireExternalKeyApproval` policy is on, adding an external key makes a request
 * that grants nothing until a different caller approves it, within REQUEST_TTL_DAYS.
 */
import { DAY_MS } from "./time.js";

/** A request not approved or rejected within this many days expires. */
export const REQUEST_TTL_DAYS = 7;

/** When a request made at `requestedAt` expires: from then on it can no longer be approved. */
export function requestExpiresAt(requestedAt: number): number {
  return requestedAt + REQUEST_TTL_DAYS * DAY_MS;
}

export function isRequestExpired(requestedAt: number, now: number): boolean {
  return now >= requestExpiresAt(requestedAt);
}

/** An actor as a request records it: a user by id, a key by appKey. */
export interface ActorRef {
  readonly type: "user" | "key" | "system";
  readonly id: string;
}

/**
 * The people and keys an actor stands for: itself, and for a key the user who created it (when
 * known). A key made by a user is that user's hand: it may not approve the user's request, nor the
 * user a request the key made.
 */
export function identitiesOf(actor: ActorRef, creatorOf: (appKey: string) => string | null): string[] {
  const own = `${actor.type}:${actor.id}`;
  if (actor.type !== "key") return [own];
  const creator = creatorOf(actor.id);
  return creator === null ? [own] : [own, `user:${creator}`];
}

/** Whether `approver` is (or acts for) the one who made the request. */
export function isSelfApproval(
  requester: ActorRef,
  approver: ActorRef,
  creatorOf: (appKey: string) => string | null,
): boolean {
  // latchkey itself never requests through a policy; two system actors are not two people.
  if (requester.type === "system" || approver.type === "system") return false;
  const mine = new Set(identitiesOf(requester, creatorOf));
  return identitiesOf(approver, creatorOf).some((id) => mine.has(id));
}
