/** Validation rules for names that users choose (SPEC §1, §2). */

/** An account name, unanchored, for patterns that embed one (appKeys: `{prefix}-{account}-{SUFFIX}`). */
export const ACCOUNT_NAME_PATTERN = "[a-z][a-z0-9-]{1,39}";
export const ACCOUNT_NAME = new RegExp(`^${ACCOUNT_NAME_PATTERN}$`);
export const ACCOUNT_NAME_RULE = "must be an account name: 2-40 of a-z 0-9 -, starting with a letter";
export const MAX_LABEL_LENGTH = 100;

export function isAccountName(name: string): boolean {
  return ACCOUNT_NAME.test(name);
}

/**
 * Trims a key or role label; returns undefined when empty, longer than 100 characters or holding
 * a NUL character (PostgreSQL cannot store one, so neither database accepts it).
 */
export function normalizeLabel(raw: string): string | undefined {
  const name = raw.trim();
  if (name.length === 0 || name.length > MAX_LABEL_LENGTH || name.includes("\0")) return undefined;
  return name;
}

/** Emails compare case-insensitively; we store them lower-cased. */
export function normalizeEmail(raw: string): string | undefined {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || email.includes("\0") || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email))
    return undefined;
  return email;
}

export const MAX_HOSTS = 50;
const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * A host name as an account's store answers on it (VTEX's `hosts`): lower case, dot-separated labels
 * of a-z 0-9 and inner hyphens, at most 253 characters; no scheme, port or path. Undefined if not one.
 */
export function normalizeHost(raw: string): string | undefined {
  const host = raw.trim().toLowerCase();
  if (host.length === 0 || host.length > 253) return undefined;
  return host.split(".").every((label) => HOST_LABEL.test(label)) ? host : undefined;
}
