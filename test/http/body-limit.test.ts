import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { limitBody } from "../../src/http/body-limit.js";

const MAX = 1024;

/** One request over its own socket: the status and the body. */
function send(port: number, headers: Record<string, string | number>, chunks: string[]) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/echo", headers, agent: false });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe("body limit over node:http", () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    const app = new Hono();
    app.use(limitBody({ maxSize: MAX, onError: (c) => c.text("too large", 413) }));
    app.post("/echo", async (c) => c.json({ length: JSON.stringify(await c.req.json()).length }));
    server = createServer(getRequestListener(app.fetch));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("answers 413 from Content-Length, and to a chunked body once it passes the limit", async () => {
    const big = JSON.stringify({ name: "x".repeat(MAX) });
    const json = { "content-type": "application/json" };
    expect((await send(port, { ...json, "content-length": big.length }, [big])).status).toBe(413);
    const chunked = await send(port, { ...json, "transfer-encoding": "chunked" }, [
      big.slice(0, 600),
      big.slice(600),
    ]);
    expect(chunked.status).toBe(413);
    const small = JSON.stringify({ name: "ok" });
    expect(await send(port, { ...json, "transfer-encoding": "chunked" }, [small])).toEqual({
      status: 200,
      text: JSON.stringify({ length: small.length }),
    });
  });

  it("reads a body with Content-Length directly, building no fetch Request (no AbortController)", async () => {
    // A fetch Request on node:http comes with an AbortController and undici's signal bookkeeping,
    // which young-generation GCs cannot free: the heap grew by hundreds of MB under load.
    const Original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const body = JSON.stringify({ name: "ok" });
      const res = await send(port, { "content-type": "application/json", "content-length": body.length }, [
        body,
      ]);
      expect(res).toEqual({ status: 200, text: JSON.stringify({ length: body.length }) });
    } finally {
      globalThis.AbortController = Original;
    }
    expect(made).toBe(0);
  });
});
