/**
 * App-token login (SPEC §3 `POST /v1/auth/apptoken`, §6) and the JWT signing keys behind it.
 *
 * Secrets: the appToken presented to `mint` is hashed and decided on like any key authentication
 * (core/verification.ts `decideKeyAuth`, against the stored key: the store has the last word) and
 * never kept; the JWT returned is never stored, logged or audited (minting writes nothing). The
 * signing keys' private halves are sealed with AES-256-GCM under the "jwt-signing-key" key derived
 * from LATCHKEY_SECRET (crypto/sealing.ts), with the kid as additional data, before they reach the store.
 *
 * Every JWT is checked against the key's current state on every call (verify/verifier.ts, which
 * takes `verify` here for the signature): the key must exist, be active and still hold the token the
 * JWT was minted from (its `tfp` fingerprint), so deactivation, deletion and token removal apply at
 * once. Offline verifiers (JWKS) cannot know that.
 *
 * A LATCHKEY_SECRET that does not open the current signing key is refused up front (`checkSecret` at
 * start-up, and by `rotate`), since with it every app-token login would fail.
 */
import { createPrivateKey, type JsonWebKey } from "node:crypto";
import { recordAudit } from "../audit/audit.js";
import { SYSTEM_ACTOR } from "../core/actor.js";
import { controlState } from "../core/key-controls.js";
import { iso } from "../core/time.js";
import { acceptsShape, credentialShape, decideKeyAuth, matchingToken } from "../core/verification.js";
import { createSealer } from "../crypto/sealing.js";
import { digestsEqual, hashToken } from "../crypto/token-hash.js";
import type { SigningKeyRecord, StoreOps } from "../storage/store.js";
import { changeWithin } from "../verify/changes.js";
import {
  type AppJwtClaims,
  createKeyRing,
  generateSigningKey,
  type PublishedJwk,
  RETIRED_KEY_RETENTION_MS,
  type RingKey,
  signAppJwt,
  tokenFingerprint,
  verifyAppJwt,
} from "../verify/jwt.js";
import type { ServiceDeps } from "./deps.js";

const SEALING_PURPOSE = "jwt-signing-key";
const JTI_BYTES = 16;
/** Creating the first key, or rotating, retries when another instance did the same at that moment. */
const MAX_ATTEMPTS = 3;

export interface MintInput {
  appKey: string;
  appToken: string;
  /** Defaults to the key's own account; another only where the key was added as an external key. */
  account?: string | undefined;
  /** Whose login this is: the native one lives JWT_TTL (the default), VTEX's VTEX_JWT_TTL. */
  lifetime?: "native" | "vtex";
}

export type MintResult =
  | {
      ok: true;
      token: string;
      /** Unix seconds. */
      expires: number;
      /** ISO 8601. */
      expiresAt: string;
      appKey: string;
      account: string;
    }
  /** WRONG_CREDENTIALS whatever the reason (unknown key, wrong token, inactive key). */
  | { ok: false; reason: "WRONG_CREDENTIALS" | "ACCOUNT_DENIED" | "EXTERNAL_KEY_PENDING" };

/** What a valid signature vouches for; the key's current state is checked separately. */
export interface VerifiedJwt {
  appKey: string;
  account: string;
  fingerprint: string;
  /** Unix seconds. */
  exp: number;
}

export interface RotationResult {
  kid: string;
  /** The key retired by this rotation (null when there was none yet). */
  previousKid: string | null;
  /** Until when the previous key stays in the JWKS (ISO 8601), null when there was none. */
  previousPublishedUntil: string | null;
}

class RotationRaced extends Error {}

/** The current signing key does not open with this LATCHKEY_SECRET; the message is the whole story. */
export class SigningKeySecretError extends Error {
  constructor() {
    super(
      "LATCHKEY_SECRET does not open the signing keys sealed in the database: it is not the secret they were sealed with (restore that secret, or replace the keys with `latchkey signing-keys rotate --secret-changed`)",
    );
    this.name = "SigningKeySecretError";
  }
}

