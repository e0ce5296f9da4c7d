/**
 * App-token login JWTs (SPEC §6): ES256, header `kid`, claims `sub` (appKey), `account`, `iat`,
 * `exp`, `jti` and `tfp`, and the in-memory ring of signing keys they are signed and checked with.
 * They also carry the claims VTEX's app-token JWTs carry and integrations read: `audience`
 * ("admin"), `userId` (the key's id in `account`) and `iss` ("token-emitter"); verification does not
 * need them, so JWTs minted before they were added stay valid.
 *
 * Secrets: a JWT is a bearer credential for its lifetime; it is never logged or stored. `tfp` binds
 * it to the token it was minted from without revealing it: the first 22 characters of
 * base64url(SHA-256(stored token hash)). The stored hash is already a SHA-256 of a high-entropy
 * token, so the fingerprint gives nothing to brute-force. Private signing keys live in memory as
 * KeyObjects, opened only for the current key and only when signing; at rest they are sealed.
 *
 * Rotation: an instance signs with the key it last read, re-reading at least every
 * SIGNER_MAX_AGE_MS (and at once when told of a rotation), so a retired key signs nothing more than
 * that long after its retirement. A retired key is published, and accepted, for
 * RETIRED_KEY_RETENTION_MS: until the last JWT it can have signed has expired.
 */
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";

export const JWT_ALG = "ES256";
/** SPEC §6: the lifetime is configurable up to 24 h (JWT_TTL). */
export const MAX_JWT_TTL_SECONDS = 86_400;
/** How long an instance may keep signing with a key without re-reading the store. */
export const SIGNER_MAX_AGE_MS = 60_000;
/** A retired key stays published until every JWT it may have signed has expired. */
export const RETIRED_KEY_RETENTION_MS = MAX_JWT_TTL_SECONDS * 1000 + SIGNER_MAX_AGE_MS;
/** A JWT naming an unknown kid makes the ring re-read the store at most this often. */
export const UNKNOWN_KID_RELOAD_MS = 1000;
export const FINGERPRINT_LENGTH = 22;
/** Far above what latchkey issues (~400 characters); anything longer is refused unparsed. */
const MAX_JWT_LENGTH = 4096;
const REQUIRED_CLAIMS = ["sub", "account", "iat", "exp", "jti", "tfp"];
/** VTEX's values for these claims, as its app-token login reference shows them. */
export const VTEX_AUDIENCE = "admin";
export const VTEX_ISSUER = "token-emitter";

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
}

/** A JWKS entry (RFC 7517), as `/.well-known/jwks.json` publishes it. */
export interface PublishedJwk extends PublicJwk {
  kid: string;
  alg: typeof JWT_ALG;
  use: "sig";
}

/** Binds a JWT to the token it came from; reveals neither the token nor its stored hash. */
export function tokenFingerprint(tokenHash: string): string {
  return createHash("sha256").update(tokenHash, "utf8").digest("base64url").slice(0, FINGERPRINT_LENGTH);
}

export interface GeneratedSigningKey {
  kid: string;
  publicJwk: PublicJwk;
  /** The private JWK as JSON text: seal it before it goes anywhere. */
  privateJwk: string;
}

export async function generateSigningKey(): Promise<GeneratedSigningKey> {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const exported = publicKey.export({ format: "jwk" });
  const publicJwk: PublicJwk = { kty: "EC", crv: "P-256", x: String(exported.x), y: String(exported.y) };
  const kid = await calculateJwkThumbprint(publicJwk, "sha256");
  return { kid, publicJwk, privateJwk: JSON.stringify(privateKey.export({ format: "jwk" })) };
}

/** A signing key as the ring holds it. */
export interface RingKey {
  kid: string;
  createdAt: number;
  /** Null while current. */
  retiredAt: number | null;
  publicJwk: PublicJwk;
  /** Opens the private key; given for the current key only. Throws when it cannot be unsealed. */
  openPrivate?: () => KeyObject;
}

interface Snapshot {
  keys: Map<string, RingKey & { publicKey: KeyObject }>;
  current: RingKey;
  loadedAt: number;
  privateKey?: KeyObject;
}

export interface KeyRingSource {
  /** Every stored key; exactly one current (the source creates the first one when none is). */
  load(): Promise<RingKey[]>;
}

/** Whether a key is still published (and accepted) at `now`. */
export function isPublished(key: { retiredAt: number | null }, now: number): boolean {
  return key.retiredAt === null || now < key.retiredAt + RETIRED_KEY_RETENTION_MS;
}

/**
 * `trusted` answers false while changes from other instances may be missed (the change bus is
 * down): the ring then re-reads the store before each verification (concurrent ones share a read),
 * as the key cache does, so a key removed elsewhere is not accepted from what was read before.
 */
