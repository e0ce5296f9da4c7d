/**
 * VTEX License Manager account paths: GET /api/vlm/account (the account's data) and
 * GET /api/vlm/account/stores (its stores and their hosts), answered from the account's profile
 * (display name, hosts; GET|PUT /v1/accounts/{a}/settings/profile) and creation date.
 *
 * VTEX requires "Save account" for both; latchkey's account settings are read with ViewApiKeys and
 * changed with EditApiKeysSettings, and either one is accepted here. The account's app keys (never a
 * token) are listed only to a caller holding ViewApiKeys; to others `appKeys` is empty.
 *
 * A latchkey account is one store: its id is 1 and its name the account's name. What latchkey does
 * not keep (addresses, licenses, sponsor, contact, parent accounts) is null, empty or false, each of
 * the type VTEX documents.
 */
import { createHash } from "node:crypto";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { fail } from "../../core/errors.js";
import { holds } from "../../core/permissions.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { type VtexAccess, type VtexContext, vtexHandler } from "./adapter.js";
import { allKeys } from "./all-keys.js";

export const STORE_ID = 1;

/** A stable, opaque id for the account (VTEX's is a 32-hex GUID): derived from its name. */
export function vtexAccountId(account: string): string {
  return createHash("sha256").update(`latchkey-account:${account}`).digest("hex").slice(0, 32);
}

export function vlmAccountRoutes(app: OpenAPIHono<AppEnv>, access: VtexAccess, services: Services) {
  /** Authenticated, holding ViewApiKeys or EditApiKeysSettings in the account. */
  async function accountScope(c: VtexContext) {
    const scope = await access.identifyIn(c);
    if (holds(scope.grant, "ViewApiKeys")) scope.require("ViewApiKeys");
    else if (holds(scope.grant, "EditApiKeysSettings")) scope.require("EditApiKeysSettings");
    else
      fail(
        "FORBIDDEN",
        `This needs the ViewApiKeys or EditApiKeysSettings resource in account ${scope.account}`,
      );
    return { ...scope, profile: await services.accounts.profile(scope.account) };
  }

  const storeOf = (account: string, hosts: string[]) => ({ id: STORE_ID, name: account, hosts });

  app.get(
    "/api/vlm/account/stores",
    vtexHandler(async (c) => {
      const { account, profile } = await accountScope(c);
      return c.json([storeOf(account, profile.hosts)]);
    }),
  );

  app.get(
    "/api/vlm/account",
    vtexHandler(async (c) => {
      const { account, profile, grant } = await accountScope(c);
      const name = profile.displayName ?? account;
      const keys = holds(grant, "ViewApiKeys") ? await allKeys(services, account) : [];
      return c.json({
        isActive: true,
        id: vtexAccountId(account),
        name,
        accountName: account,
        lv: null,
        isOperating: true,
        defaultUrl: null,
        district: null,
        country: null,
        complement: null,
        companyName: name,
        cnpj: null,
        haveParentAccount: false,
        parentAccountId: null,
        parentAccountName: null,
        city: null,
        address: null,
        logo: null,
        hasLogo: false,
        number: null,
        postalCode: null,
        state: null,
        telephone: "",
        tradingName: name,
        licenses: [],
        sponsor: { name: "", email: "", phone: "" },
        contact: { name: "", email: "", phone: "" },
        operationDate: null,
        inactivationDate: null,
        creationDate: profile.createdAt,
        hosts: profile.hosts,
        sites: [
          {
            ...storeOf(account, profile.hosts),
            tradingName: name,
            LV: null,
            logo: null,
            monetaryUnitId: 1,
            domains: null,
            aliases: [],
          },
        ],
        appKey: { token: null, name: null },
        appKeys: keys.map((key) => ({
          id: key.id,
          appKey: key.appKey,
          appToken: null,
          label: key.name,
          createdIn: key.creationDate,
          isActive: key.active,
          isBlocked: false,
        })),
      });
    }),
  );
}
