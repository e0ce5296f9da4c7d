import { createServer, type IncomingMessage, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawHeaderReader } from "../../src/http/fast-path.js";

/** Every header the verification fast paths read (credentials, forward-auth, browser, request id). */
const READ = [
  "authorization",
  "content-length",
  "content-type",
  "cookie",
  "host",
  "origin",
  "sec-fetch-mode",
  "sec-fetch-site",
  "transfer-encoding",
  "user-agent",
  "vtexidclientautcookie",
  "x-api-account",
  "x-api-appkey",
  "x-api-apptoken",
  "x-csrf-token",
  "x-forwarded-for",
  "x-forwarded-method",
  "x-forwarded-uri",
  "x-original-method",
  "x-original-uri",
  "x-request-id",
  "x-vtex-api-appkey",
  "x-vtex-api-apptoken",
];
/** Names a request may carry that the fast paths do not read, some a letter away from one they do. */
const OTHERS = ["x-api-appkeys", "x-api-appke", "accept", "x-original-url", "set-cookie", "x_api_appkey"];

function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("the fast paths' header reader", () => {
  let server: Server;
  let port: number;
  let received: IncomingMessage[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      received.push(req);
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends raw requests on one connection, so that names keep the case and repeats written here. */
  async function send(requests: string[]): Promise<IncomingMessage[]> {
    received = [];
    const socket = connect(port, "127.0.0.1");
    socket.write(requests.join(""));
    await new Promise<void>((resolve, reject) => {
      let answered = 0;
      socket.on("data", (chunk) => {
        answered += chunk.toString("latin1").split("HTTP/1.1 204").length - 1;
        if (answered === requests.length) resolve();
      });
      socket.on("error", reject);
    });
    socket.destroy();
    return received;
  }

  it("reads what IncomingMessage.headers holds, whatever the case and however often a header is repeated", async () => {
    const next = random(7);
    const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T;
    const mixCase = (name: string) => [...name].map((c) => (next() < 0.5 ? c.toUpperCase() : c)).join("");
    const requests: string[] = [];
    for (let r = 0; r < 300; r++) {
      const lines: string[] = [];
      const count = 1 + Math.floor(next() * 8);
      for (let h = 0; h < count; h++) {
        const name = next() < 0.8 ? pick(READ) : pick(OTHERS);
        // content-length and transfer-encoding shape the request itself: the framing is left alone.
        if (name === "content-length" || name === "transfer-encoding") continue;
        const repeats = next() < 0.4 ? 1 + Math.floor(next() * 3) : 1;
        for (let k = 0; k < repeats; k++)
          lines.push(`${mixCase(name)}: v${r}-${h}-${k}${next() < 0.2 ? " x" : ""}`);
      }
      if (next() < 0.3) lines.push(`${mixCase("content-length")}: 0`);
      requests.push(`GET /r${r} HTTP/1.1\r\nHost: h${r}\r\n${lines.join("\r\n")}\r\n\r\n`);
    }
    const got = await send(requests);
    expect(got).toHaveLength(300);
    let repeated = 0;
    for (const req of got) {
      const header = rawHeaderReader(req.rawHeaders);
      // Read by lower-case names of letters, digits and "-" (the reader's contract): `x_api_appkey`
      // is only sent, to be told apart from `x-api-appkey`.
      for (const name of [...READ, ...OTHERS.filter((other) => !other.includes("_"))]) {
        const expected = req.headers[name];
        expect(header(name), `${name} in ${req.url}`).toBe(Array.isArray(expected) ? expected[0] : expected);
        if (typeof expected === "string" && expected.includes(",")) repeated++;
      }
    }
    // The requests did repeat headers (joined values were compared, not only single ones).
    expect(repeated).toBeGreaterThan(50);
  });

  it("keeps the first of a repeated credential header node:http keeps the first of, and joins the rest", async () => {
    const [req] = await send([
      "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer one\r\nauthorization: Bearer two\r\n" +
        "X-Forwarded-For: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2\r\nCookie: a=1\r\ncookie: b=2\r\n" +
        "X-API-AppKey: k1\r\nx-api-appkey: k2\r\n\r\n",
    ]);
    const header = rawHeaderReader((req as IncomingMessage).rawHeaders);
    expect(header("authorization")).toBe("Bearer one");
    expect(header("x-forwarded-for")).toBe("10.0.0.1, 10.0.0.2");
    expect(header("cookie")).toBe("a=1; b=2");
    expect(header("x-api-appkey")).toBe("k1, k2");
    expect(header("x-api-apptoken")).toBeUndefined();
  });
});
