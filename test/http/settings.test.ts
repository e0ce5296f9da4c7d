import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "../../src/core/settings.js";
import { openWebhookSecret } from "../../src/notify/webhook-secret.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const PATH = "/v1/accounts/acme/settings/api-keys";
const DAY = 24 * 3600 * 1000;
const policiesOff = {
  deactivateUnusedDays: null,
  maxTokenAgeDays: null,
  maxKeyLifetimeDays: null,
  allowBrowserKeys: false,
  requireExternalKeyApproval: false,
};

function settings(overrides: Record<string, unknown> = {}) {
  return {
    renewalPeriodMonths: 3,
    notifications: { emails: [], webhooks: [] },
    policies: policiesOff,
    ...overrides,
  };
}

async function storedWebhooks(account = "acme") {
  return readSettings(await h.store.settings.get(account)).webhooks;
}

async function keyWithResources(name: string, resources: string[]): Promise<Credentials> {
  const role = await h.request("POST", "/v1/accounts/acme/roles", { body: { name, resources } });
  return h.createKey(name, [role.body.id]);
}

describe("API key settings", () => {
  it("starts from the defaults", async () => {
    const res = await h.request("GET", PATH);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...settings(), updatedAt: null });
  });

  it("replaces the settings, generates webhook ids and secrets, and shows each secret once", async () => {
    const given = "a-secret-chosen-by-the-caller-1234";
    const res = await h.request("PUT", PATH, {
      body: settings({
        renewalPeriodMonths: 6,
        notifications: {
          emails: ["Alerts@Acme.test", "ops@acme.test", "alerts@acme.test"],
          webhooks: [
            { url: "https://hooks.acme.test/a" },
            { url: "http://hooks.acme.test/b", secret: given },
          ],
        },
        policies: { deactivateUnusedDays: 90, maxTokenAgeDays: 365 },
      }),
    });
    expect(res.status, res.text).toBe(200);
    const [a, b] = res.body.notifications.webhooks;
    expect(a).toEqual({
      id: expect.stringMatching(/^wh_[A-Za-z0-9]{20}$/),
      url: "https://hooks.acme.test/a",
      secretSet: true,
    });
    expect(b).toMatchObject({ url: "http://hooks.acme.test/b", secretSet: true });
    expect(res.body).toMatchObject({
      renewalPeriodMonths: 6,
      notifications: { emails: ["alerts@acme.test", "ops@acme.test"] },
      policies: { deactivateUnusedDays: 90, maxTokenAgeDays: 365 },
      updatedAt: "2026-11-26T10:00:00.000Z",
    });
    const secrets = res.body.webhookSecrets;
    expect(Object.keys(secrets).sort()).toEqual([a.id, b.id].sort());
    expect(secrets[a.id]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secrets[b.id]).toBe(given);

    const get = await h.request("GET", PATH);
    const { webhookSecrets, ...view } = res.body;
    expect(get.body).toEqual(view);
    for (const secret of Object.values(secrets) as string[]) {
      expect(get.text).not.toContain(secret);
      expect(JSON.stringify(await h.store.audit.list("acme", 1000))).not.toContain(secret);
      expect(JSON.stringify(await h.store.settings.get("acme"))).not.toContain(secret);
    }
    const stored = await storedWebhooks();
    expect(stored.map((hook) => openWebhookSecret(h.deps, "acme", hook))).toEqual([secrets[a.id], given]);
    // Sealed for acme and for that webhook only.
    const [first, second] = stored;
    expect(openWebhookSecret(h.deps, "beta", first as never)).toBeUndefined();
    expect(openWebhookSecret(h.deps, "acme", { ...second, id: first?.id } as never)).toBeUndefined();
  });

  it("keeps a webhook's secret when its id comes back, rotates it when a secret is sent, drops omitted ones", async () => {
    const created = await h.request("PUT", PATH, {
      body: settings({
        notifications: {
          emails: [],
          webhooks: [{ url: "https://a.test/" }, { url: "https://b.test/" }, { url: "https://c.test/" }],
        },
      }),
    });
    const [a, b] = created.body.notifications.webhooks;
    const oldA = created.body.webhookSecrets[a.id];
    const rotated = "rotated-secret-0123456789-abcdef";
    const res = await h.request("PUT", PATH, {
      body: settings({
        notifications: {
          emails: [],
          webhooks: [
            { id: a.id, url: "https://a.test/moved" },
            { id: b.id, url: "https://b.test/", secret: rotated },
            { url: "https://d.test/" },
          ],
        },
      }),
    });
    expect(res.status, res.text).toBe(200);
    const hooks = res.body.notifications.webhooks;
    expect(hooks.map((hook: { url: string }) => hook.url)).toEqual([
      "https://a.test/moved",
      "https://b.test/",
      "https://d.test/",
    ]);
    expect(hooks.slice(0, 2).map((hook: { id: string }) => hook.id)).toEqual([a.id, b.id]);
    const newId = hooks[2].id;
    expect(Object.keys(res.body.webhookSecrets).sort()).toEqual([b.id, newId].sort());
    expect(res.body.webhookSecrets[b.id]).toBe(rotated);
    const opened = (await storedWebhooks()).map((hook) => openWebhookSecret(h.deps, "acme", hook));
    expect(opened).toEqual([oldA, rotated, res.body.webhookSecrets[newId]]);
    const event = (await h.store.audit.list("acme", 1)).at(0);
    expect(event).toMatchObject({ action: "settings.updated", targetType: "settings" });
    expect(event?.data?.secretsSet).toEqual([b.id, newId]);
    const after = event?.data?.after as { webhooks: unknown[] };
    expect(after.webhooks[0]).toEqual({
      id: a.id,
      url: "https://a.test/moved",
    });
    expect(JSON.stringify(event)).not.toMatch(/sealedSecret|v1\./);
  });

  it("refuses bad input with 400 VALIDATION_FAILED and changes nothing", async () => {
    const current = await h.request("GET", PATH);
    const knownId = current.body.notifications.webhooks[0].id as string;
    const audit = (await h.store.audit.list("acme", 1000)).length;
    const hooks = (webhooks: unknown[]) => settings({ notifications: { emails: [], webhooks } });
    const emails = (list: unknown[]) => settings({ notifications: { emails: list, webhooks: [] } });
    const cases: [string, unknown][] = [
      ["period 4", settings({ renewalPeriodMonths: 4 })],
      ["period as string", settings({ renewalPeriodMonths: "3" })],
      ["period missing", { notifications: { emails: [], webhooks: [] }, policies: policiesOff }],
      ["unknown top-level field", { ...settings(), colour: "red" }],
      ["unknown nested field", settings({ notifications: { emails: [], webhooks: [], sms: [] } })],
      ["unknown policy", settings({ policies: { ...policiesOff, deleteAfterDays: 3 } })],
      ["policies missing", { renewalPeriodMonths: 3, notifications: { emails: [], webhooks: [] } }],
      ["bad email", emails(["not-an-email"])],
      ["email not a string", emails([42])],
      ["21 emails", emails(Array.from({ length: 21 }, (_, i) => `u${i}@acme.test`))],
      ["ftp url", hooks([{ url: "ftp://hooks.acme.test/" }])],
      ["javascript url", hooks([{ url: "javascript:alert(1)" }])],
      ["url with credentials", hooks([{ url: "https://user:pw@hooks.acme.test/" }])],
      ["not a url", hooks([{ url: "hooks.acme.test" }])],
      ["11 webhooks", hooks(Array.from({ length: 11 }, (_, i) => ({ url: `https://h${i}.test/` })))],
      ["short secret", hooks([{ url: "https://h.test/", secret: "short" }])],
      ["unknown webhook id", hooks([{ id: "wh_doesnotexist", url: "https://h.test/" }])],
      ["malformed webhook id", hooks([{ id: "hook-1", url: "https://h.test/" }])],
      [
        "same id twice",
        hooks([
          { id: knownId, url: "https://h.test/" },
          { id: knownId, url: "https://i.test/" },
        ]),
      ],
      ["unknown webhook field", hooks([{ url: "https://h.test/", headers: {} }])],
      ["days 0", settings({ policies: { ...policiesOff, deactivateUnusedDays: 0 } })],
      ["days 3651", settings({ policies: { ...policiesOff, maxTokenAgeDays: 3651 } })],
      ["days 1.5", settings({ policies: { ...policiesOff, maxTokenAgeDays: 1.5 } })],
      ["days as string", settings({ policies: { ...policiesOff, deactivateUnusedDays: "30" } })],
      ["array body", []],
    ];
    for (const [label, body] of cases) {
      const res = await h.request("PUT", PATH, { body });
      expect([res.status, res.body.code], label).toEqual([400, "VALIDATION_FAILED"]);
      expect(res.headers.get("content-type"), label).toContain("application/problem+json");
    }
    expect((await h.request("GET", PATH)).body).toEqual(current.body);
    expect(await h.store.audit.list("acme", 1000)).toHaveLength(audit);
  });

  it("reads with ViewApiKeys and writes with EditApiKeysSettings, each on its own", async () => {
    const viewer = await keyWithResources("settings viewer", ["ViewApiKeys"]);
    const editor = await keyWithResources("settings editor", ["EditApiKeysSettings"]);
    expect((await h.request("GET", PATH, { as: viewer })).status).toBe(200);
    const denied = await h.request("PUT", PATH, { as: viewer, body: settings() });
    expect([denied.status, denied.body.code]).toEqual([403, "FORBIDDEN"]);
    expect((await h.request("GET", PATH, { as: editor })).status).toBe(403);
    expect((await h.request("PUT", PATH, { as: editor, body: settings() })).status).toBe(200);
    expect((await h.request("GET", "/v1/accounts/beta/settings/api-keys")).status).toBe(403);
  });
});

