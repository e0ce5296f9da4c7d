/**
 * LATCHKEY_SECRET encrypts share-link tokens, webhook secrets and JWT signing keys at rest. In
 * embedded mode it is generated once into DATA_DIR/secret (mode 0600, in a directory created 0700)
 * when not given; with PostgreSQL it must be given, because every instance needs the same one.
 * A secret file is held to the same rule as the environment variable (config.ts). Never logged:
 * messages give the file's path and the secret's length only.
 */
import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Config, secretProblem } from "./config.js";

export function resolveSecret(config: Config): string {
  if (config.secret) return config.secret;
  const file = join(config.dataDir, "secret");
  return readSecretFile(file) ?? createSecretFile(config.dataDir, file);
}

/** The file's secret; undefined when there is no file; throws when the secret is refused. */
function readSecretFile(file: string): string | undefined {
  let secret: string;
  try {
    secret = readFileSync(file, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const problem = secretProblem(secret);
  if (problem !== undefined) throw new Error(`secret file ${file}: ${problem}`);
  return secret;
}

function createSecretFile(dataDir: string, file: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString("base64url");
  // Written whole under a name of its own, then linked into place: another process starting at the
  // same moment finds either no file or the complete one, never an empty one.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(draft, `${secret}\n`, { mode: 0o600, flag: "wx" });
  try {
    linkSync(draft, file);
    return secret;
  } catch (error) {
    // Another process wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const theirs = readSecretFile(file);
    if (theirs === undefined) throw error;
    return theirs;
  } finally {
    rmSync(draft, { force: true });
  }
}
