/**
 * What an integrator sees of its own key (GET /v1/me: the key view and which token it called with,
 * with no resource needed), each token's last use while a renewal is pending, and cancelling a
 * share link that blocks renewal. On both databases.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecret, signIn } from "../support/audit.js";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const A = "/v1/accounts/acme";

describe.each(["sqlite", "postgres"] as const)("%s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind);
  });
  afterAll(() => h.close());

  const me = (as: Credentials) => h.request("GET", "/v1/me", { as });
  const renew = (appKey: string, body: unknown = {}) =>
    h.request("POST", `${A}/keys/${appKey}/renewal`, { body });
  const tokenHashes = async (keyId: string) =>
    (await h.raw().selectFrom("tokens").select("hash").where("key_id", "=", keyId).execute()).map(
      (row) => row.hash,
    );

  describe("GET /v1/me as a key", () => {
    it("shows a key with no roles its own key view and which token it called with, never a token", async () => {
      const key = await h.createKey("no roles at all");
      // It may not read keys through the keys API…
      expect((await h.request("GET", `${A}/keys/${key.appKey}`, { as: key })).status).toBe(403);
      h.advance(100 * DAY);
      const res = await me(key);
      expect(res.status).toBe(200);
      expect(res.body.principal).toMatchObject({
        type: "key",
        appKey: key.appKey,
        account: "acme",
        token: "current",
        key: {
          appKey: key.appKey,
          creationDateToken: key.key.creationDateToken,
          creationDateNewToken: null,
          pendingRenewal: false,
          alert: "orange",
          tokenAgeDays: 100,
        },
      });
      // …and /v1/me gives it exactly the view an operator reads there.
      const view = await h.request("GET", `${A}/keys/${key.appKey}`);
      expect(res.body.principal.key).toEqual(view.body);

      const renewed = await renew(key.appKey);
      const fresh = { appKey: key.appKey, appToken: renewed.body.appToken as string };
      const byOld = await me(key);
      const byNew = await me(fresh);
      expect(byOld.body.principal.token).toBe("old");
      expect(byNew.body.principal.token).toBe("new");
      expect(byNew.body.principal.key).toMatchObject({
        pendingRenewal: true,
        creationDateToken: key.key.creationDateToken,
        creationDateNewToken: renewed.body.key.creationDateNewToken,
        alert: "none",
        tokenAgeDays: 0,
      });
      const secrets = [key.appToken, fresh.appToken, ...(await tokenHashes(key.key.id))];
      expectNoSecret([byOld.text, byNew.text, res.text], secrets);

      await h.request("POST", `${A}/keys/${key.appKey}/renewal/complete`);
      expect((await me(fresh)).body.principal.token).toBe("current");
    });

    it("tells which token a JWT was minted from", async () => {
      const key = await h.createKey("jwt caller", [10]);
      const renewed = await renew(key.appKey);
      const login = await h.request("POST", "/v1/auth/apptoken", {
        as: null,
        body: { appKey: key.appKey, appToken: key.appToken },
      });
      expect(login.status).toBe(200);
      const res = await h.request("GET", "/v1/me", {
        as: null,
        headers: { authorization: `Bearer ${login.body.token}` },
      });
      expect(res.body.principal).toMatchObject({ type: "key", token: "old", key: { pendingRenewal: true } });
      expectNoSecret(res.text, [key.appToken, renewed.body.appToken, login.body.token]);
    });

    it("a signed-in user's /v1/me has no key view", async () => {
      const session = await signIn(h, "owner@acme.test", OWNER_PASSWORD);
      const res = await h.request("GET", "/v1/me", session);
      expect(res.body.principal).toEqual({
        type: "user",
        id: expect.any(String),
        email: "owner@acme.test",
        mustChangePassword: false,
      });
    });
  });

  describe("last use per token", () => {
    it("records, through the batched usage path, the last use of the old and of the new token", async () => {
      const key = await h.createKey("switching", [10]);
      const renewed = await renew(key.appKey);
      const fresh = { appKey: key.appKey, appToken: renewed.body.appToken as string };
      const path = `${A}/keys/${key.appKey}`;
      // Nothing is written on the request path: the view moves only once the batch is written.
      h.advance(MINUTE);
      await h.request("POST", "/v1/verify", {
        as: null,
        body: { appKey: key.appKey, appToken: key.appToken, resource: "ViewOrders" },
      });
      const unflushed = (await h.request("GET", path)).body;
      expect([unflushed.lastUsedAtToken, unflushed.lastUsedAtNewToken]).toEqual([null, null]);
      await h.services.usage.flush();
      const oldUse = new Date(Date.parse(key.key.creationDate) + MINUTE).toISOString();
      let view = (await h.request("GET", path)).body;
      expect([view.lastUsedAtToken, view.lastUsedAtNewToken]).toEqual([oldUse, null]);

      h.advance(MINUTE);
      await h.request("POST", "/v1/verify", { as: null, body: { ...fresh, resource: "ViewOrders" } });
      h.advance(MINUTE);
      expect((await me(fresh)).status).toBe(200);
      await h.services.usage.flush();
      const newUse = new Date(Date.parse(oldUse) + 2 * MINUTE).toISOString();
      view = (await h.request("GET", path)).body;
      expect(view).toMatchObject({ lastUsedAtToken: oldUse, lastUsedAtNewToken: newUse, lastUsedAt: newUse });
      // The integrator sees the same through /v1/me, by which it can tell it has switched.
      expect((await me(fresh)).body.principal.key).toMatchObject({ lastUsedAtToken: oldUse });

      // Completed: the new token is the current one and keeps its last use.
      await h.request("POST", `${A}/keys/${key.appKey}/renewal/complete`);
      view = (await h.request("GET", path)).body;
      expect(view).toMatchObject({ lastUsedAtToken: newUse, lastUsedAtNewToken: null });
    });
  });

  describe("share links that block renewal", () => {
    async function linked(name: string, roles: number[] = [10]) {
      const made = await h.request("POST", `${A}/keys`, { body: { name, roles, delivery: "link" } });
      expect(made.status).toBe(201);
      return { appKey: made.body.key.appKey as string, shareUrl: made.body.shareUrl as string };
    }
    const linkPath = (appKey: string) => `${A}/keys/${appKey}/share-link`;

    it("the refusal says how to cancel; cancelling unblocks renewal, is audited, and the link answers 410", async () => {
      const key = await linked("delivered by link");
      const blocked = await renew(key.appKey);
      expect([blocked.status, blocked.body.code]).toEqual([409, "SHARE_LINK_UNOPENED"]);
      expect(blocked.body.detail).toContain(`DELETE /v1/accounts/acme/keys/${key.appKey}/share-link`);
      expect(blocked.body.detail).toContain("latchkey keys cancel-share-link");

      const state = await h.request("GET", linkPath(key.appKey));
      expect(state.status).toBe(200);
      expect(state.body).toMatchObject({
        appKey: key.appKey,
        blocksRenewal: true,
        shareLink: { state: "unopened", revealedAt: null, cancelledAt: null },
      });
      const id = key.shareUrl.split("/").at(-1) as string;
      expect(state.text).not.toContain(id);

      h.advance(MINUTE);
      const cancelled = await h.request("DELETE", linkPath(key.appKey));
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ blocksRenewal: false, shareLink: { state: "cancelled" } });
      expect(cancelled.body.shareLink.cancelledAt).not.toBeNull();
      const [event] = await h.store.audit.list("acme", 1);
      expect(event).toMatchObject({
        action: "share_link.cancelled",
        actorId: h.owner.appKey,
        targetId: key.appKey,
      });
      expectNoSecret(event, [id, key.shareUrl]);

      const reveal = await h.request("POST", `/v1/shares/${id}/reveal`, { as: null });
      expect([reveal.status, reveal.body.code]).toEqual([410, "SHARE_LINK_GONE"]);
      const again = await h.request("DELETE", linkPath(key.appKey));
      expect([again.status, again.body.code]).toEqual([404, "NO_UNOPENED_SHARE_LINK"]);
      expect((await h.request("GET", linkPath(key.appKey))).body.shareLink.state).toBe("cancelled");
      expect((await renew(key.appKey)).status).toBe(201);
    });

    it("nothing to cancel: never linked, already opened, or expired", async () => {
      const plain = await h.createKey("inline token");
      const none = await h.request("GET", linkPath(plain.appKey));
      expect(none.body).toEqual({ appKey: plain.appKey, shareLink: null, blocksRenewal: false });
      const cancel = await h.request("DELETE", linkPath(plain.appKey));
      expect([cancel.status, cancel.body.code]).toEqual([404, "NO_UNOPENED_SHARE_LINK"]);

      const opened = await linked("opened link");
      const id = opened.shareUrl.split("/").at(-1) as string;
      expect((await h.request("POST", `/v1/shares/${id}/reveal`, { as: null })).status).toBe(200);
      expect((await h.request("GET", linkPath(opened.appKey))).body.shareLink.state).toBe("revealed");
      expect((await h.request("DELETE", linkPath(opened.appKey))).body.code).toBe("NO_UNOPENED_SHARE_LINK");

      const expired = await linked("expired link");
      h.advance(DAY);
      expect((await h.request("GET", linkPath(expired.appKey))).body).toMatchObject({
        blocksRenewal: false,
        shareLink: { state: "expired" },
      });
      expect((await h.request("DELETE", linkPath(expired.appKey))).status).toBe(404);
    });

    it("a caller that may not renew the key can neither read nor cancel its link", async () => {
      const key = await linked("owner-strong", [1]);
      const role = await h.request("POST", `${A}/roles`, {
        body: { name: "renewer", resources: ["RenewApiToken", "ViewApiKeys"] },
      });
      const weak = await h.createKey("weak renewer", [role.body.id]);
      const noRenew = await h.createKey("viewer", [
        (await h.request("POST", `${A}/roles`, { body: { name: "viewer", resources: ["ViewApiKeys"] } })).body
          .id,
      ]);
      for (const method of ["GET", "DELETE"]) {
        const refused = await h.request(method, linkPath(key.appKey), { as: weak });
        expect([refused.status, refused.body.code]).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
        const guarded = await h.request(method, linkPath(key.appKey), { as: noRenew });
        expect([guarded.status, guarded.body.code]).toEqual([403, "FORBIDDEN"]);
      }
      const other = await h.services.accounts.init({ account: `other-${kind}`, email: `o@${kind}.test` });
      const foreign = await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}/share-link`, {
        as: { appKey: other.appKey, appToken: other.appToken },
      });
      expect(foreign.status).toBe(403);
      expect((await h.request("GET", linkPath(key.appKey))).body.blocksRenewal).toBe(true);
    });
  });
});
