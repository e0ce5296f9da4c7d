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
