/**
 * What the bundle (dist/bundle/, scripts/bundle.mjs, run by bin/latchkey.mjs) must keep working:
 * the paths src derives from where its code lives (the admin UI, /docs, the catalog), a lazily
 * loaded package (exceljs for an xlsx export), the same OpenAPI document (schemas and patterns
 * unchanged by bundling), stack traces that point to src/*.ts, and a clear
 * refusal when the bundle has not been built. WORKERS=2 from the bundle: workers.test.ts.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness } from "../support/harness.js";
import { BIN, callAs, runCli, type Served, serve } from "./process.js";

const ROOT = join(import.meta.dirname, "..", "..");
const BUNDLE = join(ROOT, "dist", "bundle", "latchkey.mjs");
const run = promisify(execFile);

describe("the bundled server", () => {
  let dir: string;
  let server: Served;
  let owner: { appKey: string; appToken: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-bundle-"));
    const env = { DATA_DIR: dir, LATCHKEY_SECRET: randomBytes(32).toString("hex") };
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    owner = JSON.parse(init.stdout);
    server = await serve(env);
  });

  afterAll(async () => {
    if (server.child.exitCode === null) await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the admin UI from web/dist", async () => {
    const page = await fetch(`${server.url}/admin/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="root">');
    const asset = html.match(/src="(\/admin\/assets\/[^"]+\.js)"/)?.[1];
    expect(asset, html).toBeDefined();
    expect((await fetch(`${server.url}${asset}`)).status).toBe(200);
  });

  it("serves /docs from swagger-ui-dist", async () => {
    expect((await fetch(`${server.url}/docs`)).status).toBe(200);
    expect((await fetch(`${server.url}/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
  });

  it("serves the OpenAPI document of the app built in-process from src", async () => {
    const h = await createHarness();
    try {
      // Only the server URL (PUBLIC_URL) may differ.
      const { servers: _a, ...inProcess } = (await (await h.app.request("/openapi.json")).json()) as {
        servers: unknown;
      };
      const { servers: _b, ...bundled } = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
        servers: unknown;
      };
      expect(bundled).toEqual(inProcess);
    } finally {
      await h.close();
    }
  });

  it("loads the default catalog", async () => {
    const res = await callAs(server.url, owner, "GET", "/v1/resources");
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain("ViewApiKeys");
  });

  it("loads exceljs on the first xlsx export", async () => {
    const res = await fetch(`${server.url}/v1/accounts/acme/keys/export?format=xlsx`, {
      headers: { "x-api-appkey": owner.appKey, "x-api-apptoken": owner.appToken },
    });
    expect(res.status).toBe(200);
    // An xlsx file is a zip archive.
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(0, 2)
        .toString("latin1"),
    ).toBe("PK");
  });
});

describe("the bundle", () => {
  it("maps a stack trace through its source maps to src/*.ts, names kept", async () => {
    // run() reads argv first thing; an argv whose `includes` throws puts run's frame in the stack.
    const probe = [
      "process.setSourceMapsEnabled(true);",
      `const { run } = await import(${JSON.stringify(pathToFileURL(BUNDLE).href)});`,
      'const argv = ["version"];',
      'argv.includes = () => { throw new Error("probe"); };',
      "try { await run(argv); } catch (error) { console.log(error.stack); }",
    ].join("\n");
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", probe]);
    const source = (await readFile(join(ROOT, "src", "cli", "index.ts"), "utf8")).split("\n");
    const line = source.findIndex((l) => l.includes('argv.includes("--json")')) + 1;
    expect(line).toBeGreaterThan(0);
    // The bundle is minified without renaming: the frame keeps its function's name.
    expect(stdout).toMatch(new RegExp(`at run \\(.*/src/cli/index\\.ts:${line}:\\d+\\)`));
  });

  it("bin/latchkey.mjs refuses clearly when the bundle has not been built", async () => {
    const dir = await mkdtemp(join(tmpdir(), "latchkey-nobundle-"));
    try {
      await mkdir(join(dir, "bin"));
      await copyFile(BIN, join(dir, "bin", "latchkey.mjs"));
      const res = await run(process.execPath, [join(dir, "bin", "latchkey.mjs"), "serve"]).then(
        () => ({ code: 0, stderr: "" }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`${join(dir, "dist", "bundle", "latchkey.mjs")} is missing`);
      expect(res.stderr).toContain("npm run build");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
