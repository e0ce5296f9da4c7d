/**
 * What each side of an external key sees (SPEC §2.2), on SQLite and real PostgreSQL. The adding
 * account (beta) sees the addition's own id and the key's last use in beta, in its list, export,
 * access review and VTEX paths: never the owner's internal key id or the key's use in the owner's
 * account (acme). The owner's audit log records the addition and the removal, naming beta only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const BETA = "/v1/accounts/beta/external-keys";
const USER_ADMIN = 2;
const OMS_READ = 10;
const MINUTE = 60_000;
const T0 = Date.parse("2026-11-26T10:00:00Z");

describe.each(["sqlite", "postgres"] as const)(
  "external keys: each account sees its own side, on %s",
  (kind) => {
    let h: Harness;
    let betaOwner: Credentials;
    let now = T0;

    beforeAll(async () => {
      h = await createHarness(kind);
      const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
      betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
    });
    afterAll(() => h.close());

    /** Moves the clock on and returns the new instant, as the API shows it. */
    function tick(): string {
      h.advance(MINUTE);
      now += MINUTE;
      return new Date(now).toISOString();
    }

    function authorize(key: Credentials, account?: string, uri = "/api/oms/pvt/orders/1") {
      const headers: Record<string, string> = {
        "x-api-appkey": key.appKey,
        "x-api-apptoken": key.appToken,
        "x-original-method": "GET",
        "x-original-uri": uri,
        ...(account ? { "x-api-account": account } : {}),
      };
      return h.request("GET", "/v1/authorize", { as: null, headers });
    }

    function verify(key: Credentials, account: string) {
      const body = { appKey: key.appKey, appToken: key.appToken, account };
      return h.request("POST", "/v1/verify", { as: null, body });
    }

    /** Everything beta is shown of the key: its list item, its export rows, and the raw texts. */
    async function seenByBeta(appKey: string) {
      const list = await h.request("GET", BETA, { as: betaOwner });
      const json = await h.request("GET", "/v1/accounts/beta/keys/export?format=json", { as: betaOwner });
      const csv = await h.request("GET", "/v1/accounts/beta/keys/export?format=csv", { as: betaOwner });
      const review = await h.request("GET", "/v1/accounts/beta/keys/review?days=1", { as: betaOwner });
      expect([list.status, json.status, csv.status, review.status]).toEqual([200, 200, 200, 200]);
      const byAppKey = (item: { appKey?: string; keyName?: string }) =>
        (item.appKey ?? item.keyName) === appKey;
      return {
        item: list.body.items.find(byAppKey),
        row: json.body.external.find(byAppKey),
        reviewed: review.body.items.find(byAppKey),
        texts: [list.text, json.text, csv.text, review.text],
      };
    }

    it("shows the adding account an id of its own and the key's last use there only", async () => {
      const key = await h.createKey("shared erp", [OMS_READ]);
      const internalId = key.key.id as string;
      const added = await h.request("POST", BETA, {
        as: betaOwner,
        body: { appKey: key.appKey, roles: [OMS_READ, USER_ADMIN] },
      });
      expect(added.status, added.text).toBe(201);
      const grantId = added.body.id as string;
      expect(grantId).not.toBe(internalId);

      // Used in acme only: through the gateway, by a verifying service and on the management API.
      const inAcme = tick();
      expect((await authorize(key)).status).toBe(200);
      expect((await verify(key, "acme")).body.valid).toBe(true);
      expect((await h.request("GET", "/v1/me", { as: key })).status).toBe(200);
      await h.services.usage.flush();
      expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`)).body.lastUsedAt).toBe(inAcme);
      tick(); // so that no other instant of beta's views (the review's own time) is the one of that use
      let seen = await seenByBeta(key.appKey);
      expect(seen.item).toMatchObject({ id: grantId, lastUsedAt: null });
      expect(seen.row).toMatchObject({ id: grantId, lastUsedAt: null });
      for (const text of seen.texts) {
        expect(text).not.toContain(internalId);
        expect(text).not.toContain(inAcme);
      }

      // The VTEX paths find it by the addition's id or appKey, never by the owner's id.
      const vtexRoles = (ref: string) =>
        h.request("GET", `/api/license-manager/users/${ref}/roles?an=beta`, { as: betaOwner });
      for (const ref of [grantId, key.appKey]) {
        const res = await vtexRoles(ref);
        expect([res.status, res.body.map((role: { id: number }) => role.id)], ref).toEqual([
          200,
          [USER_ADMIN, OMS_READ],
        ]);
      }
      expect([(await vtexRoles(internalId)).status, (await vtexRoles(internalId)).body]).toEqual([
        400,
        { Message: "Invalid UserId" },
      ]);

      // Each allowed call in beta moves beta's last use: gateway, verification without a resource,
      // native and VTEX management calls. A call refused in beta does not.
      const calls: [string, () => Promise<{ status: number; body: { valid?: boolean } }>][] = [
        ["authorize", () => authorize(key, "beta")],
        ["verify", () => verify(key, "beta")],
        ["native", () => h.request("GET", "/v1/accounts/beta/keys", { as: key })],
        [
          "vtex",
          () =>
            h.request("GET", "/api/vlm/appkeys?an=beta", {
              as: null,
              headers: { "x-vtex-api-appkey": key.appKey, "x-vtex-api-apptoken": key.appToken },
            }),
        ],
      ];
      for (const [name, call] of calls) {
        const at = tick();
        const res = await call();
        expect(res.status, name).toBe(200);
        expect(res.body?.valid ?? true, name).toBe(true);
        tick();
        expect((await authorize(key, "beta", "/api/catalog/pvt/products/1")).status, name).toBe(403);
        await h.services.usage.flush();
        seen = await seenByBeta(key.appKey);
        expect([seen.item.lastUsedAt, seen.row.lastUsedAt], name).toEqual([at, at]);
      }
      const lastInBeta = seen.item.lastUsedAt;

      // Used in acme again: beta still sees its own last use; the owner sees the key's.
      const later = tick();
      expect((await authorize(key)).status).toBe(200);
      await h.services.usage.flush();
      tick();
      seen = await seenByBeta(key.appKey);
      expect([seen.item.lastUsedAt, seen.row.lastUsedAt]).toEqual([lastInBeta, lastInBeta]);
      for (const text of seen.texts) expect(text).not.toContain(later);
      expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`)).body.lastUsedAt).toBe(later);
      // The usage route is for the account's own keys: beta gets no counts of it.
      const usage = await h.request("GET", `/v1/accounts/beta/keys/${key.appKey}/usage`, { as: betaOwner });
      expect([usage.status, usage.body.code]).toEqual([404, "KEY_NOT_FOUND"]);
    });

    it("reviews an external key by its addition and use in the reviewing account", async () => {
      const key = await h.createKey("reviewed elsewhere", [OMS_READ]);
      tick();
      expect((await h.request("POST", BETA, { as: betaOwner, body: { appKey: key.appKey } })).status).toBe(
        201,
      );
      tick();
      expect((await authorize(key)).status).toBe(200);
      await h.services.usage.flush();
      h.advance(2 * 86_400_000);
      now += 2 * 86_400_000;
      const { reviewed } = await seenByBeta(key.appKey);
      expect(reviewed).toMatchObject({ keyType: "external", lastUsedAt: null });
      expect(reviewed.findings[0]).toMatchObject({
        kind: "never_used",
        suggestion: "Remove the external key",
      });
      expect(reviewed.findings[0].detail).toMatch(/^Never used since it was added on /);
    });

    it("records the addition and the removal in the owner's log, naming the adding account only", async () => {
      const key = await h.createKey("audited elsewhere");
      const body = { appKey: key.appKey, roles: [OMS_READ, USER_ADMIN] };
      expect((await h.request("POST", BETA, { as: betaOwner, body })).status).toBe(201);
      expect((await h.request("DELETE", `${BETA}/${key.appKey}`, { as: betaOwner })).status).toBe(204);
      const trail = await h.request("GET", `/v1/accounts/acme/audit?target=${key.appKey}`);
      expect(trail.status).toBe(200);
      const [removed, added] = trail.body.items;
      for (const [event, action] of [
        [added, "key.added_elsewhere"],
        [removed, "key.removed_elsewhere"],
      ]) {
        expect(event).toMatchObject({
          account: "acme",
          action,
          actor: { type: "system", id: "account", label: "beta" },
          target: { type: "key", id: key.appKey },
          ip: null,
          userAgent: null,
          requestId: null,
          data: { account: "beta" },
        });
      }
      // Beta's own log has its side, with its roles; nothing of beta's callers reaches acme's.
      const betaLog = (await h.store.audit.list("beta", 2)).map((event) => event.action);
      expect(betaLog).toEqual(["external_key.removed", "external_key.added"]);
      expect(JSON.stringify(trail.body)).not.toContain(betaOwner.appKey);
      for (const account of ["acme", "beta"]) {
        const as = account === "acme" ? h.owner : betaOwner;
        const check = await h.request("GET", `/v1/accounts/${account}/audit/verify`, { as });
        expect([check.status, check.body.ok], account).toEqual([200, true]);
      }
    });

    it("validates a JWT minted for beta with beta's id for the addition, and not once it is removed", async () => {
      const key = await h.createKey("validated in beta");
      const creds = { appKey: key.appKey, appToken: key.appToken };
      const added = await h.request("POST", BETA, { as: betaOwner, body: { appKey: key.appKey } });
      expect(added.status).toBe(201);
      const minted = await h.request("POST", "/v1/auth/apptoken", {
        as: null,
        body: { ...creds, account: "beta" },
      });
      expect(minted.status).toBe(200);
      const validate = () =>
        h.request("POST", "/api/vtexid/credential/validate", {
          as: null,
          body: { token: minted.body.token },
        });
      const valid = await validate();
      expect(valid.status).toBe(200);
      expect(valid.body).toMatchObject({ authStatus: "Success", id: added.body.id, account: "beta" });
      expect(valid.text).not.toContain(key.key.id);
      expect((await h.request("DELETE", `${BETA}/${key.appKey}`, { as: betaOwner })).status).toBe(204);
      const gone = await validate();
      expect([gone.status, gone.body]).toEqual([401, { authStatus: "WrongCredentials" }]);
    });

    it("tells every account that added a key when its owner deletes it", async () => {
      const key = await h.createKey("deleted by its owner");
      expect((await h.request("POST", BETA, { as: betaOwner, body: { appKey: key.appKey } })).status).toBe(
        201,
      );
      expect((await h.request("DELETE", `/v1/accounts/acme/keys/${key.appKey}`)).status).toBe(204);
      const [event] = await h.store.audit.list("beta", 1);
      expect(event).toMatchObject({
        account: "beta",
        action: "external_key.deleted_by_owner",
        actorType: "system",
        actorId: "account",
        actorLabel: "acme",
        targetType: "external_key",
        targetId: key.appKey,
        ip: null,
        data: { owner: "acme" },
      });
      expect(
        (await h.request("GET", BETA, { as: betaOwner })).body.items.map((k: { appKey: string }) => k.appKey),
      ).not.toContain(key.appKey);
      const check = await h.request("GET", "/v1/accounts/beta/audit/verify", { as: betaOwner });
      expect([check.status, check.body.ok]).toEqual([200, true]);
    });

    it("adds keys crossing between two accounts at once: both land, both logs stay chained", async () => {
      const ours = await h.createKey("crossing acme");
      const theirs = await h.createKey("crossing beta", [], "beta", betaOwner);
      const results = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          i % 2 === 0
            ? h.request("POST", BETA, { as: betaOwner, body: { appKey: ours.appKey } })
            : h.request("POST", "/v1/accounts/acme/external-keys", { body: { appKey: theirs.appKey } }),
        ),
      );
      expect(results.map((res) => res.status).sort()).toEqual([201, 201, 409, 409]);
      for (const [account, as] of [
        ["acme", h.owner],
        ["beta", betaOwner],
      ] as const) {
        const check = await h.request("GET", `/v1/accounts/${account}/audit/verify`, { as });
        expect([check.status, check.body.ok], account).toEqual([200, true]);
        const elsewhere = await h.request("GET", `/v1/accounts/${account}/audit?action=key.added_elsewhere`, {
          as,
        });
        const appKey = account === "acme" ? ours.appKey : theirs.appKey;
        expect(
          elsewhere.body.items.filter((e: { target: { id: string } }) => e.target.id === appKey),
        ).toHaveLength(1);
      }
    });
  },
);
