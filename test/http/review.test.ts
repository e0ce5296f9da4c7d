import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const OMS_READ = 10;
const CATALOG_FULL = 20;
const DAY = 86_400_000;

describe.each(["sqlite", "postgres"] as const)("access review on %s", (kind) => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness(kind);
  });
  afterAll(() => h.close());

  function call(key: Credentials, uri = "/api/oms/pvt/orders/1", account?: string) {
    return h.request("GET", "/v1/authorize", {
      as: null,
      headers: {
        "x-api-appkey": key.appKey,
        "x-api-apptoken": key.appToken,
        "x-original-method": "GET",
        "x-original-uri": uri,
        ...(account ? { "x-api-account": account } : {}),
      },
    });
  }

  it("reports unused and never-used keys, unused roles, Owner keys and old tokens, with actions", async () => {
    const idle = await h.createKey("idle-erp", [OMS_READ]);
    const never = await h.createKey("never-used");
    const busy = await h.createKey("busy-erp", [OMS_READ, CATALOG_FULL]);
    const beta = await h.services.accounts.init({ account: "beta", email: "o@beta.test" });
    const betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
    const added = await h.request("POST", "/v1/accounts/beta/external-keys", {
      as: betaOwner,
      body: { appKey: busy.appKey, roles: [OMS_READ, CATALOG_FULL] },
    });
    expect(added.status).toBe(201);

    expect((await call(idle)).status).toBe(200);
    expect((await call(busy)).status).toBe(200);
    expect((await call(h.owner, "/api/catalog/pvt/products/9")).status).toBe(200);
    await h.services.usage.flush();

    h.advance(100 * DAY);
    const fresh = await h.createKey("fresh-erp", [CATALOG_FULL]);
    expect((await call(busy)).status).toBe(200);
    expect((await call(busy, "/api/catalog/pvt/products/1", "beta")).status).toBe(200);
    expect((await call(h.owner, "/api/oms/pvt/orders/2")).status).toBe(200);
    await h.services.usage.flush();

    const res = await h.request("GET", "/v1/accounts/acme/keys/review?days=90");
    expect(res.status, res.text).toBe(200);
    const byKey = new Map<string, { findings: { kind: string; roleId?: number; suggestion: string }[] }>(
      res.body.items.map((item: { appKey: string }) => [item.appKey, item]),
    );
    const kinds = (appKey: string) => byKey.get(appKey)?.findings.map((f) => f.kind) ?? [];

    expect(kinds(idle.appKey)).toEqual(["unused", "token_age"]);
    expect(byKey.get(idle.appKey)?.findings[0]?.suggestion).toBe("Deactivate the key");
    expect(kinds(never.appKey)).toEqual(["never_used", "token_age"]);
    expect(byKey.get(never.appKey)?.findings[0]?.suggestion).toBe("Delete the key");
    const busyFindings = byKey.get(busy.appKey)?.findings ?? [];
    expect(busyFindings.filter((f) => f.kind === "unused_role").map((f) => f.roleId)).toEqual([CATALOG_FULL]);
    const owner = byKey.get(h.owner.appKey)?.findings.find((f) => f.kind === "owner");
    // Only the use inside the period counts: orders now, not the products call of 100 days ago.
    expect(owner?.suggestion).toContain("ViewOrders");
    expect(owner?.suggestion).not.toContain("ViewProducts");
    expect(byKey.has(fresh.appKey)).toBe(false);
    expect(res.body.keysReviewed).toBe(5);
    expect(res.text).not.toContain(busy.appToken);

    // In beta the external key used its Catalog role, not its OMS role.
    const inBeta = await h.request("GET", "/v1/accounts/beta/keys/review?days=90", { as: betaOwner });
    const external = inBeta.body.items.find((item: { appKey: string }) => item.appKey === busy.appKey);
    expect(external.keyType).toBe("external");
    expect(external.usedResources).toEqual(["ViewProducts"]);
    expect(
      external.findings
        .filter((f: { kind: string }) => f.kind === "unused_role")
        .map((f: { roleId: number }) => f.roleId),
    ).toEqual([OMS_READ]);
  });

  it("refuses bad periods", async () => {
    for (const query of ["days=0", "days=366", "days=x", "week=1"]) {
      const res = await h.request("GET", `/v1/accounts/acme/keys/review?${query}`);
      expect(res.status, query).toBe(400);
    }
  });
});
