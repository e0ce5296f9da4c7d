/**
 * better-auth's verification over HTTP: the key in `x-api-key` is checked by
 * `auth.api.verifyApiKey` with REQUIRED_PERMISSIONS; 200 when valid, 401 when not, 429 when the
 * plugin refuses for its per-key rate limit or usage quota.
 *
 * Env: HOST (127.0.0.1), PORT (9102), DB (a copy of the seeded database: better-auth writes to it
 * on every verification), BA_JOURNAL (`wal-normal`, see better-auth.mjs), BA_RATE_LIMIT (1 keeps
 * the plugin's default per-key limit; the benchmark sets 0), KEY_HEADER (x-api-key).
 */
import { createServer } from "node:http";
import { makeAuth, REQUIRED_PERMISSIONS } from "./better-auth.mjs";

const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 9102);
const header = (process.env.KEY_HEADER || "x-api-key").toLowerCase();
const rateLimit = process.env.BA_RATE_LIMIT === "1";
const journal = process.env.BA_JOURNAL || "wal-normal";
const { auth, db } = makeAuth({ dbPath: process.env.DB || "data/run.db", rateLimit, journal });

const OK = '{"ok":true}';
const NO = '{"ok":false}';
function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
}

const server = createServer(async (req, res) => {
  const key = req.headers[header];
  if (typeof key !== "string" || key.length === 0) return send(res, 401, NO);
  try {
    const r = await auth.api.verifyApiKey({ body: { key, permissions: REQUIRED_PERMISSIONS } });
    if (r.valid) return send(res, 200, OK);
    const code = r.error?.code;
    send(res, code === "RATE_LIMITED" || code === "USAGE_EXCEEDED" ? 429 : 401, NO);
  } catch {
    send(res, 500, '{"error":"internal"}');
  }
});
server.listen(port, host, () =>
  console.log(`better-auth on http://${host}:${port} (rate limit ${rateLimit}, journal ${journal})`),
);
for (const signal of ["SIGTERM", "SIGINT"])
  process.on(signal, () => {
    server.close(() => {
      db.close();
      process.exit(0);
    });
    server.closeAllConnections();
  });
