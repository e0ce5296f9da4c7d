/**
 * Every change to settings, roles and users, every sign-in, and what the system does on its own
 * (account set-up, policy deactivations, notification deliveries) is audited once, with the right
 * actor and target, and never with a password or secret, on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNotifier } from "../../src/notify/notifier.js";
import { SYSTEM_AUTHORITY } from "../../src/services/authority.js";
import { startReceiver, type WebhookPeer } from "../notify/peers.js";
import { auditClient, expectNoSecret, expectOneEvent, signIn } from "../support/audit.js";
import { createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";

const DAY = 86_400_000;
const WEBHOOK_SECRET = "whsec-audit-0123456789abcdef0123456789";
const SYSTEM = { type: "system", id: "system", label: "system" };

describe.each(["sqlite", "postgres"] as const)("admin and system events are audited (%s)", (kind) => {
  let h: Harness;
  let client: ReturnType<typeof auditClient>;
  let hooks: WebhookPeer;
  let ownerUser: { type: string; id: string; label: string };
  let ownerKey: { type: string; id: string; label: string };

  beforeAll(async () => {
    h = await createHarness(kind, { trustProxy: true });
    client = auditClient(h);
    hooks = await startReceiver(WEBHOOK_SECRET, () => h.deps.clock.now());
    const user = await h.store.people.getUserByEmail("owner@acme.test");
    ownerUser = { type: "user", id: user?.id as string, label: "owner@acme.test" };
    ownerKey = { type: "key", id: h.owner.appKey, label: h.owner.appKey };
  });
  afterAll(async () => {
    await hooks.close();
    await h.close();
  });

  const now = () => h.deps.clock.now();

  it("account.created, user.added and key.created when an account is set up, by the system", async () => {
    let appToken = "";
    const events = await client.during("delta", async () => {
      ({ appToken } = await h.services.accounts.init({
        account: "delta",
        email: "owner@delta.test",
        password: "delta owner password",
      }));
    });
    expect(events.map((e) => [e.action, e.actor, e.target?.type])).toEqual([
      ["account.created", SYSTEM, "account"],
      ["user.added", SYSTEM, "user"],
      ["key.created", SYSTEM, "key"],
    ]);
    expectNoSecret(events, [appToken, "delta owner password"]);
  });

  it("user.signed_in and user.sign_in_failed: the user as actor and target, never the password", async () => {
    const target = { type: "user", id: ownerUser.id };
    for (const [action, password] of [
      ["user.signed_in", OWNER_PASSWORD],
      ["user.sign_in_failed", "wrong password, nearly right"],
    ] as const) {
      let res = { requestId: "", status: 0 };
      const events = await client.during("acme", async () => {
        res = await client.call("POST", "/v1/auth/login", {
          as: null,
          body: { email: "owner@acme.test", password },
        });
      });
      expect(res.status).toBe(action === "user.signed_in" ? 200 : 401);
      const want = { action, account: "acme", actor: ownerUser, target, requestId: res.requestId, at: now() };
      expectOneEvent(events, want, [OWNER_PASSWORD, "wrong password, nearly right"]);
    }
  });

  it("role.created, role.updated and role.deleted by a signed-in user", async () => {
    const session = await signIn(h, "owner@acme.test", OWNER_PASSWORD);
    const call = (method: string, path: string, body?: unknown) =>
      client.call(method, path, { ...session, ...(body === undefined ? {} : { body }) });
    let res = { requestId: "", status: 0, body: { id: 0 } };
    let events = await client.during("acme", async () => {
      res = await call("POST", "/v1/accounts/acme/roles", { name: "Auditors", resources: ["ViewAuditLog"] });
    });
    const target = { type: "role", id: String(res.body.id) };
    const want = (action: string, requestId: string) => ({
      action,
      account: "acme",
      actor: ownerUser,
      target,
      requestId,
      at: now(),
    });
    const created = expectOneEvent(events, want("role.created", res.requestId), [OWNER_PASSWORD]);
    expect(created.data).toEqual({ after: { name: "Auditors", resources: ["ViewAuditLog"] } });
    const path = `/v1/accounts/acme/roles/${res.body.id}`;
    events = await client.during("acme", async () => {
      res = await call("PUT", path, { name: "Auditors+", resources: ["ViewAuditLog", "ViewApiKeys"] });
    });
    const updated = expectOneEvent(events, want("role.updated", res.requestId), [OWNER_PASSWORD]);
    expect(updated.data).toMatchObject({ before: { name: "Auditors" }, after: { name: "Auditors+" } });
    events = await client.during("acme", async () => {
      res = await call("DELETE", path);
    });
    expectOneEvent(events, want("role.deleted", res.requestId), [OWNER_PASSWORD]);
  });

  it("user.added, user.roles_set and user.removed: never the password given or generated", async () => {
    const users = "/v1/accounts/acme/users";
    let res = { requestId: "", status: 0, body: { user: { id: "" }, password: "" } };
    let events = await client.during("acme", async () => {
      res = await client.call("POST", users, { body: { email: "new@acme.test", roles: [10] } });
    });
    const generated = res.body.password;
    expect(generated.length).toBeGreaterThanOrEqual(12);
    const target = { type: "user", id: res.body.user.id };
    const want = (action: string, requestId: string) => ({
      action,
      account: "acme",
      actor: ownerKey,
      target,
      requestId,
      at: now(),
    });
    const added = expectOneEvent(events, want("user.added", res.requestId), [generated, h.owner.appToken]);
    expect(added.data).toMatchObject({ after: { email: "new@acme.test", roles: [10] } });
    events = await client.during("acme", async () => {
      res = await client.call("PUT", `${users}/${target.id}/roles`, { body: { roles: [11] } });
    });
    const set = expectOneEvent(events, want("user.roles_set", res.requestId), [generated]);
    expect(set.data).toMatchObject({ before: { roles: [10] }, after: { roles: [11] } });
    events = await client.during("acme", async () => {
      res = await client.call("DELETE", `${users}/${target.id}`);
    });
    expectOneEvent(events, want("user.removed", res.requestId), [generated]);
    events = await client.during("acme", async () => {
      res = await client.call("POST", users, {
        body: { email: "chosen@acme.test", password: "a chosen password 42" },
      });
    });
    const chosen = { ...want("user.added", res.requestId), target: { type: "user", id: res.body.user.id } };
    expectOneEvent(events, chosen, ["a chosen password 42"]);
  });

  describe("settings, policies and deliveries (account gamma)", () => {
    let gamma = { appKey: "", appToken: "" };

    beforeAll(async () => {
      const init = await h.services.accounts.init({ account: "gamma", email: "owner@gamma.test" });
      gamma = { appKey: init.appKey, appToken: init.appToken };
    });

    it("settings.updated: before and after, which webhook got a secret, never the secret", async () => {
      let res = { requestId: "", status: 0 };
      const events = await client.during("gamma", async () => {
        res = await client.call("PUT", "/v1/accounts/gamma/settings/api-keys", {
          as: gamma,
          body: {
            renewalPeriodMonths: 3,
            notifications: {
              emails: ["ops@gamma.test"],
              webhooks: [{ url: hooks.url, secret: WEBHOOK_SECRET }],
            },
            policies: { deactivateUnusedDays: null, maxTokenAgeDays: 1 },
          },
        });
      });
      expect(res.status).toBe(200);
      const actor = { type: "key", id: gamma.appKey, label: gamma.appKey };
      const target = { type: "settings", id: "api-keys" };
      const want = {
        action: "settings.updated",
        account: "gamma",
        actor,
        target,
        requestId: res.requestId,
        at: now(),
      };
      const event = expectOneEvent(events, want, [WEBHOOK_SECRET, gamma.appToken]);
      expect(event.data).toMatchObject({ after: { maxTokenAgeDays: 1, notifyEmails: ["ops@gamma.test"] } });
    });

    it("key.deactivated_by_policy, notification.sent and notification.failed, by the system", async () => {
      const old = await h.createKey("Too old", [], "gamma", gamma);
      h.advance(2 * DAY);
      // The bootstrap key's token is as old: renewing it keeps it out of the policy's way.
      await h.services.renewal.start(SYSTEM_AUTHORITY, "gamma", gamma.appKey, { deleteOldToken: "now" });
      const notifier = createNotifier({ ...h.deps, smtpUrl: undefined, webhookAllowPrivate: true });
      const events = await client.during("gamma", () => notifier.runPass().finally(() => notifier.close()));
      const byAction = (action: string) => events.filter((e) => e.action === action);
      expect(events.map((e) => e.action).sort()).toEqual([
        "key.deactivated_by_policy",
        "notification.failed",
        "notification.sent",
      ]);
      const base = { account: "gamma", actor: SYSTEM, at: now() };
      const deactivated = expectOneEvent(
        byAction("key.deactivated_by_policy"),
        { ...base, action: "key.deactivated_by_policy", target: { type: "key", id: old.appKey } },
        [old.appToken],
      );
      expect(deactivated.data).toMatchObject({
        policy: "maxTokenAgeDays",
        days: 1,
        after: { active: false },
      });
      const outbox = await h.store.outbox.list("gamma", 10);
      for (const [action, channel] of [
        ["notification.sent", "webhook"],
        ["notification.failed", "email"],
      ] as const) {
        const row = outbox.find((n) => n.channel === channel);
        const event = expectOneEvent(
          byAction(action),
          { ...base, action, target: { type: "notification", id: row?.id as string } },
          [WEBHOOK_SECRET, old.appToken],
        );
        expect(event.data).toMatchObject({ channel, event: "key.deactivated_by_policy", attempts: 1 });
      }
      expect(hooks.deliveries.filter((d) => d.verified)).toHaveLength(1);
    });
  });
});
