/**
 * The compact form of one cached key (key-cache.ts). One object per key, of one shape, holding
 * only what a decision reads; everything else is derived on demand or shared between keys:
 *
 * - The grant of the key's own account is held in the object's own fields (no Map per key); what
 *   is known of other accounts (which ones added the key, and their grants) is made only when an
 *   account other than the key's own is asked for.
 * - Grants, role-id lists and account names are shared between keys (the cache interns them).
 * - Token digests are kept as bytes only (32 bytes, what the hot path compares), packed in shared
 *   8 KB slabs as Node's own Buffer pool does; their base64url form (`tokenHashes`, read for JWT
 *   fingerprints) is derived. A key with one token holds the slab and the digest's offset in it,
 *   not a Buffer view of its own (~90 bytes a key).
 * - A key with one token (all but those with a renewal pending) keeps its digest alone rather than
 *   in an array, and its token id, when it is a UUID (what the services make), as 16 bytes right
 *   after the digest in the slab rather than as a string; `tokenDigests` and `tokenIds` make the
 *   one-element array (and the id's text) on read.
 * - Expiry times are kept in milliseconds since the module was loaded (small integers, held in
 *   the object itself rather than as a separate number on the heap).
 *
 * No plaintext token is ever held; digests are still compared in constant time by their readers.
 */

import type { ControlState } from "../core/key-controls.js";
import { digestMatchesBinary } from "../crypto/token-hash.js";
import type { GrantState, KeyState } from "./key-cache.js";

/** Times are stored relative to this, so that they stay small integers for the first ~24 days. */
const EPOCH = Date.now();

const DIGEST_BYTES = 32;
const UUID_BYTES = 16;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SLAB_BYTES = 8192;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

/**
 * Copies the 32 bytes of `digest` into the current slab (`slab`, which this may replace by a new
 * one), followed by the 16 bytes of `uuid` when given (read back with `uuidAt`), and returns where
 * they start there. A slab is freed once no cached key uses it.
 */