describe("renewal alerts follow the account's period", () => {
  let a: Harness;
  beforeAll(async () => {
    a = await createHarness();
  });
  afterAll(() => a.close());

  async function alertOf(appKey: string) {
    return (await a.request("GET", `/v1/accounts/acme/keys/${appKey}`)).body.alert as string;
  }
  async function listed(alert: string) {
    const res = await a.request("GET", `/v1/accounts/acme/keys?alert=${alert}&limit=200`);
    return res.body.items.map((key: { appKey: string }) => key.appKey) as string[];
  }
  function period(months: number) {
    return a.request("PUT", "/v1/accounts/acme/settings/api-keys", {
      body: settings({ renewalPeriodMonths: months }),
    });
  }

  it("is none, orange past the period, red three months later; the alert= filter agrees", async () => {
    const key = await a.createKey("ageing");
    expect(await alertOf(key.appKey)).toBe("none");
    a.advance(124 * DAY); // about 4 months
    expect(await alertOf(key.appKey)).toBe("orange");
    expect(await listed("orange")).toContain(key.appKey);
    expect((await period(6)).status).toBe(200);
    expect(await alertOf(key.appKey)).toBe("none");
    expect(await listed("none")).toContain(key.appKey);
    expect(await listed("orange")).not.toContain(key.appKey);
    a.advance(93 * DAY); // about 7 months
    expect(await alertOf(key.appKey)).toBe("orange");
    await period(3);
    expect(await alertOf(key.appKey)).toBe("red");
    expect(await listed("red")).toContain(key.appKey);
    expect(await listed("orange")).not.toContain(key.appKey);
    // Alerts never disable a key.
    expect((await a.request("GET", "/v1/me", { as: key })).status).toBe(200);
  });
});
