/**
 * The JWT service over real stores, on SQLite and PostgreSQL: two "instances" (two services, each
 * with its own store connection, key ring and change bus) share one database, as two servers do.
 * Time is each instance's injected clock; nothing sleeps.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { isAuthenticated } from "../../src/core/verification.js";
import { createSealer } from "../../src/crypto/sealing.js";
import { hashToken } from "../../src/crypto/token-hash.js";
import { createLogger } from "../../src/log.js";
import { composeLatchkey } from "../../src/main.js";
import { SigningKeySecretError } from "../../src/services/signing-keys.js";
import { openStore } from "../../src/storage/open.js";
import type { Store } from "../../src/storage/store.js";
import {
  RETIRED_KEY_RETENTION_MS,
  SIGNER_MAX_AGE_MS,
  tokenFingerprint,
  UNKNOWN_KID_RELOAD_MS,
} from "../../src/verify/jwt.js";
import { dropTestSchema, TEST_PG_URL } from "../support/stores.js";

const SECRET = "jwt-test-secret-0123456789-0123456789";
const T0 = Date.parse("2026-11-26T10:00:00Z");
const HOUR = 3_600_000;

interface Shared {
  kind: "sqlite" | "postgres";
  /** The SQLite file, for searching its bytes. */
  dir?: string;
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

