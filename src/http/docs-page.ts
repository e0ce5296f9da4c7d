/**
 * /docs: Swagger UI over /openapi.json, served from the installed package (no CDN).
 *
 * The page has no inline script or style: its start-up script is a file of its own, so the CSP
 * allows scripts and styles from this origin only. Swagger UI sets element styles through the DOM
 * (allowed by `style-src 'self'`) and its icons are `data:` images; it fetches the document and,
 * with "Try it out", the API from this origin or the public URL. The online validator badge is
 * switched off: it would load an image from swagger.io. The page may not be framed.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Hono } from "hono";
import type { AppEnv } from "./context.js";

/** The only files served from swagger-ui-dist. A Map: `constructor` or `__proto__` are no asset. */
const ASSETS = new Map<string, string>([
  ["swagger-ui.css", "text/css; charset=utf-8"],
  ["swagger-ui-bundle.js", "text/javascript; charset=utf-8"],
  ["favicon-32x32.png", "image/png"],
]);

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>latchkey API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script></body></html>`;

const INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui", deepLinking: true, validatorUrl: null });`;

export function docsCsp(publicUrl: string): string {
  let api = "";
  try {
    api = ` ${new URL(publicUrl).origin}`;
  } catch {
    // No usable public URL: "Try it out" calls this origin only.
  }
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${api}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export function docsRoutes(app: Hono<AppEnv>, publicUrl: string) {
  const dir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const cache = new Map<string, Buffer>();
  const headers = {
    "cache-control": "no-cache",
    "content-security-policy": docsCsp(publicUrl),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
  };
  app.get("/docs", (c) => c.html(PAGE, 200, headers));
  app.get("/docs/assets/init.js", (c) =>
    c.body(INIT, 200, { ...headers, "content-type": "text/javascript; charset=utf-8" }),
  );
  app.get("/docs/assets/:file", async (c) => {
    const file = c.req.param("file");
    const type = ASSETS.get(file);
    if (!type) return c.notFound();
    let body = cache.get(file);
    if (!body) {
      body = await readFile(join(dir, file));
      cache.set(file, body);
    }
    return c.body(new Uint8Array(body), 200, { ...headers, "content-type": type });
  });
}
