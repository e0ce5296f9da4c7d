#!/usr/bin/env node
// Runs the compiled CLI (dist/ is built by `npm ci`/`npm install` through the prepare script).
import { run } from "../dist/cli/index.js";

const code = await run(process.argv.slice(2));
// `serve` keeps running; every other command exits with its code.
if (process.argv[2] !== "serve" || code !== 0) process.exitCode = code;
