/**
 * POST /v1/accounts/{account}/keys/import: keys imported by the SHA-256 of their tokens, all or
 * nothing, verify with their own tokens (of any shape) on every path, while latchkey-shaped tokens
 * keep their early rejection. Runs on SQLite and PostgreSQL.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const OMS_READ = 10;
const OWNER_ROLE = 1;
const A = "/v1/accounts/acme";
const IMPORT = `${A}/keys/import`;
const ORDERS = "/api/oms/pvt/orders/1234";

const sha256 = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");
/** A token as VTEX issues them: 100+ upper-case letters. */
const vtexToken = (seed: string) => `${seed.toUpperCase()}${"Q".repeat(110)}`.slice(0, 110);

describe.each(["sqlite", "postgres"] as const)("key import on %s", (kind) => {
  let h: Harness;
  /** Holds EditApiKeys and ViewApiKeys only. */
  let editor: Credentials;

  beforeAll(async () => {
    h = await createHarness(kind);
    const role = await h.request("POST", `${A}/roles`, {
      body: { name: "key editor", resources: ["EditApiKeys", "ViewApiKeys"] },
    });
    editor = await h.createKey("editor", [role.body.id]);
  });
  afterAll(() => h.close());

  const importKeys = (keys: unknown[], options: { dryRun?: boolean; as?: Credentials } = {}) =>
    h.request("POST", IMPORT, {
      as: options.as ?? h.owner,
      body: options.dryRun === undefined ? { keys } : { keys, dryRun: options.dryRun },
    });
  const keyCount = async () =>
    Number(
      (
        await h
          .raw()
          .selectFrom("keys")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirst()
      )?.n,
    );
  const verify = (appKey: string, appToken: string) =>
    h.request("POST", "/v1/verify", { as: null, body: { appKey, appToken, resource: "ViewOrders" } });
  const authorize = (appKey: string, appToken: string) =>
    h.request("GET", "/v1/authorize", {
      as: null,
      headers: {
        "x-original-method": "GET",
        "x-original-uri": ORDERS,
        "x-api-appkey": appKey,
        "x-api-apptoken": appToken,
      },
    });

  it("imports keys with their own appKeys and tokens, which then verify on /v1/verify, /v1/authorize and VTEX's paths", async () => {
    const token = vtexToken("erp");
    const appKey = "vtexappkey-acme-ERPONE";
    const other = "some-other-system:secret/123";
    const res = await importKeys([
      {
        name: "ERP",
        appKey,
        tokenHash: sha256(token).toUpperCase(),
        roles: [OMS_READ],
        createdAt: "2026-01-01T00:00:00Z",
      },
      { name: "Marketing", tokenHash: sha256(other), roles: [] },
    ]);
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ dryRun: false, imported: 2, failed: 0 });
    const [first, second] = res.body.results;
    expect(first).toEqual({ index: 0, name: "ERP", appKey, ok: true });
    expect(second.appKey).toMatch(/^appkey-acme-[A-Z]{6}$/);

    const verified = await verify(appKey, token);
    expect(verified.body).toMatchObject({ valid: true, code: "OK", allowed: true, appKey });
    expect((await verify(second.appKey, other)).body).toMatchObject({ valid: true, allowed: false });
    expect((await verify(appKey, vtexToken("wrong"))).body).toMatchObject({
      valid: false,
      code: "INVALID_CREDENTIALS",
    });
    expect((await authorize(appKey, token)).status).toBe(200);
    expect((await authorize(second.appKey, other)).status).toBe(403);

    const login = await h.request("POST", "/api/vtexid/apptoken/login", {
      as: null,
      headers: { host: "acme.vtexcommercestable.com.br" },
      body: { appkey: appKey, apptoken: token },
    });
    expect(login.body.authStatus).toBe("Success");
    const listed = await h.request("GET", "/api/vlm/appkeys?an=acme", {
      as: null,
      headers: { "X-VTEX-API-AppKey": appKey, "X-VTEX-API-AppToken": token },
    });
    // The key holds OMS only: authenticated, refused the License Manager resource.
    expect(listed.status).toBe(403);

    const key = await h.request("GET", `${A}/keys/${appKey}`);
    expect(key.body).toMatchObject({
      name: "ERP",
      creationDate: "2026-01-01T00:00:00.000Z",
      roles: [{ id: OMS_READ }],
    });
  });

  it("keeps refusing malformed latchkey-shaped tokens, and tokens of other shapes for keys holding latchkey's only", async () => {
    const native = await h.createKey("native key");
    const badChecksum = `${native.appToken.slice(0, -1)}${native.appToken.endsWith("A") ? "B" : "A"}`;
    expect((await verify(native.appKey, badChecksum)).body.code).toBe("MALFORMED_CREDENTIALS");
    // Another shape for a native key: refused unhashed, answered as a wrong token (as for an
    // unknown appKey), so the code tells nothing of the key.
    expect((await verify(native.appKey, vtexToken("guess"))).body.code).toBe("INVALID_CREDENTIALS");
    expect((await verify("vtexappkey-acme-NOSUCH", vtexToken("guess"))).body.code).toBe(
      "INVALID_CREDENTIALS",
    );
    expect((await authorize(native.appKey, vtexToken("guess"))).headers.get("x-auth-code")).toBe(
      "INVALID_CREDENTIALS",
    );
    // An imported key's token with latchkey's prefix must still pass the checksum.
    const imported = (await importKeys([{ name: "prefixed", tokenHash: sha256(badChecksum), roles: [] }]))
      .body;
    expect((await verify(imported.results[0].appKey, badChecksum)).body.code).toBe("MALFORMED_CREDENTIALS");
    expect((await verify(native.appKey, native.appToken)).body.valid).toBe(true);
  });

  it("a dry run reports each entry and writes nothing", async () => {
    const before = await keyCount();
    const auditBefore = (await h.store.audit.list("acme", 1)).at(0)?.id;
    const res = await importKeys(
      [
        { name: "dry one", tokenHash: sha256("dry-1"), roles: [] },
        { name: "dry two", appKey: "vtexappkey-other-ABCDEF", tokenHash: sha256("dry-2"), roles: [] },
        { name: "dry three", tokenHash: "not-a-hash", roles: [] },
        { name: "DRY ONE", tokenHash: sha256("dry-4"), roles: [] },
        { name: "dry five", tokenHash: sha256("dry-5"), roles: [999] },
      ],
      { dryRun: true },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ dryRun: true, imported: 0, failed: 4 });
    const [one, two, three, four, five] = res.body.results;
    expect(one).toMatchObject({ index: 0, ok: true });
    expect(two).toMatchObject({ index: 1, ok: false, error: { code: "VALIDATION_FAILED", status: 400 } });
    expect(two.error.detail).toMatch(/appKey must look like/);
    expect(three.error.detail).toMatch(/tokenHash must be the SHA-256/);
    expect(four.error).toMatchObject({ code: "KEY_NAME_TAKEN", detail: "name is also given at index 0" });
    expect(five.error.code).toBe("UNKNOWN_ROLE");
    expect(await keyCount()).toBe(before);
    expect((await h.store.audit.list("acme", 1)).at(0)?.id).toBe(auditBefore);
  });

  it("one bad entry refuses the whole import (422), listing every bad entry, and writes nothing", async () => {
    const existing = await h.createKey("already here");
    const before = await keyCount();
    const res = await importKeys([
      { name: "fine", tokenHash: sha256("fine"), roles: [] },
      { name: "Already Here", tokenHash: sha256("x1"), roles: [] },
      { name: "same token as a key", tokenHash: sha256(existing.appToken), roles: [] },
      { name: "same appKey", appKey: existing.appKey, tokenHash: sha256("x3"), roles: [] },
      { name: "twice", appKey: "vtexappkey-acme-TWICEE", tokenHash: sha256("x4"), roles: [] },
      { name: "twice 2", appKey: "vtexappkey-acme-TWICEE", tokenHash: sha256("x5"), roles: [] },
      { name: "expired", tokenHash: sha256("x6"), roles: [], expiresAt: "2020-01-01T00:00:00Z" },
    ]);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("IMPORT_REJECTED");
    expect(res.body.errors.map((e: { index: number; code: string }) => [e.index, e.code])).toEqual([
      [1, "KEY_NAME_TAKEN"],
      [2, "TOKEN_HASH_TAKEN"],
      [3, "APP_KEY_TAKEN"],
      [5, "APP_KEY_TAKEN"],
      [6, "VALIDATION_FAILED"],
    ]);
    expect(await keyCount()).toBe(before);
    expect(res.text).not.toContain(sha256(existing.appToken));
    expect((await h.request("GET", `${A}/keys?q=fine`)).body.total).toBe(0);
  });

  it("refuses roles the caller could not give (403, audited, nothing written) and bounds a key's imports by its own controls", async () => {
    const before = await keyCount();
    const res = await importKeys(
      [
        { name: "weak", tokenHash: sha256("w"), roles: [] },
        { name: "strong", tokenHash: sha256("s"), roles: [OWNER_ROLE] },
      ],
      { as: editor },
    );
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("ESCALATION_DENIED");
    expect(res.body.errors).toEqual([expect.objectContaining({ index: 1, code: "ESCALATION_DENIED" })]);
    expect(await keyCount()).toBe(before);
    const [refused] = await h.store.audit.list("acme", 1);
    expect(refused).toMatchObject({ action: "access.refused", data: { attempted: "key.imported" } });
    expect(JSON.stringify(refused)).not.toContain(sha256("s"));

    // A key with an expiry gives imported keys no later one.
    const bounded = await h.request("POST", `${A}/keys`, {
      body: { name: "bounded editor", roles: [], expiresAt: "2026-12-31T00:00:00Z" },
    });
    const role = await h.request("POST", `${A}/roles`, {
      body: { name: "importer", resources: ["EditApiKeys"] },
    });
    await h.request("PUT", `${A}/keys/${bounded.body.key.appKey}/roles`, { body: { roles: [role.body.id] } });
    const boundedCreds = { appKey: bounded.body.key.appKey, appToken: bounded.body.appToken };
    const later = await importKeys(
      [{ name: "outlives", tokenHash: sha256("o"), roles: [], expiresAt: "2027-06-01T00:00:00Z" }],
      { as: boundedCreds },
    );
    expect(later.status).toBe(403);
    expect(later.body.code).toBe("KEY_CONTROLS_EXCEED_CALLER");
    const inherits = await importKeys([{ name: "inherits", tokenHash: sha256("i"), roles: [] }], {
      as: boundedCreds,
    });
    expect(inherits.status, inherits.text).toBe(201);
    const got = await h.request("GET", `${A}/keys/${inherits.body.results[0].appKey}`);
    expect(got.body.expiresAt).toBe("2026-12-31T00:00:00.000Z");
  });

  it("audits one key.imported per key and keeps token hashes out of audit, logs, export and lists", async () => {
    const token = vtexToken("audited");
    const res = await importKeys([
      { name: "audited", appKey: "vtexappkey-acme-AUDITD", tokenHash: sha256(token), roles: [OMS_READ] },
    ]);
    expect(res.status).toBe(201);
    const [event] = await h.store.audit.list("acme", 1);
    expect(event).toMatchObject({
      action: "key.imported",
      targetId: "vtexappkey-acme-AUDITD",
      data: { after: { name: "audited", active: true, roles: [OMS_READ] } },
    });
    const exported = await h.request("GET", `${A}/keys/export?format=json`);
    const listed = await h.request("GET", `${A}/keys?q=audited`);
    const audit = await h.request("GET", `${A}/audit`);
    const stored = Buffer.from(sha256(token), "hex").toString("base64url");
    for (const text of [
      exported.text,
      listed.text,
      audit.text,
      h.logLines.join("\n"),
      JSON.stringify(event),
    ]) {
      expect(text).not.toContain(sha256(token));
      expect(text).not.toContain(stored);
      expect(text).not.toContain(token);
    }
  });

  it("renewal of an imported key issues a latchkey token; once completed, tokens of other shapes are refused early", async () => {
    const token = vtexToken("renewed");
    const appKey = "vtexappkey-acme-RENEWD";
    expect(
      (await importKeys([{ name: "renewed", appKey, tokenHash: sha256(token), roles: [] }])).status,
    ).toBe(201);
    const renewed = await h.request("POST", `${A}/keys/${appKey}/renewal`, { body: {} });
    expect(renewed.status, renewed.text).toBe(201);
    expect(renewed.body.appToken).toMatch(/^lkt_/);
    expect((await verify(appKey, token)).body.valid).toBe(true);
    expect((await verify(appKey, renewed.body.appToken)).body.valid).toBe(true);
    expect((await h.request("POST", `${A}/keys/${appKey}/renewal/complete`)).status).toBe(200);
    expect((await verify(appKey, token)).body.code).toBe("INVALID_CREDENTIALS");
    expect((await verify(appKey, renewed.body.appToken)).body.valid).toBe(true);
  });

  it("imports 10,000 keys in one request and refuses 10,001", async () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => ({
      name: `bulk ${i}`,
      tokenHash: sha256(`bulk-token-${i}`),
      roles: [OMS_READ],
    }));
    const started = Date.now();
    const res = await importKeys(keys);
    expect(res.status, res.text.slice(0, 500)).toBe(201);
    expect(res.body.imported).toBe(10_000);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(new Set(res.body.results.map((r: { appKey: string }) => r.appKey)).size).toBe(10_000);
    const last = res.body.results[9_999];
    expect((await verify(last.appKey, "bulk-token-9999")).body).toMatchObject({ valid: true, allowed: true });

    const tooMany = await importKeys([...keys, { name: "one more", tokenHash: sha256("x"), roles: [] }]);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.code).toBe("VALIDATION_FAILED");
    expect(tooMany.body.detail).toMatch(/at most 10000 keys/);
  }, 120_000);
});
