/**
 * JWT signing keys: a handful of rows for the whole installation. The private half is sealed with
 * LATCHKEY_SECRET before it reaches the store: no method takes or returns it in plaintext.
 */

/** A JWT signing key (ES256) of the installation. */
export interface SigningKeyRecord {
  /** RFC 7638 thumbprint of the public key; the `kid` of the JWTs it signs. */
  kid: string;
  /** 1 for the first key, one more per rotation. Unique. */
  generation: number;
  createdAt: number;
  /** Null while current (the key new JWTs are signed with). */
  retiredAt: number | null;
  publicJwk: { kty: string; crv: string; x: string; y: string };
  /** The private JWK, sealed (services/sealing.ts) with the kid as context. */
  sealedPrivateKey: string;
}

export interface SigningKeyRepository {
  /** Every stored signing key, newest generation first. */
  list(): Promise<SigningKeyRecord[]>;
  /**
   * Adds a signing key; false when its generation is already taken, so of two instances creating the
   * first key (or two racing rotations) exactly one succeeds and the other re-reads.
   */
  insert(key: SigningKeyRecord): Promise<boolean>;
  /** Sets `retiredAt`; false when the key is unknown or already retired. */
  retire(kid: string, at: number): Promise<boolean>;
  /** Deletes the keys retired before `before`; returns how many. */
  deleteRetiredBefore(before: number): Promise<number>;
}
