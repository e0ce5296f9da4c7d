/**
 * The least-privilege matrix (SPEC §1.2, "no action on a stronger target"). Every mutating route of
 * the app, native and VTEX, is read from the router itself and must be classified below: a route
 * that acts on an existing principal (key, external key's grant, user) or role has cases here, in
 * which callers weaker than the target get 403 with nothing changed (every table compared, and the
 * target's tokens still verifying), the refusal is audited, and a caller that covers the target
 * succeeds. A new route that names a principal or role and is not in this file fails the first test.
 *
 * Runs on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { USER_ADMIN_ROLE } from "../../src/core/catalog.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const OWNER_ROLE = 1;
const USER_ADMIN_RESTRICTED = USER_ADMIN_ROLE.id;
const OMS_READ = 10;
const A = "/v1/accounts/acme";

/** Mutating routes that act on no existing principal or role, and why. */
const NOT_ON_A_TARGET: Record<string, string> = {
  "POST /v1/auth/login": "signs in",
  "POST /v1/auth/logout": "ends the caller's own session",
  "POST /v1/auth/apptoken": "exchanges the caller's own credentials",
  "POST /v1/shares/:id/reveal": "the link is the capability; it reveals, changes no principal",
  "POST /v1/credentials/revoke": "possession of the token is the proof",
  "POST /v1/verify": "changes nothing",
  "PUT /v1/accounts/:account/settings/api-keys":
    "account settings; a deactivation policy acts on every key (tested below)",
  "POST /v1/accounts/:account/settings/api-keys/test": "sends a test notification",
  "POST /api/vtexid/apptoken/login": "exchanges the caller's own credentials",
  "POST /api/vtexid/credential/validate": "changes nothing",
  "POST /v1/me/invitations/:account":
    "the caller's own invitation: only the invited user, with the code the inviting account was given",
  "DELETE /v1/me/invitations/:account":
    "the caller's own invitation: only the invited user, with the code the inviting account was given",
  "POST /v1/me/invitations/:account/preview":
    "changes nothing: shows the caller's own invitation, given its code",
  "DELETE /v1/me/accounts/:account": "the caller's own membership: a user leaves; the last Owner may not",
  "PUT /v1/accounts/:account/settings/profile": "the account's display name and hosts; no principal",
  "POST /v1/me/password": "the caller's own password, given the current one; sessions only",
  "POST /v1/auth/password-reset":
    "mails a link to the address's own inbox; changes nothing until its code is used (passwords tests)",
  "POST /v1/auth/password-reset/complete": "the emailed code is the capability (password-reset-link tests)",
  "POST /v1/accounts/:account/external-keys/requests/:appKey/reject":
    "drops a request that grants nothing yet (no principal loses access); EditApiKeys (external-key-approval tests)",
  "POST /v1/invitations/:account/sign-up":
    "the invited person's own first password, with the code; never a sign-in that has one (vtex-users.test.ts)",
};

/** Mutating routes that create, and may only give what the caller holds (checked in GIVES below). */
const CREATES = [
  "POST /v1/accounts/:account/keys",
  "POST /v1/accounts/:account/roles",
  "POST /v1/accounts/:account/users",
  "POST /v1/accounts/:account/external-keys",
  "POST /api/vlm/appkeys",
  "POST /api/license-manager/users",
  // Keys imported by hash: the create checks per key (keys-import.test.ts, escalation included).
  "POST /v1/accounts/:account/keys/import",
  // Approving gives the requested roles: the adding checks (external-key-approval.test.ts).
  "POST /v1/accounts/:account/external-keys/requests/:appKey/approve",
];

type Variant = "owner" | "oms";
type Kind = "key" | "pending" | "linked" | "external" | "user" | "invited" | "role";

interface Target {
  kind: Kind;
  /** appKey, user id or role id. */
  ref: string;
  /** The generated key's internal id (VTEX paths name keys by it). */
  keyId?: string;
  /** Tokens of a key target, which must still verify after a refusal. */
  tokens: Credentials[];
}

interface Case {
  /** As the router registers it: "METHOD /path/:param". */
  route: string;
  name: string;
  kind: Kind;
  /** Custom roles cannot hold everything: role targets have only the "oms" variant. */
  variants?: Variant[];
  /** The resource the route needs (a caller without it gets FORBIDDEN before the target rule). */
  resource: string;
  vtex?: boolean;
  request(t: Target, strong: number): { method: string; path: string; body?: unknown };
  ok: number;
  /**
   * A bulk route answers 200 with a result per key: the target's result (its error's status and
   * code, or `ok`) is held to the same rule as a single action's answer.
   */
  perKey?: true;
}