function pack(digest: Buffer, uuid: string | null): number {
  const size = uuid === null ? DIGEST_BYTES : DIGEST_BYTES + UUID_BYTES;
  if (slabUsed + size > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const at = slabUsed;
  slabUsed += size;
  digest.copy(slab, at);
  if (uuid !== null) slab.write(uuid.replaceAll("-", ""), at + DIGEST_BYTES, UUID_BYTES, "hex");
  return at;
}

/** The UUID packed by `pack` after the digest at `at` of `bytes`. */
function uuidAt(bytes: Buffer, at: number): string {
  const hex = bytes.toString("hex", at + DIGEST_BYTES, at + DIGEST_BYTES + UUID_BYTES);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The digest of a stored base64url hash: packed in a slab when it is 32 bytes, as decoded otherwise. */
function digestOf(hash: string): Buffer {
  const decoded = Buffer.from(hash, "base64url");
  if (decoded.length !== DIGEST_BYTES) return decoded;
  const at = pack(decoded, null);
  return slab.subarray(at, at + DIGEST_BYTES);
}

/** A cached grant of one account other than the key's own. */
export interface GrantCell {
  value: GrantState | null;
  /** The account's generation when loaded: an account-wide change bumps it and stales the cell. */
  generation: number;
  expiresAt: number;
}

/** At most this many other accounts' grants are kept per key (the oldest dropped first). */
export const MAX_OTHER_GRANTS = 32;

/**
 * What a cached key knows of accounts other than its own. Every account that added the key is
 * named in `adders` (read once per cached state), so an account that did not is answered with no
 * I/O and leaves nothing behind; the grants of those that did are kept in `cells`, bounded.
 */
export interface OtherAccounts {
  /** Accounts that added the key as an external key; null until read. */
  adders: ReadonlySet<string> | null;
  /** The read of `adders` in progress, shared by concurrent asks. */
  reading: Promise<ReadonlySet<string>> | null;
  /** Grants of accounts in `adders`, made on first use: at most MAX_OTHER_GRANTS. */
  cells: Map<string, GrantCell> | null;
}

/** Milliseconds since EPOCH, rounded down (never later than the time given). */
export function relativeTime(at: number): number {
  return Math.floor(at - EPOCH);
}

export class CachedKey implements KeyState {
  declare readonly missing: false;
  readonly keyId: string;
  readonly appKey: string;
  readonly account: string;
  readonly active: boolean;
  /**
   * One token: the slab holding its digest at `at`, or (`at` < 0) its digest alone (not 32 bytes:
   * imported). Several: the digest of each, oldest first.
   */
  private readonly digests: Buffer | readonly Buffer[];
  private readonly at: number;
  readonly ownRoleIds: readonly number[];
  /**
   * The key's controls, prepared when the key is cached (IP blocks parsed, metadata serialized), so
   * that a verification parses no string of them; null for a key with none.
   */
  readonly controls: ControlState | null;
  /** Whether a current token was imported by its hash (may be of any shape): docs/import.md. */
  readonly importedTokens: boolean;
  /** One token id, the ids of every current token, or null: one UUID, packed after the digest in the slab. */
  private readonly ids: string | readonly string[] | null;
  /** relativeTime of the entry's expiry (moved on by `renew`). */
  private expiry: number;
  /** The own account's grant: `undefined` until loaded. */
  ownGrant: GrantState | null | undefined = undefined;
  ownGeneration = 0;
  /** relativeTime of the own grant's expiry. */
  ownExpiry = 0;
  /** What is known of other accounts, made on first use. */
  private otherAccounts: OtherAccounts | null = null;

  constructor(fields: {
    keyId: string;
    appKey: string;
    account: string;
    active: boolean;
    /** base64url SHA-256 of each current token, as stored. */
    tokenHashes: readonly string[];
    tokenIds: readonly string[];
    ownRoleIds: readonly number[];
    controls: ControlState | null;
    importedTokens?: boolean;
    expiresAt: number;
  }) {
    this.keyId = fields.keyId;
    this.appKey = fields.appKey;
    this.account = fields.account;
    this.active = fields.active;
    const [hash, ...more] = fields.tokenHashes;
    const [id, ...otherIds] = fields.tokenIds;
    if (hash !== undefined && id !== undefined && more.length === 0 && otherIds.length === 0) {
      // One token: its id goes after its digest in the slab when it is a UUID.
      const decoded = Buffer.from(hash, "base64url");
      const inSlab = decoded.length === DIGEST_BYTES;
      const packed = inSlab && UUID.test(id);
      this.at = inSlab ? pack(decoded, packed ? id : null) : -1;
      this.digests = inSlab ? slab : decoded;
      this.ids = packed ? null : id;
    } else {
      this.digests = fields.tokenHashes.map((h) => digestOf(h));
      this.at = -1;
      this.ids = [...fields.tokenIds];
    }
    this.ownRoleIds = fields.ownRoleIds;
    this.controls = fields.controls;
    this.importedTokens = fields.importedTokens === true;
    this.expiry = relativeTime(fields.expiresAt);
  }

  get expiresAt(): number {
    return EPOCH + this.expiry;
  }

  /**
   * Whether a new read of this key holds exactly what this state holds, controls aside (the
   * caller keeps a state only for a key with none): same id, appKey, account, status, roles and
   * tokens (digests, ids, import marks), in order.
   */
  sameRead(read: {
    id: string;
    appKey: string;
    account: string;
    active: boolean;
    roleIds: readonly number[];
    tokens: readonly { id: string; hash: string; imported?: boolean }[];
  }): boolean {
    if (
      read.id !== this.keyId ||
      read.appKey !== this.appKey ||
      read.account !== this.account ||
      read.active !== this.active ||
      read.tokens.length !== this.tokenCount ||
      read.roleIds.length !== this.ownRoleIds.length ||
      read.tokens.some((token) => token.imported === true) !== this.importedTokens
    ) {
      return false;
    }
    for (let i = 0; i < read.roleIds.length; i++) if (read.roleIds[i] !== this.ownRoleIds[i]) return false;
    const digests = this.tokenDigests;
    const ids = this.tokenIds;
    for (let i = 0; i < read.tokens.length; i++) {
      const token = read.tokens[i] as { id: string; hash: string };
      if (token.id !== ids[i] || !Buffer.from(token.hash, "base64url").equals(digests[i] as Buffer))
        return false;
    }
    return true;
  }

  /**
   * Keeps this state for a new read that `sameRead` found identical, as if it had just been made
   * from it: expires at `expiresAt`, its own grant and what it knew of other accounts dropped (read
   * again as for a new state). A refresh of an unchanged key then allocates nothing that outlives
   * the read: at 100,000 keys in use, each re-read every 28-40 s, new states were ~40 MB of garbage
   * a minute in V8's old generation (bench/README.md, Size: memory).
   */
  renew(expiresAt: number): void {
    this.expiry = relativeTime(expiresAt);
    this.ownGrant = undefined;
    this.ownGeneration = 0;
    this.ownExpiry = 0;
    this.otherAccounts = null;
  }

  /** SHA-256 of each current token, as 32 bytes (what the hot path compares, in constant time). */
  get tokenDigests(): readonly Buffer[] {
    const digests = this.digests;
    if (Array.isArray(digests)) return digests;
    const one = digests as Buffer;
    return [this.at < 0 ? one : one.subarray(this.at, this.at + DIGEST_BYTES)];
  }

  holdsDigest(presented: string): boolean {
    return this.tokenIndexOf(presented) >= 0;
  }

  tokenIndexOf(presented: string): number {
    const digests = this.digests;
    if (!Array.isArray(digests)) {
      const one = digests as Buffer;
      const matches =
        this.at < 0
          ? digestMatchesBinary(one, presented)
          : digestMatchesBinary(one, presented, this.at, DIGEST_BYTES);
      return matches ? 0 : -1;
    }
    let found = -1;
    for (let i = 0; i < digests.length; i++) {
      if (digestMatchesBinary(digests[i] as Buffer, presented) && found < 0) found = i;
    }
    return found;
  }

  get tokenCount(): number {
    const digests = this.digests;
    return Array.isArray(digests) ? digests.length : 1;
  }

  /** base64url SHA-256 of each current token, derived from the digests. */
  get tokenHashes(): readonly string[] {
    return this.tokenDigests.map((digest) => digest.toString("base64url"));
  }

  get tokenIds(): readonly string[] {
    const ids = this.ids;
    if (ids === null) return [uuidAt(this.digests as Buffer, this.at)];
    return typeof ids === "string" ? [ids] : ids;
  }

  /** What is known of accounts other than the key's own (the own grant is held in the object). */
  get others(): OtherAccounts {
    this.otherAccounts ??= { adders: null, reading: null, cells: null };
    return this.otherAccounts;
  }

  /** Milliseconds left before the entry expires at `now` (≤ 0: expired). */
  leftAt(now: number): number {
    return EPOCH + this.expiry - now;
  }

  /** Whether the own grant is loaded and still current for `generation` at `now`. */
  ownGrantFresh(generation: number, now: number): boolean {
    return this.ownGrant !== undefined && this.ownGeneration === generation && EPOCH + this.ownExpiry > now;
  }

  setOwnGrant(value: GrantState | null, generation: number, expiresAt: number): void {
    this.ownGrant = value;
    this.ownGeneration = generation;
    this.ownExpiry = relativeTime(expiresAt);
  }

  /** `others`, without making it: null when no other account was asked for. */
  peekOthers(): OtherAccounts | null {
    return this.otherAccounts;
  }

  /** Keeps `account`'s grant, dropping the oldest kept one when MAX_OTHER_GRANTS are. */
  setOtherGrant(account: string, cell: GrantCell): void {
    const others = this.others;
    others.cells ??= new Map();
    const cells = others.cells;
    cells.delete(account);
    if (cells.size >= MAX_OTHER_GRANTS) {
      for (const oldest of cells.keys()) {
        cells.delete(oldest);
        break;
      }
    }
    cells.set(account, cell);
  }
}

// Shared by every entry (on the prototype, not in each object): lets one property tell cached keys
// from cached absences.
Object.defineProperty(CachedKey.prototype, "missing", { value: false, enumerable: true });
