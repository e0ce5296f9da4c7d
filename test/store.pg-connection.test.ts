/**
 * How latchkey's PostgreSQL connections are opened (storage/open.ts), against the real server:
 * every pooled connection resolves tables in the configured schema and starts sequential scans at
 * the table's head (a key listing's total counted up to 1,000 may be a scan of `keys` stopped
 * early; synchronized, it would start where another scan stopped and could wrap round the table).
 */
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/storage/open.js";
import { dropTestSchema, TEST_PG_URL } from "./support/stores.js";

describe("PostgreSQL connections", () => {
  it("use the schema and unsynchronized sequential scans on every pooled connection", async () => {
    const schema = `conn_${randomBytes(6).toString("hex")}`;
    const { db } = await openDatabase({ kind: "postgres", url: TEST_PG_URL, schema });
    try {
      // Several at once: each runs on its own pooled connection.
      const settings = await Promise.all(
        Array.from({ length: 4 }, () =>
          db.connection().execute(async (connection) => {
            const scans = await sql<{
              value: string;
            }>`select current_setting('synchronize_seqscans') as value`.execute(connection);
            const path = await sql<{ value: string }>`select current_setting('search_path') as value`.execute(
              connection,
            );
            await sql`select pg_sleep(0.05)`.execute(connection);
            return [scans.rows[0]?.value, path.rows[0]?.value];
          }),
        ),
      );
      expect(settings).toEqual(Array.from({ length: 4 }, () => ["off", schema]));
    } finally {
      await db.destroy();
      await dropTestSchema(schema);
    }
  });
});
