/** The change journal of the Kysely store (repositories/change-log.ts). */
import { sql } from "kysely";
import { KyselyRepository } from "./kysely-scope.js";
import type { ChangeLogEntry, ChangeLogRepository } from "./store.js";

const toEntry = (r: { seq: number; origin: string; change: string; at: number }): ChangeLogEntry => ({
  seq: Number(r.seq),
  origin: r.origin,
  change: r.change,
  at: Number(r.at),
});

export class KyselyChangeLog extends KyselyRepository implements ChangeLogRepository {
  async append(entry: { origin: string; change: string; at: number }): Promise<number> {
    const row = await this.db
      .insertInto("change_log")
      .values({ origin: entry.origin, change: entry.change, at: entry.at })
      .returning("seq")
      .executeTakeFirstOrThrow();
    return Number(row.seq);
  }

  /** In one multi-row insert per 500 entries; the numbers in the entries' order. */
  async appendMany(entries: readonly { origin: string; change: string; at: number }[]): Promise<number[]> {
    const seqs: number[] = [];
    for (let at = 0; at < entries.length; at += 500) {
      const rows = await this.db
        .insertInto("change_log")
        .values(entries.slice(at, at + 500).map((e) => ({ origin: e.origin, change: e.change, at: e.at })))
        .returning("seq")
        .execute();
      // Sequence numbers are drawn in the rows' order.
      seqs.push(...rows.map((row) => Number(row.seq)).sort((a, b) => a - b));
    }
    return seqs;
  }

  async since(afterSeq: number, limit: number): Promise<ChangeLogEntry[]> {
    const rows = await this.db
      .selectFrom("change_log")
      .select(["seq", "origin", "change", "at"])
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map(toEntry);
  }

  async some(seqs: readonly number[]): Promise<ChangeLogEntry[]> {
    if (seqs.length === 0) return [];
    const rows = await this.db
      .selectFrom("change_log")
      .select(["seq", "origin", "change", "at"])
      .where("seq", "in", [...seqs])
      .orderBy("seq")
      .execute();
    return rows.map(toEntry);
  }

  async bounds(): Promise<{ min: number; max: number }> {
    const row = await this.db
      .selectFrom("change_log")
      .select([sql<number | null>`min(seq)`.as("min"), sql<number | null>`max(seq)`.as("max")])
      .executeTakeFirst();
    return { min: Number(row?.min ?? 0), max: Number(row?.max ?? 0) };
  }

  async prune(before: number): Promise<number> {
    const result = await this.db.deleteFrom("change_log").where("at", "<", before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
