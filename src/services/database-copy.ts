/**
 * Moving a deployment to PostgreSQL (`latchkey copy --to`): the storage copier (storage/copy.ts)
 * writes every table in one transaction, and before it commits this checks the audit log's hash
 * chains on the target snapshot against the source's. A copy whose chains came out differently is
 * undone; a chain already broken in the source is copied as it is and reported, since the copy
 * must not hide the damage nor repair it.
 *
 * Secrets: nothing here reads a token or a URL; rows pass through the copier as stored.
 */
import { isDeepStrictEqual } from "node:util";
import {
  type CopiedTable,
  CopyRefused,
  type CopyReport,
  copyDatabase as copyTables,
} from "../storage/copy.js";
import type { OpenStoreOptions, PostgresOptions } from "../storage/open.js";
import { type ChainReport, verifyAuditChain } from "./audit-log.js";

export { CopyRefused };

export interface DatabaseCopyReport extends CopyReport {
  /** The target's audit chains, checked inside the copy's transaction; the source's were the same. */
  auditChain: Pick<ChainReport, "ok" | "checked" | "firstBroken"> & { accounts: number };
  durationMs: number;
}

export async function copyDatabase(opts: {
  source: OpenStoreOptions;
  target: PostgresOptions;
  batchRows?: number;
  onTable?: (table: CopiedTable) => void;
}): Promise<DatabaseCopyReport> {
  const started = performance.now();
  let chain: ChainReport | undefined;
  const report = await copyTables({
    ...opts,
    async check(source, target) {
      const before = await verifyAuditChain(source);
      const after = await verifyAuditChain(target);
      if (!isDeepStrictEqual(before, after)) {
        throw new CopyRefused(
          "COPY_CHECK_FAILED",
          `the audit chains check differently in the target (${after.checked} event(s), ${after.ok ? "intact" : "broken"}) than in the source (${before.checked}, ${before.ok ? "intact" : "broken"}): nothing was copied`,
        );
      }
      chain = after;
    },
  });
  const { ok, checked, firstBroken, accounts } = chain ?? NO_EVENTS;
  return {
    ...report,
    auditChain: { ok, checked, firstBroken, accounts: accounts.length },
    durationMs: Math.round(performance.now() - started),
  };
}

const NO_EVENTS: ChainReport = { ok: true, checked: 0, firstBroken: null, accounts: [] };
