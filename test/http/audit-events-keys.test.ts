/**
 * Every change to a key is audited once, with the right actor and target, and never with a token:
 * generated keys, renewals, share links, external keys and leak reports, on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditClient, expectOneEvent } from "../support/audit.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const MINUTE = 60_000;

describe.each(["sqlite", "postgres"] as const)("key events are audited (%s)", (kind) => {
  let h: Harness;
  let client: ReturnType<typeof auditClient>;
  let owner: { type: string; id: string; label: string };
  const keys = "/v1/accounts/acme/keys";

  beforeAll(async () => {
    h = await createHarness(kind, { trustProxy: true });
    client = auditClient(h);
    owner = { type: "key", id: h.owner.appKey, label: h.owner.appKey };
  });
  afterAll(() => h.close());

  const now = () => h.deps.clock.now();
  const keyTarget = (appKey: string) => ({ type: "key", id: appKey });
  const expected = (action: string, appKey: string, requestId: string) => ({
    action,
    account: "acme",
    actor: owner,
    target: keyTarget(appKey),
    requestId,
    at: now(),
  });

  it("key.created: the new key, its name and roles; not its token", async () => {
    let res = { requestId: "", body: null as never as { key: { appKey: string }; appToken: string } };
    const events = await client.during("acme", async () => {
      res = await client.call("POST", keys, { body: { name: "Created", roles: [10] } });
    });
    const event = expectOneEvent(events, expected("key.created", res.body.key.appKey, res.requestId), [
      res.body.appToken,
      h.owner.appToken,
    ]);
    expect(event.data).toEqual({ after: { name: "Created", active: true, roles: [10] }, delivery: "inline" });
  });

  it("key.created with a share link: neither the token nor the link is in the event", async () => {
    let res = { requestId: "", body: null as never as { key: { appKey: string }; shareUrl: string } };
    const events = await client.during("acme", async () => {
      res = await client.call("POST", keys, { body: { name: "Linked", delivery: "link" } });
    });
    const linkId = res.body.shareUrl.split("/").at(-1) as string;
    expectOneEvent(events, expected("key.created", res.body.key.appKey, res.requestId), [linkId]);
  });

  it.each([
    ["key.renamed", { name: "Renamed" }, { before: { name: "Patched" }, after: { name: "Renamed" } }],
    ["key.deactivated", { active: false }, { before: { active: true }, after: { active: false } }],
  ])("%s: before and after of the field", async (action, patch, data) => {
    const key = await h.createKey("Patched");
    let requestId = "";
    const events = await client.during("acme", async () => {
      ({ requestId } = await client.call("PATCH", `${keys}/${key.appKey}`, { body: patch }));
    });
    expect(expectOneEvent(events, expected(action, key.appKey, requestId), [key.appToken]).data).toEqual(
      data,
    );
    await h.request("DELETE", `${keys}/${key.appKey}`);
  });

  it("key.activated: before and after of the field", async () => {
    const key = await h.createKey("Reactivated");
    await h.request("PATCH", `${keys}/${key.appKey}`, { body: { active: false } });
    let requestId = "";
    const events = await client.during("acme", async () => {
      ({ requestId } = await client.call("PATCH", `${keys}/${key.appKey}`, { body: { active: true } }));
    });
    const event = expectOneEvent(events, expected("key.activated", key.appKey, requestId), [key.appToken]);
    expect(event.data).toEqual({ before: { active: false }, after: { active: true } });
  });

  it("key.roles_set and key.deleted", async () => {
    const key = await h.createKey("Roles then gone", [10]);
    let requestId = "";
    let events = await client.during("acme", async () => {
      ({ requestId } = await client.call("PUT", `${keys}/${key.appKey}/roles`, { body: { roles: [11] } }));
    });
    const set = expectOneEvent(events, expected("key.roles_set", key.appKey, requestId), [key.appToken]);
    expect(set.data).toEqual({ before: { roles: [10] }, after: { roles: [11] } });
    events = await client.during("acme", async () => {
      ({ requestId } = await client.call("DELETE", `${keys}/${key.appKey}`));
    });
    const deleted = expectOneEvent(events, expected("key.deleted", key.appKey, requestId), [key.appToken]);
    expect(deleted.data).toEqual({ before: { name: "Roles then gone", active: true, roles: [11] } });
  });

  it("key.renewal_started, key.renewal_completed and key.renewal_undone: never the new token", async () => {
    const key = await h.createKey("Renewed");
    const renewal = `${keys}/${key.appKey}/renewal`;
    h.advance(MINUTE);
    let started = { requestId: "", body: { appToken: "" } };
    let events = await client.during("acme", async () => {
      started = await client.call("POST", renewal);
    });
    const secrets = [key.appToken, started.body.appToken];
    expectOneEvent(events, expected("key.renewal_started", key.appKey, started.requestId), secrets);
    let requestId = "";
    events = await client.during("acme", async () => {
      ({ requestId } = await client.call("POST", `${renewal}/complete`));
    });
    expectOneEvent(events, expected("key.renewal_completed", key.appKey, requestId), secrets);
    const again = await client.call("POST", renewal);
    events = await client.during("acme", async () => {
      ({ requestId } = await client.call("DELETE", renewal));
    });
    const undone = expectOneEvent(events, expected("key.renewal_undone", key.appKey, requestId), [
      ...secrets,
      again.body.appToken,
    ]);
    expect(undone.data).toMatchObject({ after: { creationDateNewToken: null } });
  });

  it("share_link.revealed: by the link's holder, from its address; neither token nor link", async () => {
    const created = await h.request("POST", keys, { body: { name: "Shared", delivery: "link" } });
    const linkId = created.body.shareUrl.split("/").at(-1) as string;
    let res = { requestId: "", body: { appToken: "" } };
    const events = await client.during("acme", async () => {
      res = await client.call("POST", `/v1/shares/${linkId}/reveal`, { as: null });
    });
    expect(res.body.appToken).toMatch(/^lkt_/);
    const holder = { type: "system", id: "share_link", label: "share link holder" };
    const appKey = created.body.key.appKey as string;
    expectOneEvent(events, { ...expected("share_link.revealed", appKey, res.requestId), actor: holder }, [
      res.body.appToken,
      linkId,
    ]);
  });

  it("key.deactivated_leak: system actor with the reporter's address; not the reported token", async () => {
    const key = await h.createKey("Leaked");
    let requestId = "";
    const events = await client.during("acme", async () => {
      ({ requestId } = await client.call("POST", "/v1/credentials/revoke", {
        as: null,
        body: { tokens: [key.appToken] },
      }));
    });
    const reporter = { type: "system", id: "system", label: "leaked-token report" };
    const event = expectOneEvent(
      events,
      { ...expected("key.deactivated_leak", key.appKey, requestId), actor: reporter },
      [key.appToken],
    );
    expect(event.data).toMatchObject({ before: { active: true }, after: { active: false } });
  });

  describe("external keys", () => {
    let beta: Credentials;
    let betaOwner: { type: string; id: string; label: string };
    beforeAll(async () => {
      const init = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
      beta = { appKey: init.appKey, appToken: init.appToken };
      betaOwner = { type: "key", id: beta.appKey, label: beta.appKey };
    });

    it("external_key.added, external_key.roles_set and external_key.removed in the adding account", async () => {
      const key = await h.createKey("Shared with beta");
      const path = "/v1/accounts/beta/external-keys";
      const target = { type: "external_key", id: key.appKey };
      const secrets = [key.appToken, beta.appToken];
      const steps = [
        ["external_key.added", "POST", path, { appKey: key.appKey, roles: [10] }],
        ["external_key.roles_set", "PUT", `${path}/${key.appKey}/roles`, { roles: [11] }],
        ["external_key.removed", "DELETE", `${path}/${key.appKey}`, undefined],
      ] as const;
      const acmeBefore = (await h.store.audit.listEvents({ account: "acme", order: "desc", limit: 1 }))[0];
      for (const [action, method, url, body] of steps) {
        let res = { requestId: "", status: 0 };
        const events = await client.during("beta", async () => {
          res = await client.call(method, url, { as: beta, ...(body === undefined ? {} : { body }) });
        });
        expect(res.status).toBeLessThan(300);
        const want = {
          action,
          account: "beta",
          actor: betaOwner,
          target,
          requestId: res.requestId,
          at: now(),
        };
        expectOneEvent(events, want, secrets);
      }
      // The owning account's log has the addition and the removal, naming beta and nothing of its
      // grant or its callers: B's roles are B's business.
      const acmeAfter = await h.store.audit.listEvents({
        account: "acme",
        order: "asc",
        limit: 10,
        afterSeq: acmeBefore?.seq ?? 0,
      });
      expect(acmeAfter.map((e) => [e.action, e.actorId, e.actorLabel, e.targetId, e.data])).toEqual([
        ["key.added_elsewhere", "account", "beta", key.appKey, { account: "beta" }],
        ["key.removed_elsewhere", "account", "beta", key.appKey, { account: "beta" }],
      ]);
      expect(acmeAfter.map((e) => [e.ip, e.userAgent, e.requestId])).toEqual([
        [null, null, null],
        [null, null, null],
      ]);
    });
  });
});
