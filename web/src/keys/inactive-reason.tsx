/**
 * Why a key is inactive, as the admin says it: a short phrase for the status badge and, on the key's
 * page, what happened and what to do. Keys deactivated before reasons were recorded say "Inactive".
 */
import type { Key } from "../api";
import { Badge } from "../ui/controls";

type Reason = NonNullable<Key["inactiveReason"]>;

const SHORT: Record<Reason, string> = {
  leak_reported: "token reported leaked",
  unused: "unused",
  token_too_old: "token too old",
  deactivated: "deactivated",
};

const EXPLAINED: Record<Reason, string> = {
  leak_reported:
    "Its token was reported leaked, so the key was deactivated at once. Renew the token before activating the key again: the leaked token must not work again. Then hand the new token to the integration.",
  unused:
    "It was not used for longer than the account's policy allows (deactivate unused keys), so it was deactivated. Activate it again if the integration still needs it; otherwise delete it.",
  token_too_old:
    "Its token is older than the account's policy allows (maximum token age), so it was deactivated. Renew the token, hand the new one to the integration, then activate the key again.",
  deactivated:
    "A person or key with the right to edit API keys deactivated it. Activate it again when it is needed.",
};

export function statusLabel(key: Key): string {
  if (key.active) return "Active";
  return key.inactiveReason ? `Inactive — ${SHORT[key.inactiveReason]}` : "Inactive";
}

export function StatusBadge({ apiKey }: { apiKey: Key }) {
  if (apiKey.active) return <Badge tone="success">Active</Badge>;
  const tone = apiKey.inactiveReason === "leak_reported" ? "danger" : "neutral";
  return <Badge tone={tone}>{statusLabel(apiKey)}</Badge>;
}

/** What happened to an inactive key and what to do; nothing for an active one or an unknown reason. */
export function inactiveExplanation(key: Key): string | undefined {
  return key.active || !key.inactiveReason ? undefined : EXPLAINED[key.inactiveReason];
}
