/**
 * Import of keys by the hash of their token (docs/import.md), all or nothing: every entry is
 * checked (core/key-import.ts for what needs no storage; here the store, the roles the caller may
 * give and the controls it may set, as creating a key checks them), then either every key is
 * written in one transaction, with one `key.imported` audit event and one journaled change each,
 * or nothing is and every bad entry is reported by index. A dry run does the checks and writes
 * nothing.
 *
 * Secrets: the store receives the token hash in the form it stores every token's (base64url
 * SHA-256), marked `imported`; the hash is never written in an audit event, a result or an error.
 */
import { recordAudits } from "../audit/audit.js";
import type { KeyImportResult } from "../core/api.js";
import { AppError, ERRORS } from "../core/errors.js";
import { type KeyControls, NO_CONTROLS } from "../core/key-controls.js";
import {
  type CheckedEntry,
  checkImportEntries,
  type ImportEntry,
  type ImportProblem,
} from "../core/key-import.js";
import { iso } from "../core/time.js";
import { generateAppKey } from "../core/tokens.js";
import { storedHashOfHex } from "../crypto/token-hash.js";
import type { NewKey, StoreOps } from "../storage/store.js";
import { changesWithin } from "../verify/changes.js";
import { type Authority, auditRefusals, checkGive } from "./authority.js";
import type { ServiceDeps } from "./deps.js";
import { auditedControls, changedControls, controlsContext, settleControlsIn } from "./key-controls.js";
import type { RoleDirectory } from "./role-directory.js";

/** Refusals of the caller's power: the import answers with the first one's code (403), audited. */
const POWER_CODES = new Set(["ESCALATION_DENIED", "KEY_CONTROLS_EXCEED_CALLER"]);

interface Plan {
  keys: (NewKey & { index: number; controls: KeyControls })[];
  problems: ImportProblem[];
}

