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
 * No escalation (SPEC §1.2): a caller may give a role, or put resources in a custom role, only if
 * it holds every resource involved. Only an Owner-like grant can give an Owner-like role.
 */
export function canGive(grant: Grant, role: RoleView): boolean {
  if (grant.all) return true;
  if (role.allResources) return false;
  return role.resources.every((key) => grant.resources.has(key));
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
