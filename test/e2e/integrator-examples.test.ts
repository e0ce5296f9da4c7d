/**
 * The first-call examples of docs/integrators.md, run as they are written (curl in sh, JavaScript
 * in Node with the built `latchkey/client`, Python with its standard library) against a real
 * `latchkey serve` behind the shipped nginx example, the address an integrator is given: each
 * prints the key's /v1/me, and each fails, saying why, with a wrong token.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EchoApi, NGINX, type Nginx, startEchoApi, startNginx } from "./gateway.js";
import { callAs, runCli, type Served, serve } from "./process.js";

const ROOT = join(import.meta.dirname, "..", "..");
const GUIDE = readFileSync(join(ROOT, "docs", "integrators.md"), "utf8");

interface Example {
  lang: "sh" | "js" | "python";
  code: string;
}

/** The fenced blocks of the "First call" section, but the one that sets the environment. */
function firstCallExamples(): Example[] {
  const section = GUIDE.split(/^## /m).find((part) => part.startsWith("First call\n")) ?? "";
  return [...section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)]
    .map(([, lang, code]) => ({ lang, code }) as Example)
    .filter((example) => ["sh", "js", "python"].includes(example.lang))
    .filter((example) => !example.code.startsWith("export "));
}

const COMMANDS = {
  sh: ["sh", ["-e"]],
  js: [process.execPath, ["--input-type=module"]],
  python: ["python3", ["-"]],
} as const;

function run(example: Example, env: Record<string, string>): Promise<{ code: number; output: string }> {
  const [command, args] = COMMANDS[example.lang];
  return new Promise((resolve, reject) => {
    // From the repository, where `latchkey/client` resolves to the package itself (dist/client).
    const child = spawn(command, [...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(example.code);
  });
}

describe("docs/integrators.md: the first-call examples", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let server: Served;
  let api: EchoApi;
  let nginx: Nginx;
  let key: { appKey: string; appToken: string };
  const examples = firstCallExamples();

  beforeAll(async () => {
    for (const tool of ["/usr/bin/curl", "/usr/bin/jq", NGINX]) {
      expect(existsSync(tool), `${tool} is missing: apt-get install curl jq nginx`).toBe(true);
    }
    const dataDir = await mkdtemp(join(tmpdir(), "latchkey-e2e-examples-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = { DATA_DIR: dataDir, LATCHKEY_SECRET: randomBytes(32).toString("hex"), TRUST_PROXY: "true" };
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    const owner = JSON.parse(init.stdout);
    server = await serve(env);
    cleanups.push(() => server.stop());
    const created = await callAs(server.url, owner, "POST", "/v1/accounts/acme/keys", {
      name: "ERP",
      roles: [10],
    });
    expect(created.status, created.text).toBe(201);
    key = { appKey: created.json.key.appKey, appToken: created.json.appToken };
    api = await startEchoApi();
    cleanups.push(() => api.close());
    nginx = await startNginx({ latchkey: new URL(server.url).host, api: api.address });
    cleanups.push(() => nginx.stop());
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  const environment = (appToken: string) => ({
    LATCHKEY_URL: `http://127.0.0.1:${nginx.port}`,
    LATCHKEY_APPKEY: key.appKey,
    LATCHKEY_APPTOKEN: appToken,
  });

  it("has curl, JWT, fetch, typed-client and Python examples", () => {
    expect(examples.map((example) => example.lang)).toEqual(["sh", "sh", "js", "js", "python"]);
    expect(examples[1]?.code).toContain("Authorization: Bearer");
    expect(examples[3]?.code).toContain('from "latchkey/client"');
  });

  it("runs each as written: it prints the key's /v1/me", async () => {
    for (const example of examples) {
      const { code, output } = await run(example, environment(key.appToken));
      expect([example.lang, code, output]).toEqual([example.lang, 0, expect.stringContaining(key.appKey)]);
      expect(output, example.code).toContain("ViewOrders");
    }
  }, 60_000);

  it("fails with a wrong token, and says it was refused", async () => {
    const wrong = `${key.appToken.slice(0, -1)}${key.appToken.endsWith("x") ? "y" : "x"}`;
    for (const example of examples) {
      const { code, output } = await run(example, environment(wrong));
      expect([example.lang, code === 0]).toEqual([example.lang, false]);
      expect(output, example.code).toMatch(/401|UNAUTHENTICATED/);
      expect(output).not.toContain("ViewOrders");
    }
  }, 60_000);
});
