/**
 * Adding an external key tells whether an appKey exists only to a caller who could add it: every
 * refusal the caller would get anyway (validation, the resource guard, an unknown role, escalation)
 * comes first and reads the same for an existing, an unknown and a malformed appKey; a malformed
 * appKey is unknown without a lookup. On SQLite and real PostgreSQL, native and VTEX paths.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { KyselyExternalKeys } from "../../src/storage/kysely-external-keys.js";
import { KyselyKeys } from "../../src/storage/kysely-keys.js";
import { type Credentials, createHarness, type Harness, type TestResponse } from "../support/harness.js";

const BETA = "/v1/accounts/beta/external-keys";
const USER_ADMIN = 2;
const OMS_READ = 10;
const UNKNOWN = "appkey-nosuch-ZZZZZZ";
const MALFORMED = [
  "not-an-appkey",
  "appkey-acme-abcdef",
  "appkey-acme-ABCDEFG",
  "APPKEY-acme-ABCDEF",
  "appkey--ABCDEF",
  `appkey-${"a".repeat(60)}-ABCDEF`,
];

/** What a caller can compare between two answers: everything but the request id. */
function answer(res: TestResponse) {
  const { requestId: _requestId, ...body } = res.body ?? {};
  return { status: res.status, body };
}

describe.each(["sqlite", "postgres"] as const)(
  "external keys: add refuses before it looks up, on %s",
  (kind) => {
    let h: Harness;
    let betaOwner: Credentials;
    /** Holds User Administrator in beta: EditApiKeys, but not the OMS resources. */
    let betaAdmin: Credentials;
    let existing: string;

    beforeAll(async () => {
      h = await createHarness(kind);
      const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
      betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
      betaAdmin = await h.createKey("beta admin", [USER_ADMIN], "beta", betaOwner);
      existing = (await h.createKey("exists in acme", [OMS_READ])).appKey;
    });
    afterAll(() => h.close());
    afterEach(() => vi.restoreAllMocks());

    async function sideEffects() {
      const list = await h.request("GET", BETA, { as: betaOwner });
      return {
        added: list.body.items.length,
        acmeLog: (await h.store.audit.list("acme", 1000)).length,
      };
    }

    it("answers validation, the guard, unknown roles and escalation alike, whatever the appKey", async () => {
      const before = await sideEffects();
      const cases: [string, Credentials, (appKey: string) => unknown, number, string][] = [
        ["unknown field", betaOwner, (appKey) => ({ appKey, colour: "red" }), 400, "VALIDATION_FAILED"],
        ["roles not a list", betaOwner, (appKey) => ({ appKey, roles: OMS_READ }), 400, "VALIDATION_FAILED"],
        ["no EditApiKeys in beta", h.owner, (appKey) => ({ appKey }), 403, "FORBIDDEN"],
        ["unknown role", betaOwner, (appKey) => ({ appKey, roles: [99999] }), 400, "UNKNOWN_ROLE"],
        ["escalation", betaAdmin, (appKey) => ({ appKey, roles: [OMS_READ] }), 403, "ESCALATION_DENIED"],
      ];
      for (const [name, as, body, status, code] of cases) {
        const answers = [];
        for (const appKey of [existing, UNKNOWN, ...MALFORMED]) {
          const res = await h.request("POST", BETA, { as, body: body(appKey) });
          expect([res.status, res.body.code], `${name}: ${appKey}`).toEqual([status, code]);
          answers.push(answer(res));
        }
        // Validation names the field, never the appKey: identical answers for every appKey.
        for (const other of answers.slice(1)) expect(other, name).toEqual(answers[0]);
      }
      // The refused escalations were audited in beta, all alike, and nothing reached acme.
      const refused = (await h.store.audit.list("beta", 2 + MALFORMED.length)).filter(
        (event) => event.action === "access.refused",
      );
      expect(refused).toHaveLength(2 + MALFORMED.length);
      for (const event of refused) {
        expect([event.targetId, event.data]).toEqual([refused[0]?.targetId, refused[0]?.data]);
      }
      expect(await sideEffects()).toEqual(before);
    });

    it("answers a malformed appKey as an unknown one, without looking it up", async () => {
      const lookups = vi.spyOn(KyselyKeys.prototype, "getByAppKey");
      const unknown = await h.request("POST", BETA, { as: betaOwner, body: { appKey: UNKNOWN } });
      expect([unknown.status, unknown.body.code]).toEqual([404, "EXTERNAL_KEY_NOT_FOUND"]);
      expect(lookups.mock.calls.map(([appKey]) => appKey)).toContain(UNKNOWN);
      for (const appKey of MALFORMED) {
        const res = await h.request("POST", BETA, { as: betaOwner, body: { appKey } });
        expect(answer(res), appKey).toEqual({
          status: 404,
          body: { ...answer(unknown).body, detail: `No key ${appKey} exists` },
        });
        const path = `${BETA}/${encodeURIComponent(appKey)}`;
        for (const [method, url, body] of [
          ["PUT", `${path}/roles`, { roles: [] }],
          ["DELETE", path, undefined],
        ] as const) {
          const res = await h.request(method, url, { as: betaOwner, ...(body ? { body } : {}) });
          expect([res.status, res.body.code], `${method} ${appKey}`).toEqual([404, "EXTERNAL_KEY_NOT_ADDED"]);
        }
      }
      const looked = lookups.mock.calls.map(([appKey]) => appKey);
      for (const appKey of MALFORMED) expect(looked).not.toContain(appKey);
    });

    it("on the VTEX paths, refuses a caller who may manage neither keys nor users before any lookup", async () => {
      const partner = await h.createKey("added to beta");
      const added = await h.request("POST", BETA, { as: betaOwner, body: { appKey: partner.appKey } });
      expect(added.status).toBe(201);
      const outsider = await h.createKey("no grant in beta");
      const vtex = (method: string, ref: string, body?: unknown) =>
        h.request(method, `/api/license-manager/users/${encodeURIComponent(ref)}/roles?an=beta`, {
          as: null,
          headers: { "x-vtex-api-appkey": outsider.appKey, "x-vtex-api-apptoken": outsider.appToken },
          ...(body === undefined ? {} : { body }),
        });
      const refs = [added.body.id, partner.appKey, betaAdmin.appKey, "no-such-id", UNKNOWN, "not an appkey"];
      const lookups = vi.spyOn(KyselyKeys.prototype, "getByAppKey");
      const finds = vi.spyOn(KyselyExternalKeys.prototype, "findById");
      for (const [method, body, resources] of [
        ["GET", undefined, "ViewApiKeys or ViewAdminUsers"],
        ["PUT", [OMS_READ], "EditApiKeys or EditAdminUsers"],
      ] as const) {
        for (const ref of refs) {
          const res = await vtex(method, ref, body);
          expect([res.status, res.body], `${method} ${ref}`).toEqual([
            403,
            { Message: `This needs the ${resources} resource in account beta` },
          ]);
        }
      }
      expect(lookups.mock.calls.map(([appKey]) => appKey)).not.toContain(partner.appKey);
      expect(finds).not.toHaveBeenCalled();
      // Beta's owner finds the key by the addition's id or its appKey.
      const own = await h.request("GET", `/api/license-manager/users/${added.body.id}/roles?an=beta`, {
        as: null,
        headers: { "x-vtex-api-appkey": betaOwner.appKey, "x-vtex-api-apptoken": betaOwner.appToken },
      });
      expect([own.status, own.body]).toEqual([200, []]);
    });
  },
);
