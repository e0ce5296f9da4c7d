import { createKeyAuthenticator } from "../verify/authenticate.js";
import { createAccountService } from "./accounts.js";
import type { ServiceDeps } from "./deps.js";
import { createExportService } from "./export.js";
import { createExternalKeyService } from "./external-keys.js";
import { createKeyService } from "./keys.js";
import { createRenewalService } from "./renewal.js";
import { createRoleDirectory } from "./role-directory.js";
import { createRoleService } from "./roles.js";
import { createSessionService } from "./sessions.js";
import { createSettingsService } from "./settings.js";
import { createShareLinkService } from "./share-links.js";
import { createUserService } from "./users.js";

/** Builds every use case over one set of dependencies. */
export function createServices(deps: ServiceDeps & { sessionTtlSeconds: number }) {
  const roleDirectory = createRoleDirectory(deps);
  return {
    deps,
    roleDirectory,
    accounts: createAccountService(deps),
    keys: createKeyService(deps, roleDirectory),
    roles: createRoleService(deps, roleDirectory),
    users: createUserService(deps, roleDirectory),
    sessions: createSessionService(deps),
    renewal: createRenewalService(deps, roleDirectory),
    shareLinks: createShareLinkService(deps, roleDirectory),
    externalKeys: createExternalKeyService(deps, roleDirectory),
    settings: createSettingsService(deps, roleDirectory),
    exporter: createExportService(deps, roleDirectory),
    authenticateKey: createKeyAuthenticator(deps),
  };
}

export type Services = ReturnType<typeof createServices>;