export function createKeyImport(deps: ServiceDeps, roles: RoleDirectory) {
  const { store, clock } = deps;

  /** Checks every entry against the store and the caller; the keys to write when none failed. */
  async function plan(tx: StoreOps, authority: Authority, account: string, entries: readonly ImportEntry[]) {
    const now = clock.now();
    const { checked, problems } = checkImportEntries(entries, account, now);
    const taken = await tx.keys.taken(account, {
      appKeys: checked.flatMap((entry) => (entry.appKey === null ? [] : [entry.appKey])),
      names: checked.map((entry) => entry.name.toLowerCase()),
      hashes: checked.map((entry) => storedHashOfHex(entry.tokenHash)),
    });
    const refusedRoles = await refusedRolesOf(tx, authority, account, checked);
    const context = await controlsContext(tx, authority, account);
    const planned: Plan = { keys: [], problems };
    for (const entry of checked) {
      const problem = (code: ImportProblem["code"], detail: string) =>
        problems.push({ index: entry.index, code, detail });
      if (entry.appKey !== null && taken.appKeys.has(entry.appKey)) {
        problem("APP_KEY_TAKEN", `A key ${entry.appKey} already exists`);
        continue;
      }
      if (taken.names.has(entry.name.toLowerCase())) {
        problem("KEY_NAME_TAKEN", `A key named "${entry.name}" already exists in this account`);
        continue;
      }
      if (taken.hashes.has(storedHashOfHex(entry.tokenHash))) {
        problem("TOKEN_HASH_TAKEN", "A key already has a token with this hash");
        continue;
      }
      const refused = entry.roles.map((id) => refusedRoles.get(id)).find((why) => why !== undefined);
      if (refused) {
        problem(refused.code, refused.detail);
        continue;
      }
      try {
        planned.keys.push(keyOf(entry, account, settle(context, account, entry, now)));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        problem(error.code, error.detail);
      }
    }
    await giveAppKeys(tx, account, planned.keys);
    problems.sort((a, b) => a.index - b.index);
    return planned;
  }

  /** The controls of an imported key, settled as a new key's are; refused when already expired. */
  function settle(
    context: Awaited<ReturnType<typeof controlsContext>>,
    account: string,
    entry: CheckedEntry,
    now: number,
  ): KeyControls {
    const target = { account, createdAt: entry.createdAt, current: NO_CONTROLS, self: false, now };
    const input = entry.expiresAt === undefined ? {} : { expiresAt: entry.expiresAt };
    const controls = settleControlsIn(context, target, input);
    if (controls.expiresAt !== null && controls.expiresAt <= now) {
      // Only a default can be past: a key older than the account's maximum lifetime.
      const days = context.settings.maxKeyLifetimeDays;
      throw new AppError(
        "KEY_LIFETIME_EXCEEDED",
        `createdAt: the account allows keys at most ${days} days from their creation (maxKeyLifetimeDays), so this key would be expired`,
      );
    }
    return controls;
  }

  /** Each role named by any entry, resolved and checked once: why it is refused, by role id. */
  async function refusedRolesOf(
    tx: StoreOps,
    authority: Authority,
    account: string,
    checked: CheckedEntry[],
  ) {
    const refused = new Map<number, { code: ImportProblem["code"]; detail: string }>();
    for (const id of new Set(checked.flatMap((entry) => entry.roles))) {
      try {
        checkGive(authority.grant, await roles.resolve(tx, account, [id]));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        refused.set(id, { code: error.code, detail: error.detail });
      }
    }
    return refused;
  }

  function keyOf(entry: CheckedEntry, account: string, controls: KeyControls) {
    const token = {
      id: deps.newId(),
      hash: storedHashOfHex(entry.tokenHash),
      createdAt: entry.createdAt,
      imported: true,
    };
    return {
      index: entry.index,
      id: deps.newId(),
      appKey: entry.appKey ?? "",
      account,
      name: entry.name,
      active: true,
      createdAt: entry.createdAt,
      token,
      roleIds: [...new Set(entry.roles)].sort((a, b) => a - b),
      controls,
    };
  }

  /** An appKey for each key that named none: new, and unique in the request and the installation. */
  async function giveAppKeys(tx: StoreOps, account: string, keys: Plan["keys"]) {
    const used = new Set(keys.map((key) => key.appKey).filter((appKey) => appKey !== ""));
    let missing = keys.filter((key) => key.appKey === "");
    while (missing.length > 0) {
      for (const key of missing) {
        do key.appKey = generateAppKey(deps.random, deps.keyPrefix, account);
        while (used.has(key.appKey));
        used.add(key.appKey);
      }
      const taken = await tx.keys.taken(account, {
        appKeys: missing.map((key) => key.appKey),
        names: [],
        hashes: [],
      });
      missing = missing.filter((key) => taken.appKeys.has(key.appKey));
    }
  }

  function results(entries: readonly ImportEntry[], planned: Plan, dryRun: boolean): KeyImportResult {
    const byIndex = new Map(planned.problems.map((problem) => [problem.index, problem]));
    const appKeys = new Map(planned.keys.map((key) => [key.index, key.appKey]));
    return {
      dryRun,
      imported: dryRun || planned.problems.length > 0 ? 0 : planned.keys.length,
      failed: planned.problems.length,
      results: entries.map((entry, index) => {
        const problem = byIndex.get(index);
        const appKey = appKeys.get(index) ?? entry.appKey ?? null;
        if (!problem) return { index, name: entry.name, appKey: appKey as string, ok: true as const };
        const error = { code: problem.code, detail: problem.detail, status: ERRORS[problem.code].status };
        return { index, name: entry.name, appKey, ok: false as const, error };
      }),
    };
  }

  async function run(
    authority: Authority,
    account: string,
    entries: readonly ImportEntry[],
    dryRun: boolean,
  ): Promise<KeyImportResult> {
    if (dryRun) {
      // Read in one transaction, for a consistent view; nothing is written.
      const planned = await store.transaction((tx) => plan(tx, authority, account, entries));
      return results(entries, planned, true);
    }
    return auditRefusals(deps, authority, account, { action: "key.imported" }, () =>
      changesWithin(store, deps.changes, async (tx, changed) => {
        const planned = await plan(tx, authority, account, entries);
        if (planned.problems.length > 0) throw rejection(results(entries, planned, false), planned.problems);
        await tx.keys.createMany(planned.keys);
        // A cache may hold a given appKey as unknown (negative caching): each is journaled like a create.
        for (const key of planned.keys) changed({ kind: "key", appKey: key.appKey });
        await recordAudits(
          tx,
          deps,
          authority.actor,
          planned.keys.map((key) => ({
            account,
            action: "key.imported",
            target: { type: "key", id: key.appKey },
            data: {
              after: {
                name: key.name,
                active: true,
                roles: key.roleIds,
                createdAt: iso(key.createdAt),
                ...auditedControls(changedControls(NO_CONTROLS, key.controls)),
              },
            },
          })),
        );
        return results(entries, planned, false);
      }),
    );
  }

  return { run };
}

/**
 * The error of a rejected import: 403 with the caller's first refusal when any entry asked for more
 * than the caller may give (audited as `access.refused`), else 422 IMPORT_REJECTED; both list every
 * bad entry (`errors`) and every entry's result (`results`).
 */
function rejection(result: KeyImportResult, problems: ImportProblem[]): AppError {
  const errors = result.results.flatMap((entry) =>
    entry.ok ? [] : [{ index: entry.index, name: entry.name, appKey: entry.appKey, ...entry.error }],
  );
  const power = problems.find((problem) => POWER_CODES.has(problem.code));
  const summary = problems
    .slice(0, 5)
    .map((problem) => `keys.${problem.index}: ${problem.detail}`)
    .join("; ");
  const more = problems.length > 5 ? `; and ${problems.length - 5} more` : "";
  const detail = `${problems.length} of ${result.results.length} keys cannot be imported, so none was: ${summary}${more}`;
  return new AppError(power ? power.code : "IMPORT_REJECTED", detail, { errors });
}

export type KeyImport = ReturnType<typeof createKeyImport>;
