import { statSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, serve } from "./process.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-startup-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("start-up checks", () => {
  it("refuses to start with bad settings, naming every bad variable (exit 2)", async () => {
    const res = await runCli(["serve"], {
      DATA_DIR: dir,
      PORT: "eighty",
      KEY_PREFIX: "Bad-Prefix",
      JWT_TTL: "3d",
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/PORT/);
    expect(res.stderr).toMatch(/KEY_PREFIX/);
    expect(res.stderr).toMatch(/JWT_TTL/);
  });

  it("refuses to start on a bad catalog, naming file, line and problem (exit 1)", async () => {
    const file = join(dir, "bad-catalog.yaml");
    await writeFile(
      file,
      [
        "products:",
        "  - name: Shop",
        "    categories:",
        "      - name: Things",
        "        resources:",
        "          - { key: ViewThings, id: 7000001, name: View things, routes: [{ methods: [FETCH], path: /x }] }",
        "",
      ].join("\n"),
    );
    const res = await runCli(["serve"], { DATA_DIR: dir, CATALOG_FILE: file, PORT: "1" });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("bad-catalog.yaml:6");
    expect(res.stderr).toMatch(/FETCH|method/i);
  });

  it("starts from the bundle on SQLite without loading exceljs, nodemailer, pg or ioredis: they load on first use", async () => {
    // A module-resolution hook in the server process writes down every module it loads.
    const resolved = join(dir, "resolved.txt");
    const hooks = join(dir, "hooks.mjs");
    const register = join(dir, "register.mjs");
    await writeFile(
      hooks,
      [
        'import { appendFileSync } from "node:fs";',
        "export async function resolve(specifier, context, next) {",
        "  const result = await next(specifier, context);",
        `  appendFileSync(${JSON.stringify(resolved)}, result.url + "\\n");`,
        "  return result;",
        "}",
      ].join("\n"),
    );
    await writeFile(
      register,
      `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
    const server = await serve({
      DATA_DIR: join(dir, "lazy"),
      NODE_OPTIONS: `--import=${pathToFileURL(register).href}`,
    });
    try {
      const loaded = await readFile(resolved, "utf8");
      expect(loaded, "the hook saw the start").toContain("/node_modules/better-sqlite3/");
      // The bundle (dist/bundle/, scripts/bundle.mjs) is what runs: kysely is inside it, and
      // tsc's unbundled dist/ is not loaded.
      expect(loaded).toContain("/dist/bundle/latchkey.mjs");
      expect(loaded).not.toContain("/node_modules/kysely/");
      expect(loaded).not.toContain("/dist/cli/");
      for (const name of ["exceljs", "nodemailer", "pg", "ioredis"]) {
        expect(loaded, name).not.toContain(`/node_modules/${name}/`);
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it("formats nothing with ICU while it starts and answers verifications: its data stays unmapped", async () => {
    // Formatting a number with ICU once (1000 → "1,000") mapped ~5 MB of its data into the process
    // for good (bench/README.md, idle memory). A preload records every use of ICU's formatters.
    const used = join(dir, "icu-used.txt");
    const preload = join(dir, "icu-watch.mjs");
    const watching = join(dir, "icu-watching.txt");
    await writeFile(
      preload,
      [
        'import { appendFileSync } from "node:fs";',
        `const note = (name) => appendFileSync(${JSON.stringify(used)}, name + "\\n");`,
        `appendFileSync(${JSON.stringify(watching)}, "watching\\n");`,
        "const watch = (target, name, label) => {",
        "  const original = target[name];",
        "  target[name] = function (...args) { note(label); return original.apply(this, args); };",
        "};",
        'watch(Number.prototype, "toLocaleString", "Number#toLocaleString");',
        'for (const name of ["toLocaleString", "toLocaleDateString", "toLocaleTimeString"]) watch(Date.prototype, name, "Date#" + name);',
        'watch(String.prototype, "localeCompare", "String#localeCompare");',
        'for (const name of ["NumberFormat", "DateTimeFormat", "Collator", "PluralRules", "RelativeTimeFormat", "ListFormat"]) {',
        "  const original = Intl[name];",
        "  Intl[name] = new Proxy(original, {",
        '    construct(target, args) { note("Intl." + name); return new target(...args); },',
        '    apply(target, self, args) { note("Intl." + name); return target.apply(self, args); },',
        "  });",
        "}",
      ].join("\n"),
    );
    const server = await serve({
      DATA_DIR: join(dir, "icu"),
      NODE_OPTIONS: `--import=${pathToFileURL(preload).href}`,
    });
    try {
      const headers = {
        "x-original-uri": "/api/oms/pvt/orders/1",
        "x-api-appkey": "appkey-acme-X",
        "x-api-apptoken": "t",
      };
      expect((await fetch(`${server.url}/v1/authorize`, { headers })).status).toBe(401);
      const verify = await fetch(`${server.url}/v1/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ appKey: "appkey-acme-X", appToken: "t" }),
      });
      expect(verify.status).toBe(200);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
      // The watch ran in the server process (on the build before this test, it noted Number#toLocaleString).
      expect(await readFile(watching, "utf8")).toBe("watching\n");
    } finally {
      expect(await server.stop()).toBe(0);
    }
    const noted = await readFile(used, "utf8").catch(() => "");
    expect(noted).toBe("");
  });

  it("generates the secret file with mode 0600 in embedded mode", async () => {
    const dataDir = join(dir, "fresh");
    const server = await serve({ DATA_DIR: dataDir, LATCHKEY_SECRET: "" });
    try {
      expect(statSync(join(dataDir, "secret")).mode & 0o777).toBe(0o600);
      expect(statSync(join(dataDir, "latchkey.db")).isFile()).toBe(true);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