async function sharedDatabase(kind: "sqlite" | "postgres"): Promise<Shared> {
  if (kind === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), "latchkey-jwt-"));
    return {
      kind,
      dir,
      open: () => openStore({ kind: "sqlite", file: join(dir, "latchkey.db") }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const schema = `test_${randomBytes(6).toString("hex")}`;
  return {
    kind,
    open: () => openStore({ kind: "postgres", url: TEST_PG_URL, schema }),
    cleanup: () => dropTestSchema(schema),
  };
}

/** Every signingKeys.list call of a store, and an optional barrier its first call waits at. */
function instrumented(store: Store, barrier?: Promise<void>, arrive?: () => void) {
  const counter = { lists: 0 };
  const signingKeys = new Proxy(store.signingKeys, {
    get(target, prop) {
      if (prop === "list") {
        return async () => {
          counter.lists++;
          const rows = await target.list();
          if (counter.lists === 1 && barrier) {
            arrive?.();
            await barrier;
          }
          return rows;
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === "signingKeys") return signingKeys;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store: wrapped, counter };
}

function instance(store: Store, options: { ttl?: number; now?: number; secret?: string } = {}) {
  let now = options.now ?? T0;
  const config = loadConfig({
    LATCHKEY_SECRET: options.secret ?? SECRET,
    PUBLIC_URL: "http://localhost",
    JWT_TTL: String(options.ttl ?? 3600),
  });
  const logger = createLogger({ level: "silent" });
  const { deps, services } = composeLatchkey(config, { store, logger, clock: { now: () => now } });
  return {
    deps,
    services,
    jwt: services.jwt,
    /** The appKey a JWT authenticates as, the way every entry point checks it (verify/verifier.ts); null if none. */
    async authenticatedAs(token: string): Promise<string | null> {
      const decision = await services.verifier.verify({ credentials: { kind: "jwt", token }, ip: null });
      return isAuthenticated(decision) ? decision.key.appKey : null;
    },
    advance(ms: number) {
      now += ms;
    },
    set(ms: number) {
      now = ms;
    },
  };
}

function header(token: string): { kid: string; alg: string } {
  return JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8"));
}

function payload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
}

describe.each(["sqlite", "postgres"] as const)("JWT service on %s", (kind) => {
  let db: Shared;
  const stores: Store[] = [];

  async function openShared(): Promise<[Store, Store]> {
    db = await sharedDatabase(kind);
    const first = await db.open();
    await first.migrate();
    const second = await db.open();
    stores.push(first, second);
    return [first, second];
  }

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await db.cleanup();
  });

  async function seedKey(services: ReturnType<typeof instance>["services"]) {
    const init = await services.accounts.init({
      account: "acme",
      email: "owner@acme.test",
      password: "p".repeat(16),
    });
    return { appKey: init.appKey, appToken: init.appToken };
  }

  it("creates exactly one first signing key when two instances race for it", async () => {
    const [storeA, storeB] = await openShared();
    let arrived = 0;
    let open = () => {};
    const barrier = new Promise<void>((resolve) => {
      open = resolve;
    });
    const arrive = () => {
      arrived++;
      if (arrived === 2) open();
    };
    // Both instances read "no key yet" before either creates one.
    const a = instance(instrumented(storeA, barrier, arrive).store);
    const b = instance(instrumented(storeB, barrier, arrive).store);
    const [setA, setB] = await Promise.all([a.jwt.jwks(), b.jwt.jwks()]);
    const rows = await storeA.signingKeys.list();
    expect(rows).toHaveLength(1);
    expect(setA.keys.map((key) => key.kid)).toEqual([rows[0]?.kid]);
    expect(setB.keys).toEqual(setA.keys);
  });

  it("mints JWTs bound to the token and account, with the configured lifetime", async () => {
    const [store] = await openShared();
    const node = instance(store, { ttl: 900 });
    const owner = await seedKey(node.services);
    const minted = await node.jwt.mint(owner);
    if (!minted.ok) throw new Error(minted.reason);
    expect(minted).toMatchObject({
      expires: T0 / 1000 + 900,
      expiresAt: new Date(T0 + 900_000).toISOString(),
    });
    const claims = payload(minted.token);
    expect(claims).toMatchObject({
      sub: owner.appKey,
      account: "acme",
      iat: T0 / 1000,
      exp: T0 / 1000 + 900,
    });
    expect(claims.tfp).toBe(tokenFingerprint(hashToken(owner.appToken)));
    expect(String(claims.jti)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(minted.token).not.toContain(owner.appToken);
    expect(minted.token).not.toContain(hashToken(owner.appToken));
    expect(await node.jwt.verify(minted.token)).toEqual({
      appKey: owner.appKey,
      account: "acme",
      fingerprint: claims.tfp,
      exp: T0 / 1000 + 900,
    });
    expect(await node.authenticatedAs(minted.token)).toBe(owner.appKey);
    // Two JWTs minted in the same second still differ.
    const again = await node.jwt.mint(owner);
    expect(again.ok && payload(again.token).jti).not.toBe(claims.jti);
    node.advance(900_000 - 1000);
    expect(await node.jwt.verify(minted.token)).not.toBeNull();
    node.advance(1000);
    expect(await node.jwt.verify(minted.token)).toBeNull();
    // Minting writes no audit event.
    const actions = (await store.audit.list("acme", 100)).map((event) => event.action);
    expect(actions.filter((action) => action.startsWith("signing_key") || action.includes("jwt"))).toEqual(
      [],
    );
  });

  it("refuses wrong credentials alike and accounts the key was not added to", async () => {
    const [store] = await openShared();
    const node = instance(store);
    const owner = await seedKey(node.services);
    const other = await node.services.accounts.init({ account: "other", email: "o@other.test" });
    await node.services.accounts.init({ account: "third", email: "t@third.test" });
    const wrong = await node.jwt.mint({ appKey: owner.appKey, appToken: other.appToken });
    const unknown = await node.jwt.mint({ appKey: "appkey-acme-ZZZZZZ", appToken: owner.appToken });
    const malformed = await node.jwt.mint({ appKey: owner.appKey, appToken: "lkt_short" });
    for (const result of [wrong, unknown, malformed])
      expect(result).toEqual({ ok: false, reason: "WRONG_CREDENTIALS" });
    const key = await store.keys.getByAppKey(other.appKey);
    await store.externalKeys.add("acme", key?.id ?? "", T0, "addition-acme");
    const external = await node.jwt.mint({ appKey: other.appKey, appToken: other.appToken, account: "acme" });
    expect(external.ok && payload(external.token).account).toBe("acme");
    expect(await node.jwt.mint({ appKey: other.appKey, appToken: other.appToken, account: "third" })).toEqual(
      {
        ok: false,
        reason: "ACCOUNT_DENIED",
      },
    );
    expect(
      await node.jwt.mint({ appKey: other.appKey, appToken: other.appToken, account: "nowhere" }),
    ).toEqual({
      ok: false,
      reason: "ACCOUNT_DENIED",
    });
    await store.keys.update("other", other.appKey, { active: false, updatedAt: T0 });
    expect(await node.jwt.mint({ appKey: other.appKey, appToken: other.appToken, account: "acme" })).toEqual({
      ok: false,
      reason: "WRONG_CREDENTIALS",
    });
  });

  it("rotates with overlap: old JWTs verify and the old kid is published until its retention ends", async () => {
    const [store] = await openShared();
    const node = instance(store);
    const owner = await seedKey(node.services);
    const before = await node.jwt.mint(owner);
    if (!before.ok) throw new Error(before.reason);
    const oldKid = header(before.token).kid;
    node.advance(HOUR / 2);
    const rotated = await node.jwt.rotate();
    expect(rotated).toEqual({
      kid: expect.any(String),
      previousKid: oldKid,
      previousPublishedUntil: new Date(T0 + HOUR / 2 + RETIRED_KEY_RETENTION_MS).toISOString(),
    });
    expect(rotated.kid).not.toBe(oldKid);
    expect((await node.jwt.jwks()).keys.map((key) => key.kid)).toEqual([rotated.kid, oldKid]);
    expect(await node.authenticatedAs(before.token)).toBe(owner.appKey);
    const after = await node.jwt.mint(owner);
    expect(after.ok && header(after.token).kid).toBe(rotated.kid);
    const audit = (await store.audit.list("acme", 10)).find(
      (event) => event.action === "signing_key.rotated",
    );
    expect(audit).toMatchObject({ actorType: "system", targetType: "signing_key", targetId: rotated.kid });
    expect(JSON.stringify(audit)).not.toMatch(/"d"/);
    // Just before the end of the retention the old kid is still published; then it is gone.
    node.set(T0 + HOUR / 2 + RETIRED_KEY_RETENTION_MS - 1);
    expect((await node.jwt.jwks()).keys.map((key) => key.kid)).toEqual([rotated.kid, oldKid]);
    node.advance(1);
    expect((await node.jwt.jwks()).keys.map((key) => key.kid)).toEqual([rotated.kid]);
    // The next rotation deletes it from the store as well.
    const third = await node.jwt.rotate();
    expect((await store.signingKeys.list()).map((key) => key.kid)).toEqual([third.kid, rotated.kid]);
  });

  it("picks up a rotation made elsewhere: on notice, on an unknown kid, and after the signer's max age", async () => {
    const [storeA, storeB] = await openShared();
    const counted = instrumented(storeA);
    const a = instance(counted.store);
    const b = instance(storeB);
    const owner = await seedKey(a.services);
    const first = await a.jwt.mint(owner);
    if (!first.ok) throw new Error(first.reason);
    const oldKid = header(first.token).kid;
    // B rotates; A has heard nothing and keeps signing with its copy until it is SIGNER_MAX_AGE_MS old.
    const { kid: newKid } = await b.jwt.rotate();
    const stale = await a.jwt.mint(owner);
    expect(stale.ok && header(stale.token).kid).toBe(oldKid);
    a.advance(SIGNER_MAX_AGE_MS);
    const fresh = await a.jwt.mint(owner);
    expect(fresh.ok && header(fresh.token).kid).toBe(newKid);
    // B rotates again and signs with the new key at once; A finds that key by its kid.
    const { kid: newer } = await b.jwt.rotate();
    const fromB = await b.jwt.mint(owner);
    if (!fromB.ok) throw new Error(fromB.reason);
    expect(header(fromB.token).kid).toBe(newer);
    expect(await a.authenticatedAs(fromB.token)).toBe(owner.appKey);
    const learned = await a.jwt.mint(owner);
    expect(learned.ok && header(learned.token).kid).toBe(newer);
    // A notice on the change bus (what the fan-out delivers) makes A re-read at once.
    const { kid: newest } = await b.jwt.rotate();
    a.deps.changes.deliver({ kind: "signing-keys" });
    const noticed = await a.jwt.mint(owner);
    expect(noticed.ok && header(noticed.token).kid).toBe(newest);
    // JWTs naming unknown kids re-read the store at most once per second.
    const forged = (kid: string) =>
      `${Buffer.from(JSON.stringify({ alg: "ES256", kid })).toString("base64url")}.${first.token.split(".")[1]}.${first.token.split(".")[2]}`;
    a.advance(UNKNOWN_KID_RELOAD_MS);
    const lists = counted.counter.lists;
    for (let i = 0; i < 5; i++) expect(await a.jwt.verify(forged(`unknown-${i}`))).toBeNull();
    expect(counted.counter.lists - lists).toBe(1);
    a.advance(UNKNOWN_KID_RELOAD_MS);
    expect(await a.jwt.verify(forged("unknown-later"))).toBeNull();
    expect(counted.counter.lists - lists).toBe(2);
  });

  it("re-reads the signing keys for each verification while changes from elsewhere may be missed", async () => {
    const [storeA] = await openShared();
    const counted = instrumented(storeA);
    const a = instance(counted.store);
    const owner = await seedKey(a.services);
    const minted = await a.jwt.mint(owner);
    if (!minted.ok) throw new Error(minted.reason);
    expect(await a.authenticatedAs(minted.token)).toBe(owner.appKey);
    const trusted = counted.counter.lists;
    expect(await a.authenticatedAs(minted.token)).toBe(owner.appKey);
    expect(counted.counter.lists).toBe(trusted);
    a.deps.changes.setDown({ dependency: "database", reason: "test: journal unreadable" });
    expect(await a.authenticatedAs(minted.token)).toBe(owner.appKey);
    expect(await a.authenticatedAs(minted.token)).toBe(owner.appKey);
    expect(counted.counter.lists).toBe(trusted + 2);
    a.deps.changes.setUp();
    expect(await a.authenticatedAs(minted.token)).toBe(owner.appKey);
    expect(counted.counter.lists).toBe(trusted + 2);
  });

  it("keeps verifying when LATCHKEY_SECRET changed, refuses to sign, and recovers with a rotation", async () => {
    const [storeA, storeB] = await openShared();
    const a = instance(storeA);
    await a.jwt.checkSecret();
    const owner = await seedKey(a.services);
    const minted = await a.jwt.mint(owner);
    if (!minted.ok) throw new Error(minted.reason);
    await a.jwt.checkSecret();
    const changed = instance(storeB, { secret: `${SECRET}-changed` });
    expect(await changed.authenticatedAs(minted.token)).toBe(owner.appKey);
    await expect(changed.jwt.mint(owner)).rejects.toThrow(/does not unseal/);
    // Start-up and a plain rotation refuse the other secret; a rotation told of the change proceeds.
    await expect(changed.jwt.checkSecret()).rejects.toThrow(SigningKeySecretError);
    await expect(changed.jwt.rotate()).rejects.toThrow(SigningKeySecretError);
    expect(await storeB.signingKeys.list()).toHaveLength(1);
    const { kid } = await changed.jwt.rotate({ secretChanged: true });
    await changed.jwt.checkSecret();
    const after = await changed.jwt.mint(owner);
    expect(after.ok && header(after.token).kid).toBe(kid);
    // The instance still on the old secret is the one refused now.
    await expect(a.jwt.checkSecret()).rejects.toThrow(SigningKeySecretError);
  });

  it("never stores the private key in plaintext", async () => {
    const [store] = await openShared();
    const node = instance(store);
    await node.jwt.jwks();
    await node.jwt.rotate();
    const rows = await store.signingKeys.list();
    expect(rows).toHaveLength(2);
    const sealer = createSealer(SECRET, "jwt-signing-key");
    const secrets: Buffer[] = [];
    for (const row of rows) {
      const opened = sealer.open(row.sealedPrivateKey, row.kid);
      if (!opened) throw new Error("the sealed key does not open");
      const jwk = JSON.parse(opened) as { d: string; x: string };
      expect(jwk.x).toBe(row.publicJwk.x);
      expect(row.sealedPrivateKey).toMatch(/^v1\./);
      expect(row.sealedPrivateKey).not.toContain(jwk.d);
      // Bound to its row: it does not open as another kid's key, nor under another secret.
      expect(sealer.open(row.sealedPrivateKey, `${row.kid}x`)).toBeUndefined();
      expect(
        createSealer(`${SECRET}-other`, "jwt-signing-key").open(row.sealedPrivateKey, row.kid),
      ).toBeUndefined();
      // The JWK's `d` as text, and the raw scalar it encodes.
      secrets.push(Buffer.from(jwk.d, "utf8"), Buffer.from(jwk.d, "base64url"));
    }
    expect(JSON.stringify(await node.jwt.jwks())).not.toMatch(/"d"/);
    if (db.dir) {
      await store.close();
      stores.splice(stores.indexOf(store), 1);
      for (const file of await readdir(db.dir)) {
        const bytes = await readFile(join(db.dir, file));
        for (const secret of secrets)
          expect(bytes.includes(secret), `${file} holds a private key`).toBe(false);
      }
    }
  });
});
