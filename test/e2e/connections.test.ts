/**
 * The server's edges as a client or an operator meets them: a body over the limit on a keep-alive
 * connection, a port in use, a HOST that does not resolve.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type Served, serve } from "./process.js";

let dir: string;
let env: Record<string, string>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-connections-"));
  env = { DATA_DIR: dir, LATCHKEY_SECRET: randomBytes(32).toString("hex") };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function send(agent: Agent, url: string, method: string, path: string, body?: Buffer) {
  return new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const req = request(`${url}${path}`, {
      agent,
      method,
      headers: body ? { "content-type": "application/json", "content-length": body.length } : {},
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("a keep-alive client", () => {
  let server: Served;
  beforeAll(async () => {
    server = await serve(env);
  });
  afterAll(() => server.stop());

  it("gets 413 with Connection: close, and its next request on the pool succeeds", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await send(agent, server.url, "GET", "/healthz")).status).toBe(200);
      const tooLarge = await send(agent, server.url, "POST", "/v1/verify", Buffer.alloc(2 * 1024 * 1024, 32));
      expect(tooLarge).toEqual({ status: 413, connection: "close" });
      for (let i = 0; i < 3; i++) expect((await send(agent, server.url, "GET", "/healthz")).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });
});

describe("a client that goes away in the middle of its body", () => {
  let server: Served;
  beforeAll(async () => {
    server = await serve({ ...env, LOG_LEVEL: "debug" });
  });
  afterAll(() => server.stop());

  /** Sends the head and part of a 1,000-byte body, then drops the connection. */
  function abortMidBody(path: string, headers: Record<string, string>) {
    return new Promise<void>((resolve, reject) => {
      const { port } = new URL(server.url);
      const socket = connect(Number(port), "127.0.0.1", () => {
        const head = Object.entries({
          "content-type": "application/json",
          "content-length": "1000",
          ...headers,
        })
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join("");
        socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${head}\r\n{"appKey": "appkey-acme-`);
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 100);
      });
      socket.on("error", reject);
    });
  }

  it.each([
    ["/v1/verify", {}],
    ["/v1/auth/apptoken", {}],
    ["/api/vtexid/apptoken/login", {}],
  ])("%s: is logged at info as a closed request, never as an error", async (path, headers) => {
    const before = server.log().length;
    await abortMidBody(path, headers);
    const started = performance.now();
    while (
      !server.log().slice(before).includes("client closed the request") &&
      performance.now() - started < 3000
    )
      await new Promise((resolve) => setTimeout(resolve, 25));
    const lines = server
      .log()
      .slice(before)
      .split("\n")
      .filter((line) => line.trim().startsWith("{"))
      .map((line) => JSON.parse(line) as { level: string; msg: string; path?: string; status?: number });
    const closed = lines.find((line) => line.msg === "client closed the request");
    expect(closed?.level).toBe("info");
    expect(lines.filter((line) => line.level === "error" || line.level === "fatal")).toEqual([]);
    // Only this path's: the line of an earlier /healthz or /readyz may reach the log after `before`.
    expect(lines.filter((line) => line.msg === "request" && line.path === path)).toEqual([]);
    // And the server serves on.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("start-up failures of the listener", () => {
  it("names a port in use in one line and exits 1", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const address = taken.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const res = await runCli(
        ["serve"],
        { ...env, HOST: "127.0.0.1", PORT: String(port) },
        { killAfterMs: 30_000 },
      );
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(`latchkey: cannot listen on 127.0.0.1:${port}: the port is in use\n`);
    } finally {
      taken.close();
    }
  }, 40_000);

  it("names a HOST that does not resolve in one line and exits 1", async () => {
    const res = await runCli(
      ["serve"],
      { ...env, HOST: "no-such-host.invalid", PORT: "8099" },
      { killAfterMs: 30_000 },
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toBe("latchkey: cannot listen on no-such-host.invalid:8099: HOST does not resolve\n");
  }, 40_000);
});