export function createKeyRing(
  source: KeyRingSource,
  clock: { now(): number },
  trusted: () => boolean = () => true,
) {
  let snapshot: Snapshot | undefined;
  let inflight: Promise<Snapshot> | undefined;
  /** Bumped by invalidate(): a load started before it must not install its (stale) result. */
  let epoch = 0;
  let lastMissReload = Number.NEGATIVE_INFINITY;

  function build(keys: RingKey[], loadedAt: number): Snapshot {
    const current = keys.find((key) => key.retiredAt === null);
    if (!current) throw new Error("no current JWT signing key");
    const entries = keys.map(
      (key) =>
        [
          key.kid,
          { ...key, publicKey: createPublicKey({ key: { ...key.publicJwk }, format: "jwk" }) },
        ] as const,
    );
    return { keys: new Map(entries), current, loadedAt };
  }

  function reload(): Promise<Snapshot> {
    if (inflight) return inflight;
    const started = epoch;
    const loading = source
      .load()
      .then((keys) => {
        const loaded = build(keys, clock.now());
        if (epoch === started) snapshot = loaded;
        return loaded;
      })
      .finally(() => {
        if (inflight === loading) inflight = undefined;
      });
    inflight = loading;
    return loading;
  }

  /** The snapshot, re-read first when older than `maxAgeMs`. */
  async function fresh(maxAgeMs: number): Promise<Snapshot> {
    const held = snapshot;
    return held && clock.now() - held.loadedAt < maxAgeMs ? held : reload();
  }

  return {
    /** Forgets what was read: the next use re-reads the store (a rotation was announced). */
    invalidate(): void {
      epoch++;
      snapshot = undefined;
      inflight = undefined;
    },

    /** The current key with its private half, for signing. */
    async signer(): Promise<{ kid: string; privateKey: KeyObject }> {
      const held = await fresh(SIGNER_MAX_AGE_MS);
      if (!held.privateKey) {
        const open = held.current.openPrivate;
        if (!open) throw new Error("the current JWT signing key has no private key");
        held.privateKey = open();
      }
      return { kid: held.current.kid, privateKey: held.privateKey };
    },

    /**
     * The public key for `kid`, if published. An unknown kid re-reads the store (at most once per
     * UNKNOWN_KID_RELOAD_MS), so a key made by another instance is found without waiting for a notice.
     * A snapshot older than SIGNER_MAX_AGE_MS is refreshed in the background and used meanwhile.
     */
    async verifier(kid: string): Promise<KeyObject | undefined> {
      let held = snapshot && trusted() ? snapshot : await reload();
      if (clock.now() - held.loadedAt >= SIGNER_MAX_AGE_MS) void reload().catch(() => undefined);
      let key = held.keys.get(kid);
      if (!key && clock.now() - lastMissReload >= UNKNOWN_KID_RELOAD_MS) {
        lastMissReload = clock.now();
        held = await reload();
        key = held.keys.get(kid);
      }
      return key && isPublished(key, clock.now()) ? key.publicKey : undefined;
    },

    /** The JWKS: the current key first, then retired keys still within their retention. */
    async published(): Promise<PublishedJwk[]> {
      const held = await fresh(SIGNER_MAX_AGE_MS);
      const now = clock.now();
      const keys = [...held.keys.values()].filter((key) => isPublished(key, now));
      const order = (key: RingKey) => key.retiredAt ?? Number.MAX_SAFE_INTEGER;
      keys.sort((a, b) => order(b) - order(a));
      return keys.map((key) => ({ ...key.publicJwk, kid: key.kid, alg: JWT_ALG, use: "sig" }));
    },
  };
}

export type KeyRing = ReturnType<typeof createKeyRing>;

export interface AppJwtClaims {
  appKey: string;
  account: string;
  /** The key's id in `account` (the addition's id for an external key); absent in older JWTs. */
  userId?: string;
  fingerprint: string;
  /** Unix seconds. */
  iat: number;
  /** Unix seconds. */
  exp: number;
  jti: string;
}

export function signAppJwt(
  signer: { kid: string; privateKey: KeyObject },
  claims: AppJwtClaims,
): Promise<string> {
  const vtex = { audience: VTEX_AUDIENCE, ...(claims.userId ? { userId: claims.userId } : {}) };
  return new SignJWT({ account: claims.account, ...vtex, tfp: claims.fingerprint })
    .setProtectedHeader({ alg: JWT_ALG, kid: signer.kid, typ: "JWT" })
    .setIssuer(VTEX_ISSUER)
    .setSubject(claims.appKey)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .setJti(claims.jti)
    .sign(signer.privateKey);
}

/**
 * Checks signature (ES256 only, so neither `none` nor an HMAC keyed with a public key passes), kid,
 * expiry at `now` and the claims' shapes. Null for anything that does not hold; never throws for a
 * bad token. The key's current state is the caller's to check.
 */
export async function verifyAppJwt(token: string, ring: KeyRing, now: number): Promise<AppJwtClaims | null> {
  if (token.length > MAX_JWT_LENGTH) return null;
  let kid: unknown;
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== JWT_ALG) return null;
    kid = header.kid;
  } catch {
    return null;
  }
  if (typeof kid !== "string" || kid === "") return null;
  const key = await ring.verifier(kid);
  if (!key) return null;
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [JWT_ALG],
      currentDate: new Date(now),
      requiredClaims: REQUIRED_CLAIMS,
    });
    const { sub, account, tfp, iat, exp, jti } = payload;
    const strings = [sub, account, tfp, jti].every((value) => typeof value === "string" && value !== "");
    if (!strings || typeof iat !== "number" || typeof exp !== "number") return null;
    return {
      appKey: sub as string,
      account: account as string,
      fingerprint: tfp as string,
      iat,
      exp,
      jti: jti as string,
    };
  } catch (error) {
    if (error instanceof errors.JOSEError) return null;
    throw error;
  }
}
