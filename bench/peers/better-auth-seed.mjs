/**
 * Seeds a fresh better-auth database for the benchmark: its migrations, one user and N API keys
 * holding SEED_PERMISSIONS, plus one control key without `orders:read`. Writes into DIR:
 * `seed.db`, `ba-keys.tsv` (one key per line: the credentials of a throwaway database) and
 * `ba-checks.json` (requests that must be refused, checked before any load).
 *
 * Usage: node bench/peers/better-auth-seed.mjs DIR [N=1000]
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { getMigrations } from "better-auth/db/migration";
import { CONTROL_PERMISSIONS, makeAuth, SEED_PERMISSIONS } from "./better-auth.mjs";

const dir = resolve(process.argv[2] || "data");
const count = Number(process.argv[3] || 1000);
mkdirSync(dir, { recursive: true });
const dbPath = join(dir, "seed.db");
for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(dbPath + suffix, { force: true });

const started = performance.now();
// Seeded with the plugin's defaults, so that each key stores what a default install stores
// (rateLimitEnabled true, 10 per 86,400,000 ms); the server decides whether to enforce it.
const { auth, db } = makeAuth({ dbPath, rateLimit: true });
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();
const { user } = await auth.api.signUpEmail({
  body: { email: "bench@example.com", password: "bench-password-123", name: "bench" },
});
const keys = [];
db.exec("BEGIN");
for (let i = 0; i < count; i++) {
  const created = await auth.api.createApiKey({
    body: { userId: user.id, name: `k${i}`, permissions: SEED_PERMISSIONS },
  });
  keys.push(created.key);
}
const control = await auth.api.createApiKey({
  body: { userId: user.id, name: "control", permissions: CONTROL_PERMISSIONS },
});
db.exec("COMMIT");
db.close();
writeFileSync(join(dir, "ba-keys.tsv"), `${keys.join("\n")}\n`);
const checks = [
  { name: "valid key lacking orders:read", headers: { "x-api-key": control.key }, expect: 401 },
  { name: "unknown key", headers: { "x-api-key": "x".repeat(64) }, expect: 401 },
  { name: "no key header", headers: {}, expect: 401 },
];
writeFileSync(join(dir, "ba-checks.json"), `${JSON.stringify(checks, null, 1)}\n`);
const ms = Math.round(performance.now() - started);
console.log(JSON.stringify({ seeded: count, keyLength: keys[0]?.length, ms, dbPath }));