/** Roles holding nothing: any caller may give or take them, so only the target rule can refuse. */
let EMPTY = 0;
/** A second one, so the VTEX add gives something the target does not hold yet. */
let EMPTY_ALT = 0;

const CASES: Case[] = [
  {
    route: "PATCH /v1/accounts/:account/keys/:appKey",
    name: "deactivate",
    kind: "key",
    resource: "EditApiKeys",
    request: (t) => ({ method: "PATCH", path: `${A}/keys/${t.ref}`, body: { active: false } }),
    ok: 200,
  },
  {
    route: "PATCH /v1/accounts/:account/keys/:appKey",
    name: "rename",
    kind: "key",
    resource: "EditApiKeys",
    request: (t) => ({ method: "PATCH", path: `${A}/keys/${t.ref}`, body: { name: `renamed ${t.ref}` } }),
    ok: 200,
  },
  ...(["deactivate", "delete"] as const).map(
    (action): Case => ({
      route: "POST /v1/accounts/:account/keys/bulk",
      name: `bulk ${action}`,
      kind: "key",
      resource: "EditApiKeys",
      perKey: true,
      request: (t) => ({ method: "POST", path: `${A}/keys/bulk`, body: { action, appKeys: [t.ref] } }),
      ok: 200,
    }),
  ),
  {
    route: "PUT /v1/accounts/:account/keys/:appKey/roles",
    name: "set roles (drop only a role the caller may take)",
    kind: "key",
    resource: "EditApiKeys",
    request: (t, strong) => ({ method: "PUT", path: `${A}/keys/${t.ref}/roles`, body: { roles: [strong] } }),
    ok: 200,
  },
  {
    route: "DELETE /v1/accounts/:account/keys/:appKey",
    name: "delete",
    kind: "key",
    resource: "EditApiKeys",
    request: (t) => ({ method: "DELETE", path: `${A}/keys/${t.ref}` }),
    ok: 204,
  },
  {
    route: "POST /v1/accounts/:account/keys/:appKey/renewal",
    name: "renew, old token now",
    kind: "key",
    resource: "RenewApiToken",
    request: (t) => ({ method: "POST", path: `${A}/keys/${t.ref}/renewal`, body: { deleteOldToken: "now" } }),
    ok: 201,
  },
  {
    route: "POST /v1/accounts/:account/keys/:appKey/renewal",
    name: "renew through a share link",
    kind: "key",
    resource: "RenewApiToken",
    request: (t) => ({ method: "POST", path: `${A}/keys/${t.ref}/renewal`, body: { delivery: "link" } }),
    ok: 201,
  },
  {
    route: "DELETE /v1/accounts/:account/keys/:appKey/share-link",
    name: "cancel an unopened share link",
    kind: "linked",
    resource: "RenewApiToken",
    request: (t) => ({ method: "DELETE", path: `${A}/keys/${t.ref}/share-link` }),
    ok: 200,
  },
  {
    route: "POST /v1/accounts/:account/keys/:appKey/renewal/complete",
    name: "delete the old token",
    kind: "pending",
    resource: "RenewApiToken",
    request: (t) => ({ method: "POST", path: `${A}/keys/${t.ref}/renewal/complete` }),
    ok: 200,
  },
  {
    route: "DELETE /v1/accounts/:account/keys/:appKey/renewal",
    name: "undo a renewal",
    kind: "pending",
    resource: "RenewApiToken",
    request: (t) => ({ method: "DELETE", path: `${A}/keys/${t.ref}/renewal` }),
    ok: 200,
  },
  {
    route: "PUT /v1/accounts/:account/external-keys/:appKey/roles",
    name: "set an external key's roles",
    kind: "external",
    resource: "EditApiKeys",
    request: (t, strong) => ({
      method: "PUT",
      path: `${A}/external-keys/${t.ref}/roles`,
      body: { roles: [strong] },
    }),
    ok: 200,
  },
  {
    route: "DELETE /v1/accounts/:account/external-keys/:appKey",
    name: "remove an external key",
    kind: "external",
    resource: "EditApiKeys",
    request: (t) => ({ method: "DELETE", path: `${A}/external-keys/${t.ref}` }),
    ok: 204,
  },
  {
    route: "PUT /v1/accounts/:account/users/:id/roles",
    name: "set a user's roles",
    kind: "user",
    resource: "EditAdminUsers",
    request: (t, strong) => ({ method: "PUT", path: `${A}/users/${t.ref}/roles`, body: { roles: [strong] } }),
    ok: 200,
  },
  {
    route: "DELETE /v1/accounts/:account/users/:id",
    name: "remove a user",
    kind: "user",
    resource: "EditAdminUsers",
    request: (t) => ({ method: "DELETE", path: `${A}/users/${t.ref}` }),
    ok: 204,
  },
  {
    route: "POST /v1/accounts/:account/users/:id/password-reset",
    name: "reset a user's password",
    kind: "user",
    resource: "EditAdminUsers",
    request: (t) => ({ method: "POST", path: `${A}/users/${t.ref}/password-reset` }),
    ok: 200,
  },
  {
    route: "PUT /v1/accounts/:account/users/:id/roles",
    name: "set an invited user's offered roles",
    kind: "invited",
    resource: "EditAdminUsers",
    request: (t, strong) => ({ method: "PUT", path: `${A}/users/${t.ref}/roles`, body: { roles: [strong] } }),
    ok: 200,
  },
  {
    route: "DELETE /v1/accounts/:account/users/:id",
    name: "withdraw an invitation",
    kind: "invited",
    resource: "EditAdminUsers",
    request: (t) => ({ method: "DELETE", path: `${A}/users/${t.ref}` }),
    ok: 204,
  },
  {
    route: "PUT /v1/accounts/:account/roles/:id",
    name: "edit a role down to what the caller holds",
    kind: "role",
    variants: ["oms"],
    resource: "EditAdminUsers",
    request: (t) => ({
      method: "PUT",
      path: `${A}/roles/${t.ref}`,
      body: { name: `edited ${t.ref}`, resources: ["ViewApiKeys"] },
    }),
    ok: 200,
  },
  {
    route: "DELETE /v1/accounts/:account/roles/:id",
    name: "delete a role",
    kind: "role",
    variants: ["oms"],
    resource: "EditAdminUsers",
    request: (t) => ({ method: "DELETE", path: `${A}/roles/${t.ref}` }),
    ok: 204,
  },
  {
    route: "PUT /api/vlm/appkeys/:id",
    name: "VTEX deactivate",
    kind: "key",
    resource: "EditApiKeys",
    vtex: true,
    request: (t) => ({
      method: "PUT",
      path: `/api/vlm/appkeys/${t.keyId}?an=acme`,
      body: { isActive: false },
    }),
    ok: 200,
  },
  ...(["user", "invited"] as const).map(
    (kind): Case => ({
      route: "DELETE /api/license-manager/users/:userId",
      name: `VTEX delete a${kind === "user" ? "" : "n"} ${kind} user`,
      kind,
      resource: "EditAdminUsers",
      vtex: true,
      request: (t) => ({ method: "DELETE", path: `/api/license-manager/users/${t.ref}?an=acme` }),
      ok: 200,
    }),
  ),
  ...(["key", "external", "user"] as const).flatMap((kind): Case[] => [
    {
      route: "PUT /api/license-manager/users/:userId/roles",
      name: `VTEX add a role to a ${kind}`,
      kind,
      resource: kind === "user" ? "EditAdminUsers" : "EditApiKeys",
      vtex: true,
      request: (t) => ({
        method: "PUT",
        path: `/api/license-manager/users/${t.ref}/roles?an=acme`,
        body: [EMPTY_ALT],
      }),
      ok: 204,
    },
    {
      route: "DELETE /api/license-manager/users/:userId/roles/:roleId",
      name: `VTEX take a role from a ${kind}`,
      kind,
      resource: kind === "user" ? "EditAdminUsers" : "EditApiKeys",
      vtex: true,
      request: (t) => ({
        method: "DELETE",
        path: `/api/license-manager/users/${t.ref}/roles/${EMPTY}?an=acme`,
      }),
      ok: 204,
    },
  ]),
  {
    route: "PATCH /api/vtexid/apikey/:apiKey/apitoken/renew",
    name: "VTEX renew",
    kind: "key",
    resource: "RenewApiToken",
    vtex: true,
    request: (t) => ({ method: "PATCH", path: `/api/vtexid/apikey/${t.ref}/apitoken/renew?an=acme` }),
    ok: 200,
  },
  {
    route: "PATCH /api/vtexid/apikey/:apiKey/apitoken/finish-renewal",
    name: "VTEX finish a renewal",
    kind: "pending",
    resource: "RenewApiToken",
    vtex: true,
    request: (t) => ({
      method: "PATCH",
      path: `/api/vtexid/apikey/${t.ref}/apitoken/finish-renewal?an=acme`,
    }),
    ok: 200,
  },
];

