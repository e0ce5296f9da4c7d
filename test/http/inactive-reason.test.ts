/**
 * Why a key is inactive (`inactiveReason`), on both databases: a leaked-token report records
 * leak_reported, each policy its own reason, a person's deactivation "deactivated"; activating clears
 * it; the key view, the list, the export and the key's own reads all carry it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_AUTHORITY } from "../../src/services/authority.js";
import { createNotifyHarness, DAY, type NotifyHarness } from "../notify/support.js";

type Kind = "sqlite" | "postgres";

describe.each<Kind>(["sqlite", "postgres"])("inactive reasons on %s", (kind) => {
  let h: NotifyHarness;

  beforeAll(async () => {
    h = await createNotifyHarness(kind);
  });
  afterAll(() => h.close());

  async function view(appKey: string) {
    const res = await h.request("GET", `/v1/accounts/acme/keys/${appKey}`);
    expect(res.status).toBe(200);
    return res.body as { active: boolean; status: string; inactiveReason: string | null };
  }

  async function patch(appKey: string, body: Record<string, unknown>) {
    return h.request("PATCH", `/v1/accounts/acme/keys/${appKey}`, { body });
  }

  it("a new key is active with no reason", async () => {
    const key = await h.createKey("fresh");
    expect(key.key).toMatchObject({ active: true, inactiveReason: null });
  });

  it("a leak report records leak_reported, shown in the view, the list and the export; activating clears it", async () => {
    const key = await h.createKey("leaky");
    const res = await h.request("POST", "/v1/credentials/revoke", {
      as: null,
      body: { tokens: [key.appToken] },
    });
    expect(res.status).toBe(202);
    expect(await view(key.appKey)).toMatchObject({
      active: false,
      status: "inactive",
      inactiveReason: "leak_reported",
    });

    const list = await h.request("GET", "/v1/accounts/acme/keys?status=inactive&limit=200");
    const listed = list.body.items.find((item: { appKey: string }) => item.appKey === key.appKey);
    expect(listed).toMatchObject({ inactiveReason: "leak_reported" });

    const exported = await h.request("GET", "/v1/accounts/acme/keys/export?format=json");
    expect(exported.status).toBe(200);
    const row = exported.body.generated.find((r: { keyName: string }) => r.keyName === key.appKey);
    expect(row).toMatchObject({ status: "inactive", inactiveReason: "leak_reported" });
    const csv = await h.request("GET", "/v1/accounts/acme/keys/export?format=csv");
    expect(csv.text.split("\n")[0]).toContain("status,inactiveReason,");
    expect(csv.text).toContain(`${key.appKey},leaky,`);
    expect(csv.text.split("\n").find((line) => line.includes(key.appKey))).toContain(
      ",inactive,leak_reported,",
    );

    const activated = await patch(key.appKey, { active: true });
    expect(activated.status).toBe(200);
    expect(activated.body).toMatchObject({ active: true, inactiveReason: null });
    expect(
      (
        await h
          .raw()
          .selectFrom("keys")
          .select("inactive_reason")
          .where("app_key", "=", key.appKey)
          .executeTakeFirstOrThrow()
      ).inactive_reason,
    ).toBeNull();
  });

  it("a person's deactivation records deactivated; a rename of the inactive key keeps it", async () => {
    const key = await h.createKey("switched off");
    const res = await patch(key.appKey, { active: false });
    expect(res.body).toMatchObject({ active: false, inactiveReason: "deactivated" });
    const renamed = await patch(key.appKey, { name: "still off" });
    expect(renamed.body).toMatchObject({ name: "still off", inactiveReason: "deactivated" });
    expect((await patch(key.appKey, { active: true })).body.inactiveReason).toBeNull();
  });

  it("each policy records its own reason, cleared by activation", async () => {
    // Read through the store: the policy switches off the owner's unused key the requests use too.
    const reasonOf = async (appKey: string) => (await h.store.keys.getByAppKey(appKey))?.inactiveReason;
    const unused = await h.createKey("idle");
    await h.configure({ deactivateUnusedDays: 30 });
    h.advance(31 * DAY);
    await h.pass();
    expect(await reasonOf(unused.appKey)).toBe("unused");

    const young = await h.services.keys.create(SYSTEM_AUTHORITY, "acme", { name: "aging", roles: [] });
    await h.configure({ maxTokenAgeDays: 10 });
    h.advance(11 * DAY);
    await h.pass();
    expect(await reasonOf(young.key.appKey)).toBe("token_too_old");
    await h.services.keys.update(SYSTEM_AUTHORITY, "acme", young.key.appKey, { active: true });
    expect(await h.store.keys.getByAppKey(young.key.appKey)).toMatchObject({
      active: true,
      inactiveReason: null,
    });
  });
});
