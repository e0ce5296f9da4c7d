/**
 * The ceiling of the verification benchmark: a bare `node:http` server answering 200 "ok" to every
 * request, whatever its headers. What one Node process serves here when a request costs nothing;
 * every other row is read as a share of it. Env: HOST (127.0.0.1), PORT (9101).
 */
import { createServer } from "node:http";

const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 9101);

const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": 2 });
  res.end("ok");
});
server.listen(port, host, () => console.log(`ceiling listening on http://${host}:${port}`));
for (const signal of ["SIGTERM", "SIGINT"])
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
