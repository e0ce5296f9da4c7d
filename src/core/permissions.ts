/**
 * Permission evaluation: a principal's grant in one account is the union of the resources of the
 * roles it holds there. Owner-like roles hold every resource, present and future.
 */

export interface RoleView {
  id: number;
  name: string;
  predefined: boolean;
  /** True for Owner: every resource of the installation, including catalog ones. */
  allResources: boolean;
  resources: readonly string[];
}

export type Grant = { readonly all: true } | { readonly all: false; readonly resources: ReadonlySet<string> };

export const NOTHING: Grant = { all: false, resources: new Set() };

export function grantOf(roles: readonly RoleView[]): Grant {
  if (roles.some((role) => role.allResources)) return { all: true };
  const resources = new Set<string>();
  for (const role of roles) for (const key of role.resources) resources.add(key);
  return { all: false, resources };
}

export function holds(grant: Grant, resource: string): boolean {
  return grant.all || grant.resources.has(resource);
}

/** Resource keys of a grant, given the full list for Owner-like grants. */
export function grantResources(grant: Grant, everyResource: readonly string[]): string[] {
  return grant.all ? [...everyResource] : [...grant.resources].sort();
}

/**
 * What a caller lacks to act on a target: nothing (`ok`), the Owner-like grant (the target holds every
 * resource, present and future), or some resources, sorted.
 */
export type Coverage =
  | { readonly ok: true }
  | { readonly ok: false; readonly owner: true; readonly lacking: readonly [] }
  | { readonly ok: false; readonly owner: false; readonly lacking: readonly string[] };

/**
 * The least-privilege rule (SPEC §1.2), one function for every action: a caller may act on a target
 * (give or take a role, renew, activate, deactivate, delete or edit a key, an external grant, a user
 * or a role) only if the caller's grant covers every resource the target holds in that account, or
 * the role contains. Only an Owner-like grant covers an Owner-like one. A principal acting on itself
 * is always covered: its grant is the target's.
 */
export function covers(caller: Grant, target: Grant): Coverage {
  if (caller.all) return { ok: true };
  if (target.all) return { ok: false, owner: true, lacking: [] };
  const lacking = [...target.resources].filter((key) => !caller.resources.has(key)).sort();
  return lacking.length === 0 ? { ok: true } : { ok: false, owner: false, lacking };
}

/** No escalation: giving or taking `role` is acting on what it holds. */
export function canGive(grant: Grant, role: RoleView): boolean {
  return covers(grant, grantOf([role])).ok;
}

/** The first resource the caller lacks among `resources`, if any. */
export function missingResource(grant: Grant, resources: readonly string[]): string | undefined {
  return grant.all ? undefined : resources.find((key) => !grant.resources.has(key));
}

/** Roles added or removed between two sets of role ids: both need `canGive`. */
export function changedRoleIds(before: readonly number[], after: readonly number[]): number[] {
  const was = new Set(before);
  const now = new Set(after);
  return [...new Set([...before, ...after])].filter((id) => was.has(id) !== now.has(id));
}
