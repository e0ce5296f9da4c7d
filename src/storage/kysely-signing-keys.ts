/**
 * JWT signing keys (ES256) of the whole installation: a handful of rows, one current (retired_at
 * null) and the retired ones still published in the JWKS.
 *
 * Secrets: the private key arrives here already sealed with LATCHKEY_SECRET (services/sealing.ts);
 * this file never sees it in plaintext. The public JWK is stored as JSON text.
 *
 * Races: `generation` is unique, so of two instances creating the first key (or two rotations) one
 * insert wins and the other inserts nothing and learns so from the `false` it gets back.
 */
import type { Selectable } from "kysely";
import { KyselyRepository } from "./kysely-scope.js";
import type { SigningKeysTable } from "./schema.js";
import type { SigningKeyRecord, SigningKeyRepository } from "./store.js";

function toSigningKey(r: Selectable<SigningKeysTable>): SigningKeyRecord {
  return {
    kid: r.kid,
    generation: r.generation,
    createdAt: r.created_at,
    retiredAt: r.retired_at,
    publicJwk: JSON.parse(r.public_jwk) as SigningKeyRecord["publicJwk"],
    sealedPrivateKey: r.sealed_private_key,
  };
}

export class KyselySigningKeys extends KyselyRepository implements SigningKeyRepository {
  /** Newest generation first. */
  async list(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom("signing_keys").selectAll().orderBy("generation", "desc").execute();
    return rows.map(toSigningKey);
  }

  async insert(key: SigningKeyRecord): Promise<boolean> {
    const result = await this.db
      .insertInto("signing_keys")
      .values({
        kid: key.kid,
        generation: key.generation,
        created_at: key.createdAt,
        retired_at: key.retiredAt,
        public_jwk: JSON.stringify(key.publicJwk),
        sealed_private_key: key.sealedPrivateKey,
      })
      .onConflict((oc) => oc.column("generation").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async retire(kid: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable("signing_keys")
      .set({ retired_at: at })
      .where("kid", "=", kid)
      .where("retired_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async deleteRetiredBefore(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom("signing_keys")
      .where("retired_at", "is not", null)
      .where("retired_at", "<", before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
