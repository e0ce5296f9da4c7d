/** Who performs a use case, and from where: recorded in every audit event. */
export interface Actor {
  type: "user" | "key" | "system";
  /** User id, appKey, or "system". */
  id: string;
  /** Email, appKey, or "system". */
  label: string;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export const SYSTEM_ACTOR: Actor = {
  type: "system",
  id: "system",
  label: "system",
  ip: null,
  userAgent: null,
  requestId: null,
};

/**
 * Another account, as it appears in a log it does not own (external keys: the adding account in the
 * owner's log, the owner in the adder's), by name only: never its users, keys or addresses.
 */
export function accountActor(account: string): Actor {
  return { ...SYSTEM_ACTOR, id: "account", label: account };
}
