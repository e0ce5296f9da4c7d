import type { BulkKeyAction, BulkKeyResult, BulkKeyResults } from "../core/api.js";
import { AppError, ERRORS, type ErrorCode } from "../core/errors.js";
import type { Authority } from "./authority.js";
import type { KeyService } from "./keys.js";

/**
 * Bulk activate, deactivate or delete of generated keys. Each key goes through the single action's
 * own use case (`KeyService.update` or `remove`), so it gets the same checks (the key is this
 * account's, the caller covers it, restoring a token granted elsewhere is for an Owner), its own
 * transaction, its own audit event (or `access.refused`) and its own change-journal entry. Nothing
 * is checked here: a refusal of one key is that key's result and the others go on.
 *
 * Keys are done one after the other, so a request holds one transaction at a time and its work is
 * bounded by the number of appKeys (at most MAX_BULK_KEYS, checked by the route).
 */

export interface BulkError {
  code: ErrorCode;
  detail: string;
}

/**
 * Turns an unexpected fault (not a refusal) into the error the request would have answered, and
 * logs it. After a fault the remaining keys are not attempted: a database that failed one key
 * would most likely fail, or wait on, every next one.
 */
export type FaultReport = (error: unknown) => BulkError;

export function createKeyBulk(keys: Pick<KeyService, "update" | "remove">) {
  async function one(
    authority: Authority,
    account: string,
    action: BulkKeyAction,
    appKey: string,
  ): Promise<BulkKeyResult> {
    if (action === "delete") {
      await keys.remove(authority, account, appKey);
      return { appKey, ok: true };
    }
    const key = await keys.update(authority, account, appKey, { active: action === "activate" });
    return { appKey, ok: true, key };
  }

  function failed(appKey: string, code: ErrorCode, detail: string): BulkKeyResult {
    return { appKey, ok: false, error: { code, detail, status: ERRORS[code].status } };
  }

  /** Applies `action` to each of `appKeys` in order; one result per appKey, in the same order. */
  async function run(
    authority: Authority,
    account: string,
    action: BulkKeyAction,
    appKeys: readonly string[],
    reportFault: FaultReport,
  ): Promise<BulkKeyResults> {
    const results: BulkKeyResult[] = [];
    let stopped: { appKey: string; error: BulkError } | null = null;
    for (const appKey of appKeys) {
      if (stopped) {
        const why = `Not attempted: the request stopped at ${stopped.appKey} (${stopped.error.detail})`;
        results.push(failed(appKey, stopped.error.code, why));
        continue;
      }
      try {
        results.push(await one(authority, account, action, appKey));
      } catch (error) {
        if (error instanceof AppError) {
          results.push(failed(appKey, error.code, error.detail));
        } else {
          stopped = { appKey, error: reportFault(error) };
          results.push(failed(appKey, stopped.error.code, stopped.error.detail));
        }
      }
    }
    const succeeded = results.filter((result) => result.ok).length;
    return { action, results, succeeded, failed: results.length - succeeded };
  }

  return { run };
}

export type KeyBulk = ReturnType<typeof createKeyBulk>;
