/**
 * Gateway harness for end-to-end tests: Debian's nginx (NGINX_PATH, else /usr/sbin/nginx) running the shipped example
 * (examples/nginx/latchkey.conf) with only its addresses and port substituted, a stand-in for the
 * platform's API that echoes what it received, and a client that can choose its source address
 * on the loopback network (127.0.0.0/8), so that one test acts as several clients.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./process.js";

export const NGINX = process.env.NGINX_PATH ?? "/usr/sbin/nginx";
export const NGINX_EXAMPLE = join(import.meta.dirname, "..", "..", "examples", "nginx", "latchkey.conf");

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request over a fresh connection from `from` (a loopback address); `body` is sent as JSON. */
export function send(
  port: number,
  options: { path: string; method?: string; headers?: Record<string, string>; from?: string; body?: unknown },
): Promise<Reply> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers = {
    ...(payload === undefined ? {} : { "content-type": "application/json" }),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: options.path,
        method: options.method ?? "GET",
        headers,
        localAddress: options.from ?? "127.0.0.1",
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface EchoApi {
  address: string;
  seen: Seen[];
  close(): Promise<void>;
}

/** The protected API: answers 200 with the request it saw, as JSON, and records it. */
export async function startEchoApi(): Promise<EchoApi> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const entry = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    seen.push(entry);
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(entry));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const where = server.address();
  if (typeof where !== "object" || !where) throw new Error("echo API has no address");
  return {
    address: `127.0.0.1:${where.port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function substitute(text: string, from: string, to: string): string {
  const parts = text.split(from);
  if (parts.length !== 2) throw new Error(`the nginx example must contain "${from}" exactly once`);
  return parts.join(to);
}

/** The shipped example with latchkey's address, the API's address and the listening port put in. */
export async function exampleConfig(where: { latchkey: string; api: string; port: number }): Promise<string> {
  let text = await readFile(NGINX_EXAMPLE, "utf8");
  text = substitute(text, "server 127.0.0.1:8080;", `server ${where.latchkey};`);
  text = substitute(text, "server 127.0.0.1:3000;", `server ${where.api};`);
  return substitute(text, "listen 80;", `listen 127.0.0.1:${where.port};`);
}

export interface Nginx {
  port: number;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground with every file it writes (pid, logs, temporary files) in a
 * temporary directory, so it neither needs nor touches the system's nginx or port 80. `port` is
 * chosen when not given (give it when latchkey must know it first, as its PUBLIC_URL).
 */
export async function startNginx(where: { latchkey: string; api: string; port?: number }): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-nginx-"));
  const port = where.port ?? (await freePort());
  await writeFile(
    join(dir, "latchkey.conf"),
    await exampleConfig({ latchkey: where.latchkey, api: where.api, port }),
  );
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"];
  await Promise.all(temp.map((name) => mkdir(join(dir, name))));
  const main = [
    // Workers would otherwise run as an unprivileged user that cannot enter the 0700 directory.
    process.getuid?.() === 0 ? "user root root;" : "",
    "worker_processes 1;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log info;`,
    "events { worker_connections 256; }",
    "http {",
    `  access_log ${dir}/access.log;`,
    ...temp.map((name) => `  ${name}_temp_path ${dir}/${name};`),
    `  include ${dir}/latchkey.conf;`,
    "}",
  ];
  await writeFile(join(dir, "nginx.conf"), `${main.join("\n")}\n`);

  const child: ChildProcess = spawn(NGINX, [
    "-p",
    `${dir}/`,
    "-c",
    join(dir, "nginx.conf"),
    "-g",
    "daemon off;",
  ]);
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const errorLog = () => readFile(join(dir, "error.log"), "utf8").catch(() => "");

  async function stop(): Promise<void> {
    process.removeListener("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  }

  for (let i = 0; !(await accepts(port)); i++) {
    if (i > 200 || child.exitCode !== null) {
      const log = await errorLog();
      await stop();
      throw new Error(`nginx did not start:\n${output}\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { port, errorLog, stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
