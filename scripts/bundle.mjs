/**
 * Bundles the compiled CLI (dist/cli/index.js, from `tsc -p tsconfig.build.json`) and its pure-JS
 * dependencies into dist/bundle/, which bin/latchkey.mjs runs. `npm run build` runs this after tsc.
 *
 * Why: a start of `latchkey serve` was mostly Node resolving and reading modules one file at a time
 * (kysely's ESM build alone is ~280 files); the bundle is a dozen files (bench/README.md, "Cold start").
 *
 * - What the code loads with `await import()` stays lazy: latchkey's own dynamic imports become
 *   separate chunks (the CLI's remote commands never load the server), and the packages loaded
 *   only on first use stay external, loaded from node_modules when used (test/e2e/startup.test.ts).
 * - Native packages and packages that read their own files stay external (they resolve their files
 *   relative to themselves), and so does pino (its transports run files in worker threads).
 * - Source maps chain through tsc's maps, so a stack trace maps to src/*.ts (bin/latchkey.mjs
 *   enables source maps).
 * - Minified without renaming: names in stack traces, in logs (an error's `type`) and wherever code
 *   reads a function's or class's name stay as written; comments and whitespace go. Non-ASCII
 *   characters are escaped: V8 keeps a module's source in memory, and one non-Latin-1 character
 *   (zod's messages in other languages) makes it two bytes per character. Together with the
 *   source maps: idle RSS ~87 MB against ~93 MB unminified (bench/README.md, "Cold start").
 * - Paths in src must not depend on the depth of the file that computes them: they start from
 *   `packageRoot()` (src/config.ts), which finds package.json from wherever the code runs.
 *
 * Usage: node scripts/bundle.mjs [--no-minify] [--out DIR]   (default DIR: dist/bundle)
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "rolldown";

const ROOT = join(import.meta.dirname, "..");
const DIST = join(ROOT, "dist");
export const ENTRY = "latchkey.mjs";

/** Loaded from node_modules at run time, not bundled. */
export const EXTERNAL = [
  // native
  "better-sqlite3",
  // reads its own files (the UI assets served at /docs)
  "swagger-ui-dist",
  // runs its transports and destinations from files of its own
  "pino",
  // loaded on first use only: xlsx exports, email, PostgreSQL, Redis
  "exceljs",
  "nodemailer",
  "pg",
  "ioredis",
];

const external = (id) => EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`));

/** Hands tsc's source map of each compiled file to rolldown, which chains it: maps end in src/. */
const tscSourceMaps = {
  name: "tsc-source-maps",
  load(id) {
    if (!id.startsWith(`${DIST}/`) || !existsSync(`${id}.map`)) return null;
    const code = readFileSync(id, "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
    return { code, map: readFileSync(`${id}.map`, "utf8") };
  },
};

export async function bundle({ out = join(DIST, "bundle"), minify = true } = {}) {
  const input = join(DIST, "cli", "index.js");
  if (!existsSync(input)) throw new Error(`${input} is missing: run tsc -p tsconfig.build.json first`);
  rmSync(out, { recursive: true, force: true });
  await build({
    input: { latchkey: input },
    platform: "node",
    external,
    plugins: [tscSourceMaps],
    logLevel: "warn",
    output: {
      dir: out,
      format: "esm",
      entryFileNames: "[name].mjs",
      chunkFileNames: "[name]-[hash].mjs",
      sourcemap: true,
      // Stack traces need the mappings, not the sources: a smaller map to read when one is needed.
      sourcemapExcludeSources: true,
      minify: minify && { mangle: false },
      charset: "ascii",
    },
  });
  return join(out, ENTRY);
}

if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({ options: { "no-minify": { type: "boolean" }, out: { type: "string" } } });
  await bundle({ minify: !values["no-minify"], ...(values.out ? { out: resolve(values.out) } : {}) });
}
