/**
 * A loopback TCP proxy in front of a dependency (Redis, PostgreSQL), for fault tests: `close()`
 * drops every connection as a crashed server would; `freeze()` keeps them open but carries no
 * more bytes, as a silent network would (only a timeout notices). A new proxy can be started on
 * the same port to bring the dependency back.
 */
import { connect, createServer, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  freeze(): void;
  close(): Promise<void>;
}

export function startTcpProxy(targetPort: number, port = 0): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on("data", (chunk) => {
        if (!frozen) to.write(chunk);
      });
      from.on("error", () => to.destroy());
      from.on("close", () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : port,
        freeze() {
          frozen = true;
        },
        close() {
          for (const socket of sockets) socket.destroy();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}
