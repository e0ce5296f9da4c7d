/**
 * Runs the real `latchkey` binary (bin/latchkey.mjs over dist/) as a child process, for end-to-end
 * tests: CLI commands to completion, and `serve` in the background with its log captured.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type ClientRequest, request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";

export const BIN = join(import.meta.dirname, "..", "..", "bin", "latchkey.mjs");

/**
 * A request kept in flight: it announces a body and sends only its first byte, so the server waits
 * for the rest until the client is destroyed. Resolves once the server has had 300 ms to take it.
 */
export async function requestInFlight(url: string): Promise<ClientRequest> {
  const { port } = new URL(url);
  const hanging = request({
    host: "127.0.0.1",
    port,
    method: "POST",
    path: "/v1/verify",
    headers: { "content-type": "application/json", "content-length": "1000" },
  });
  hanging.on("error", () => {});
  hanging.write("{");
  await new Promise((resolve) => setTimeout(resolve, 300));
  return hanging;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/**
 * Runs a command to completion, in `cwd` if given. `killAfterMs` bounds one that should stop by
 * itself but might not (a `serve` expected to refuse to start): it is killed then, and its code is -1.
 */
export function runCli(
  args: string[],
  env: Record<string, string>,
  options: { killAfterMs?: number; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.killAfterMs === undefined ? {} : { timeout: options.killAfterMs, killSignal: "SIGKILL" }),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * Calls the HTTP API at `url` as a key (x-api-appkey / x-api-apptoken), with `body` as JSON if given.
 * Returns the status, the answer as text and parsed (null when empty).
 */
export async function callAs(
  url: string,
  key: { appKey: string; appToken: string },
  method: string,
  path: string,
  body?: unknown,
) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      "x-api-appkey": key.appKey,
      "x-api-apptoken": key.appToken,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : null };
}

/** Whether the server is past its wait for the database: /readyz is 200, or 503 for another dependency. */
async function databaseReached(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`);
    const body = (await res.json()) as { dependency?: string };
    return res.ok || body.dependency !== "database";
  } catch {
    return false;
  }
}

export interface Served {
  url: string;
  child: ChildProcess;
  log: () => string;
  readyMs: number;
  stop(): Promise<number>;
}

/**
 * Starts `latchkey serve` and returns once it serves: /healthz answers and /readyz no longer names
 * the database (it may still name the change bus). With `untilAlive`, as soon as /healthz answers:
 * on PostgreSQL the server may still be waiting for its database then.
 */
export async function serve(
  env: Record<string, string>,
  options: { untilAlive?: boolean } = {},
): Promise<Served> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, "serve"], {
    env: { ...process.env, LOG_LEVEL: "debug", HOST: "127.0.0.1", PORT: String(port), ...env },
  });
  let log = "";
  child.stdout?.on("data", (chunk) => {
    log += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    log += chunk;
  });
  const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const alive = await fetch(`${url}/healthz`).then(
      (res) => res.ok,
      () => false,
    );
    if (alive && (options.untilAlive || (await databaseReached(url)))) break;
    // A generous deadline: on a loaded machine module loading alone can take seconds.
    if (performance.now() - started > 30_000 || child.exitCode !== null)
      throw new Error(`latchkey serve did not start (exit ${child.exitCode}, try ${i}):\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    url,
    child,
    log: () => log,
    readyMs: performance.now() - started,
    stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}