export interface RotateOptions {
  /**
   * LATCHKEY_SECRET was changed on purpose: retire the current key even though it does not open.
   * Without it, rotating under another secret is refused, as it would leave the instances that
   * still hold the right secret unable to sign.
   */
  secretChanged?: boolean;
}

export function createJwtService(deps: ServiceDeps) {
  const { store, clock } = deps;
  const sealer = createSealer(deps.secret, SEALING_PURPOSE);

  async function newRecord(generation: number, now: number): Promise<SigningKeyRecord> {
    const key = await generateSigningKey();
    return {
      kid: key.kid,
      generation,
      createdAt: now,
      retiredAt: null,
      publicJwk: key.publicJwk,
      sealedPrivateKey: sealer.seal(key.privateJwk, key.kid),
    };
  }

  function nextGeneration(rows: readonly SigningKeyRecord[]): number {
    return Math.max(0, ...rows.map((row) => row.generation)) + 1;
  }

  function opens(row: SigningKeyRecord): boolean {
    return sealer.open(row.sealedPrivateKey, row.kid) !== undefined;
  }

  /**
   * Throws SigningKeySecretError when a current signing key does not open with this secret. Retired
   * keys only verify (public halves), so they do not count; no key yet is fine: the first is made
   * under this secret.
   */
  async function checkSecret(): Promise<void> {
    const rows = await store.signingKeys.list();
    if (rows.some((row) => row.retiredAt === null && !opens(row))) throw new SigningKeySecretError();
  }

  function toRingKey(row: SigningKeyRecord): RingKey {
    const key: RingKey = {
      kid: row.kid,
      createdAt: row.createdAt,
      retiredAt: row.retiredAt,
      publicJwk: row.publicJwk,
    };
    if (row.retiredAt !== null) return key;
    return {
      ...key,
      openPrivate: () => {
        const jwk = sealer.open(row.sealedPrivateKey, row.kid);
        // A fault, not a refusal: verification keeps working on the public keys meanwhile.
        if (jwk === undefined)
          throw new Error("the JWT signing key does not unseal: LATCHKEY_SECRET changed?");
        return createPrivateKeyFromJwk(jwk);
      },
    };
  }

  /** Reads the keys, creating the first one on first use. Of two instances doing so, one key wins. */
  async function load(): Promise<RingKey[]> {
    for (let attempt = 1; ; attempt++) {
      const rows = await store.signingKeys.list();
      if (rows.some((row) => row.retiredAt === null)) return rows.map(toRingKey);
      if (attempt > MAX_ATTEMPTS) throw new Error("could not settle on a current JWT signing key");
      // Whether this insert wins or loses the race, the next read finds the one current key.
      await store.signingKeys.insert(await newRecord(nextGeneration(rows), clock.now()));
    }
  }

  const ring = createKeyRing({ load }, clock, () => deps.changes.down() === null);
  deps.changes.subscribe((change) => {
    if (change.kind === "signing-keys" || change.kind === "all") ring.invalidate();
  });

  /** The stored key and the token of it presented; undefined for anything that does not authenticate. */
  async function authenticated(appKey: string, appToken: string) {
    const shape = credentialShape(appKey, appToken, deps.tokenPrefix);
    if (shape === "malformed") return undefined;
    const key = await store.keys.getByAppKey(appKey);
    const importedTokens = key?.tokens.some((token) => token.imported === true) === true;
    if (!acceptsShape({ importedTokens }, shape)) return undefined;
    const presented = hashToken(appToken);
    const index = key ? matchingToken(key.tokens, (token) => digestsEqual(token.hash, presented)) : -1;
    const token = key?.tokens[index];
    // The address and the browser refusal were checked by the verifier before (routes/apptoken.ts);
    // the expiry is checked again against the stored key.
    const facts = { now: clock.now() };
    const state = key && { active: key.active, controls: controlState(key) };
    return decideKeyAuth(state, index >= 0, facts).ok && key && token ? { key, token } : undefined;
  }

  async function mint(input: MintInput): Promise<MintResult> {
    const found = await authenticated(input.appKey, input.appToken);
    if (!found) return { ok: false, reason: "WRONG_CREDENTIALS" };
    const { key, token } = found;
    const account = input.account ?? key.account;
    // In another account the key is named by the addition's id, never its owner's key id.
    const added = account === key.account ? undefined : await store.externalKeys.get(account, key.id);
    if (account !== key.account && !added) return { ok: false, reason: "ACCOUNT_DENIED" };
    if (added?.request) return { ok: false, reason: "EXTERNAL_KEY_PENDING" };
    const iat = Math.floor(clock.now() / 1000);
    const claims: AppJwtClaims = {
      appKey: key.appKey,
      account,
      userId: added?.id ?? key.id,
      fingerprint: tokenFingerprint(token.hash),
      iat,
      // Never past the key's expiry: offline verifiers (JWKS) accept a JWT until its exp.
      exp: Math.min(
        iat + (input.lifetime === "vtex" ? deps.vtexJwtTtlSeconds : deps.jwtTtlSeconds),
        key.expiresAt === null ? Number.POSITIVE_INFINITY : Math.floor(key.expiresAt / 1000),
      ),
      jti: Buffer.from(deps.random(JTI_BYTES)).toString("base64url"),
    };
    const jwt = await signAppJwt(await ring.signer(), claims);
    return {
      ok: true,
      token: jwt,
      expires: claims.exp,
      expiresAt: iso(claims.exp * 1000),
      appKey: key.appKey,
      account,
    };
  }

  /** Signature, kid and expiry only; null when any fails. */
  async function verify(token: string): Promise<VerifiedJwt | null> {
    const claims = await verifyAppJwt(token, ring, clock.now());
    return (
      claims && {
        appKey: claims.appKey,
        account: claims.account,
        fingerprint: claims.fingerprint,
        exp: claims.exp,
      }
    );
  }

  async function jwks(): Promise<{ keys: PublishedJwk[] }> {
    return { keys: await ring.published() };
  }

  async function rotateOnce(
    tx: StoreOps,
    fresh: SigningKeyRecord,
    options: RotateOptions,
  ): Promise<RotationResult> {
    const now = clock.now();
    const rows = await tx.signingKeys.list();
    const current = rows.find((row) => row.retiredAt === null);
    if (current && !options.secretChanged && !opens(current)) throw new SigningKeySecretError();
    if (current && !(await tx.signingKeys.retire(current.kid, now))) throw new RotationRaced();
    const record = { ...fresh, generation: nextGeneration(rows), createdAt: now };
    if (!(await tx.signingKeys.insert(record))) throw new RotationRaced();
    // Keys no longer published at `now` (see isPublished) sign nothing and verify nothing any more.
    await tx.signingKeys.deleteRetiredBefore(now - RETIRED_KEY_RETENTION_MS + 1);
    const result: RotationResult = {
      kid: record.kid,
      previousKid: current?.kid ?? null,
      previousPublishedUntil: current ? iso(now + RETIRED_KEY_RETENTION_MS) : null,
    };
    // The signing keys serve every account, so every account's audit log records the rotation.
    const data = { previousKid: result.previousKid, previousPublishedUntil: result.previousPublishedUntil };
    for (const account of await tx.accounts.list()) {
      await recordAudit(tx, deps, SYSTEM_ACTOR, {
        account,
        action: "signing_key.rotated",
        target: { type: "signing_key", id: record.kid },
        data,
      });
    }
    return result;
  }

  /**
   * Retires the current signing key and makes a new one current. JWTs signed with the old key keep
   * verifying, and the old key stays in the JWKS, for RETIRED_KEY_RETENTION_MS.
   */
  async function rotate(options: RotateOptions = {}): Promise<RotationResult> {
    const fresh = await newRecord(0, clock.now());
    for (let attempt = 1; ; attempt++) {
      try {
        return await changeWithin(store, deps.changes, { kind: "signing-keys" }, (tx) =>
          rotateOnce(tx, fresh, options),
        );
      } catch (error) {
        if (!(error instanceof RotationRaced) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  return { mint, verify, jwks, rotate, checkSecret };
}

function createPrivateKeyFromJwk(jwk: string) {
  return createPrivateKey({ key: JSON.parse(jwk) as JsonWebKey, format: "jwk" });
}

export type JwtService = ReturnType<typeof createJwtService>;
