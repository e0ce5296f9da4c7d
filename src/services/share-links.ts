import type { ServiceDeps } from "./deps.js";
import type { RoleDirectory } from "./role-directory.js";

/** Placeholder: filled by the issue-3 work on this area. */
export function createShareLinkService(deps: ServiceDeps, roles: RoleDirectory) {
  void deps;
  void roles;
  return {};
}

export type ShareLinkService = ReturnType<typeof createShareLinkService>;
