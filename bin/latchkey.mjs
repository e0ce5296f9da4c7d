#!/usr/bin/env node
// Runs the bundled CLI: dist/bundle/ is built by `npm run build` (which `npm ci` and `npm install`
// run through the prepare script) from tsc's dist/ (scripts/bundle.mjs). One file set to load
// instead of ~1,000 modules is most of a start (bench/README.md, "Cold start").
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bundle = new URL("../dist/bundle/latchkey.mjs", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write(
    `latchkey: ${fileURLToPath(bundle)} is missing: run \`npm run build\` (npm ci and npm install run it)\n`,
  );
  process.exit(1);
}
// Stack traces in logs point to src/*.ts through the bundle's source maps.
process.setSourceMapsEnabled(true);
const { run } = await import(bundle.href);

const code = await run(process.argv.slice(2));
// `serve` keeps running; every other command exits with its code.
if (process.argv[2] !== "serve" || code !== 0) process.exitCode = code;