const TABLES = [
  "keys",
  "tokens",
  "key_roles",
  "external_keys",
  "users",
  "account_members",
  "user_roles",
  "roles",
  "share_links",
  "account_settings",
] as const;

describe.each(["sqlite", "postgres"] as const)("least privilege on %s", (kind) => {
  let h: Harness;
  let betaOwner: Credentials;
  /** Weaker callers: each lacks something every target holds. */
  const weak = new Map<string, { creds: Credentials; holds: Set<string> }>();
  /** Covers every "oms" target without being an Owner. */
  let strongNonOwner: Credentials;
  let serial = 0;

  async function role(name: string, resources: string[]): Promise<number> {
    const res = await h.request("POST", `${A}/roles`, { body: { name, resources } });
    if (res.status !== 201) throw new Error(`role ${name}: ${res.status} ${res.text}`);
    return res.body.id as number;
  }

  beforeAll(async () => {
    h = await createHarness(kind);
    EMPTY = await role("empty", []);
    EMPTY_ALT = await role("empty too", []);
    // Every resource of one product: License Manager, the API-key and admin resources.
    const lm = h.deps.catalog.resources
      .filter((resource) => resource.product === "License Manager")
      .map((resource) => resource.key);
    const shapes: [string, number[], string[]][] = [
      ["renew-only", [await role("renew only", ["RenewApiToken"])], ["RenewApiToken"]],
      ["EditApiKeys-only", [await role("edit only", ["EditApiKeys"])], ["EditApiKeys"]],
      ["User Administrator - RESTRICTED", [USER_ADMIN_RESTRICTED], [...USER_ADMIN_ROLE.resources]],
      ["one product (License Manager)", [await role("license manager", lm)], lm],
    ];
    for (const [name, roles, holds] of shapes) {
      weak.set(name, { creds: await h.createKey(`caller ${name}`, roles), holds: new Set(holds) });
    }
    strongNonOwner = await h.createKey("caller covering OMS", [await role("lm and oms", [...lm]), OMS_READ]);
    const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
    betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
  });

  afterAll(() => h.close());

  /** A fresh principal or role holding `strong` (and EMPTY, which any caller may take). */
  async function makeTarget(kind: Kind, strong: number): Promise<Target> {
    const n = ++serial;
    if (kind === "key" || kind === "pending") {
      const key = await h.createKey(`target ${n}`, [strong, EMPTY]);
      const tokens: Credentials[] = [{ appKey: key.appKey, appToken: key.appToken }];
      if (kind === "pending") {
        const renewed = await h.request("POST", `${A}/keys/${key.appKey}/renewal`, { body: {} });
        expect(renewed.status).toBe(201);
        tokens.push({ appKey: key.appKey, appToken: renewed.body.appToken });
      }
      return { kind, ref: key.appKey, keyId: key.key.id, tokens };
    }
    if (kind === "linked") {
      const made = await h.request("POST", `${A}/keys`, {
        body: { name: `target ${n}`, roles: [strong, EMPTY], delivery: "link" },
      });
      expect(made.status).toBe(201);
      return { kind, ref: made.body.key.appKey, keyId: made.body.key.id, tokens: [] };
    }
    if (kind === "external") {
      const key = await h.createKey(`partner ${n}`, [], "beta", betaOwner);
      const added = await h.request("POST", `${A}/external-keys`, {
        body: { appKey: key.appKey, roles: [strong, EMPTY] },
      });
      expect(added.status).toBe(201);
      return { kind, ref: key.appKey, tokens: [{ appKey: key.appKey, appToken: key.appToken }] };
    }
    if (kind === "user") {
      const added = await h.request("POST", `${A}/users`, {
        body: { email: `target${n}@acme.test`, roles: [strong, EMPTY] },
      });
      expect(added.status).toBe(201);
      return { kind, ref: added.body.user.id, tokens: [] };
    }
    if (kind === "invited") {
      // A sign-in made by beta, then offered the roles here: an invitation, held to the same rule.
      const email = `invitee${n}@beta.test`;
      const made = await h.request("POST", "/v1/accounts/beta/users", { as: betaOwner, body: { email } });
      expect(made.body.user?.status).toBe("active");
      const added = await h.request("POST", `${A}/users`, { body: { email, roles: [strong, EMPTY] } });
      expect([added.status, added.body.user?.status]).toEqual([201, "invited"]);
      return { kind, ref: added.body.user.id, tokens: [] };
    }
    return { kind, ref: String(await role(`target role ${n}`, ["ViewOrders", "ViewApiKeys"])), tokens: [] };
  }

  async function snapshot() {
    const db = h.raw();
    const tables: Record<string, unknown[]> = {};
    for (const table of TABLES) {
      const rows = (await db.selectFrom(table).selectAll().execute()) as Record<string, unknown>[];
      tables[table] = rows
        .map(({ last_used_at: _used, ...row }) => JSON.stringify(row, Object.keys(row).sort()))
        .sort();
    }
    return tables;
  }

  async function verifies(creds: Credentials): Promise<boolean> {
    const res = await h.request("POST", "/v1/verify", { as: null, body: creds });
    return res.body.valid === true;
  }

  async function call(c: Case, t: Target, strong: number, as: Credentials) {
    const { method, path, body } = c.request(t, strong);
    const res = await h.request(method, path, { as, ...(body === undefined ? {} : { body }) });
    if (!c.perKey || res.status !== 200) return res;
    expect(res.body.results).toHaveLength(1);
    const [result] = res.body.results;
    expect(result.appKey).toBe(t.ref);
    return result.ok ? res : { ...res, status: result.error.status as number, body: result.error };
  }

  it("classifies every mutating route: on a target (cases here), creating, or on no target", () => {
    const mutating = new Set(
      h.app.routes
        .filter((r) => ["POST", "PUT", "PATCH", "DELETE"].includes(r.method))
        .map((r) => `${r.method} ${r.path}`),
    );
    const covered = new Set(CASES.map((c) => c.route));
    for (const route of mutating) {
      const known = covered.has(route) || CREATES.includes(route) || route in NOT_ON_A_TARGET;
      expect(known, `${route} is not classified in the least-privilege matrix`).toBe(true);
    }
    for (const route of covered) expect(mutating.has(route), `${route} no longer exists`).toBe(true);
  });

  for (const c of CASES) {
    for (const variant of c.variants ?? (["owner", "oms"] as const)) {
      const strong = variant === "owner" ? OWNER_ROLE : OMS_READ;

      it(`${c.name}: weaker callers get 403 and nothing changes (${variant} target)`, async () => {
        for (const [shape, caller] of weak) {
          const t = await makeTarget(c.kind, strong);
          const before = await snapshot();
          const auditBefore = (await h.store.audit.list("acme", 1)).at(0)?.id;
          const res = await call(c, t, strong, caller.creds);
          const label = `${c.name} as ${shape} on a ${variant} ${c.kind}`;
          expect(res.status, `${label}: ${res.text}`).toBe(403);
          const holdsRoute = caller.holds.has(c.resource);
          if (c.vtex) {
            expect(res.body.Message, label).toMatch(holdsRoute ? /^You cannot act on / : /needs the/);
          } else {
            expect(res.body.code, label).toBe(holdsRoute ? "TARGET_EXCEEDS_CALLER" : "FORBIDDEN");
          }
          expect(await snapshot(), label).toEqual(before);
          for (const token of t.tokens) expect(await verifies(token), `${label}: token`).toBe(true);
          const [last] = await h.store.audit.list("acme", 1);
          if (holdsRoute) {
            expect(last?.action, label).toBe("access.refused");
            expect(last?.actorId, label).toBe(caller.creds.appKey);
            expect(last?.data, label).toMatchObject({ code: "TARGET_EXCEEDS_CALLER" });
          } else {
            expect(last?.id, `${label}: a guard refusal writes no event`).toBe(auditBefore);
          }
        }
      });

      it(`${c.name}: a caller covering the target succeeds (${variant} target)`, async () => {
        const callers = variant === "owner" ? [h.owner] : [h.owner, strongNonOwner];
        for (const caller of callers) {
          const t = await makeTarget(c.kind, strong);
          const before = await snapshot();
          const res = await call(c, t, strong, caller);
          expect(res.status, `${c.name} as ${caller.appKey}: ${res.text}`).toBe(c.ok);
          expect(await snapshot()).not.toEqual(before);
        }
      });
    }
  }

  it("a key may always renew and deactivate itself", async () => {
    const shape = weak.get("User Administrator - RESTRICTED");
    if (!shape) throw new Error("shape missing");
    const self = await h.createKey("self", [USER_ADMIN_RESTRICTED]);
    const renewed = await h.request("POST", `${A}/keys/${self.appKey}/renewal`, { as: self, body: {} });
    expect(renewed.status).toBe(201);
    const next = { appKey: self.appKey, appToken: renewed.body.appToken as string };
    const done = await h.request("POST", `${A}/keys/${self.appKey}/renewal/complete`, { as: next });
    expect(done.status).toBe(200);
    expect(await verifies(self)).toBe(false);
    const off = await h.request("PATCH", `${A}/keys/${self.appKey}`, { as: next, body: { active: false } });
    expect([off.status, off.body.active]).toEqual([200, false]);
    expect(await verifies(next)).toBe(false);
  });

  it("creating gives only what the caller holds (escalation refused and audited)", async () => {
    const caller = weak.get("User Administrator - RESTRICTED")?.creds as Credentials;
    const partner = await h.createKey("partner for create", [], "beta", betaOwner);
    const gives = [
      ["POST", `${A}/keys`, { name: "escalated", roles: [OWNER_ROLE] }],
      ["POST", `${A}/keys`, { name: "escalated oms", roles: [OMS_READ] }],
      ["POST", `${A}/roles`, { name: "escalated role", resources: ["ViewOrders"] }],
      ["POST", `${A}/users`, { email: "escalated@acme.test", roles: [OWNER_ROLE] }],
      ["POST", `${A}/external-keys`, { appKey: partner.appKey, roles: [OMS_READ] }],
    ] as const;
    for (const [method, path, body] of gives) {
      const before = await snapshot();
      const res = await h.request(method, path, { as: caller, body });
      expect([res.status, res.body.code], `${method} ${path}`).toEqual([403, "ESCALATION_DENIED"]);
      expect(await snapshot()).toEqual(before);
      const [last] = await h.store.audit.list("acme", 1);
      expect(last?.action).toBe("access.refused");
    }
  });

  it("turning on or shortening a deactivation policy needs a caller covering every key", async () => {
    const path = `${A}/settings/api-keys`;
    const settings = (policies: Record<string, number | null>) => ({
      renewalPeriodMonths: 3,
      notifications: { emails: [], webhooks: [] },
      policies: { deactivateUnusedDays: null, maxTokenAgeDays: null, ...policies },
    });
    const caller = weak.get("User Administrator - RESTRICTED")?.creds as Credentials;
    for (const policies of [{ deactivateUnusedDays: 1 }, { maxTokenAgeDays: 1 }]) {
      const before = await snapshot();
      const res = await h.request("PUT", path, { as: caller, body: settings(policies) });
      expect([res.status, res.body.code]).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
      expect(await snapshot()).toEqual(before);
      const [last] = await h.store.audit.list("acme", 1);
      expect([last?.action, last?.data]).toMatchObject(["access.refused", { attempted: "settings.updated" }]);
    }
    // Settings that deactivate nothing more are the caller's to change.
    expect((await h.request("PUT", path, { as: caller, body: settings({}) })).status).toBe(200);
    const owner = await h.request("PUT", path, { body: settings({ deactivateUnusedDays: 30 }) });
    expect(owner.status).toBe(200);
    const relaxed = await h.request("PUT", path, {
      as: caller,
      body: settings({ deactivateUnusedDays: 60 }),
    });
    expect(relaxed.status).toBe(200);
    const tighter = await h.request("PUT", path, {
      as: caller,
      body: settings({ deactivateUnusedDays: 45 }),
    });
    expect([tighter.status, tighter.body.code]).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
    expect((await h.request("PUT", path, { as: caller, body: settings({}) })).status).toBe(200);
  });

  it("issuing or restoring the token of a key other accounts gave roles is for an Owner or the key", async () => {
    const renewer = weak.get("renew-only")?.creds as Credentials;
    const editor = weak.get("one product (License Manager)")?.creds as Credentials;
    // It may renew itself here (RenewApiToken), and is Owner in beta.
    const { appKey, appToken } = await h.createKey("partner of beta", [
      await role("partner renews", ["RenewApiToken"]),
    ]);
    const partner: Credentials = { appKey, appToken };
    const toBeta = { appKey: partner.appKey, roles: [OWNER_ROLE] };
    expect(
      (await h.request("POST", "/v1/accounts/beta/external-keys", { as: betaOwner, body: toBeta })).status,
    ).toBe(201);
    const renewal = `${A}/keys/${partner.appKey}/renewal`;
    for (const body of [{ deleteOldToken: "now" }, { delivery: "link" }, {}]) {
      const before = await snapshot();
      const res = await h.request("POST", renewal, { as: renewer, body });
      expect([res.status, res.body.code]).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
      expect(res.body.detail).toMatch(/other accounts gave it roles/);
      expect(await snapshot()).toEqual(before);
    }
    const vtex = await h.request("PATCH", `/api/vtexid/apikey/${partner.appKey}/apitoken/renew?an=acme`, {
      as: renewer,
    });
    expect(vtex.status).toBe(403);
    expect(await verifies(partner)).toBe(true);
    // Switching it off takes power away: the key's own grant here is all that is checked.
    const path = `${A}/keys/${partner.appKey}`;
    expect((await h.request("PATCH", path, { as: editor, body: { active: false } })).status).toBe(200);
    const on = await h.request("PATCH", path, { as: editor, body: { active: true } });
    expect([on.status, on.body.code]).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
    expect((await h.request("PATCH", path, { body: { active: true } })).status).toBe(200);
    // The key itself, and an Owner of its account, may renew it.
    const own = await h.request("POST", renewal, { as: partner, body: {} });
    expect(own.status).toBe(201);
    expect((await h.request("DELETE", renewal)).status).toBe(200);
    // Once the other account holds nothing for it, the key is an ordinary target again.
    const none = { roles: [] };
    const cleared = await h.request("PUT", `/v1/accounts/beta/external-keys/${partner.appKey}/roles`, {
      as: betaOwner,
      body: none,
    });
    expect(cleared.status).toBe(200);
    expect((await h.request("POST", renewal, { as: renewer, body: {} })).status).toBe(201);
  });

  it("editing a role acts on its holders: the caller must cover what they hold", async () => {
    const caller = weak.get("User Administrator - RESTRICTED")?.creds as Credentials;
    const shared = await role("shared with a stronger holder", ["ViewApiKeys"]);
    await h.createKey("holder covered", [shared]);
    const edit = (resources: string[]) =>
      h.request("PUT", `${A}/roles/${shared}`, { as: caller, body: { name: "shared", resources } });
    expect((await edit(["ViewApiKeys", "EditApiKeys"])).status).toBe(200);
    const stronger = await h.createKey("holder stronger", [shared, OMS_READ]);
    const before = await snapshot();
    for (const resources of [["ViewApiKeys", "EditApiKeys", "RenewApiToken"], []]) {
      const res = await edit(resources);
      expect([res.status, res.body.code]).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
    }
    expect(await snapshot()).toEqual(before);
    expect(
      (await h.request("PUT", `${A}/keys/${stronger.appKey}/roles`, { body: { roles: [shared] } })).status,
    ).toBe(200);
    expect((await edit(["ViewApiKeys"])).status).toBe(200);
  });

  it("an admin user signed in to the UI is held to the same rule", async () => {
    const email = "restricted@acme.test";
    const password = "a long enough password";
    const made = await h.request("POST", `${A}/users`, {
      body: { email, password, roles: [USER_ADMIN_RESTRICTED] },
    });
    expect(made.status).toBe(201);
    const login = await h.app.request("/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
    const csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
    const cookie = login.headers
      .getSetCookie()
      .map((line) => line.split(";")[0])
      .join("; ");
    const before = await snapshot();
    const res = await h.app.request(`${A}/keys/${h.owner.appKey}`, {
      method: "PATCH",
      headers: { cookie, "x-csrf-token": csrf, "content-type": "application/json" },
      body: JSON.stringify({ active: false }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe("TARGET_EXCEEDS_CALLER");
    expect(await snapshot()).toEqual(before);
    expect(await verifies(h.owner)).toBe(true);
  });
});
