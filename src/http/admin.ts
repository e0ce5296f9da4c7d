/**
 * Serves the admin UI (web/dist, built by `npm run build`) at /admin. The bundle is read once at
 * start; hashed assets are cached for a year, index.html never. Any /admin path that is not a file
 * is a page of the single-page app and gets index.html. The UI only talks to /v1, under a CSP that
 * allows nothing from elsewhere.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "./context.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

export const ADMIN_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": ADMIN_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
};

interface Asset {
  body: Uint8Array;
  type: string;
}

function readBundle(dir: string): Map<string, Asset> {
  const files = new Map<string, Asset>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else
        files.set(`/${relative(dir, path).split("\\").join("/")}`, {
          body: readFileSync(path),
          type: TYPES[extname(name)] ?? "application/octet-stream",
        });
    }
  };
  try {
    walk(dir);
  } catch {
    // No bundle: the routes below explain how to build it.
  }
  return files;
}

export function adminRoutes(app: OpenAPIHono<AppEnv>, dir: string) {
  const files = readBundle(dir);
  const index = files.get("/index.html");

  const page = (c: Context<AppEnv>) => {
    if (!index)
      return c.text("The admin UI is not built. Run `npm run build` (npm ci runs it) and restart.", 503, {
        "cache-control": "no-store",
      });
    return c.body(index.body as Uint8Array<ArrayBuffer>, 200, {
      ...SECURITY_HEADERS,
      "content-type": index.type,
      "cache-control": "no-cache",
    });
  };

  app.get("/", (c) => c.redirect("/admin/", 302));
  app.get("/admin", (c) => c.redirect("/admin/", 301));
  app.get("/admin/*", (c) => {
    const path = c.req.path.slice("/admin".length);
    const asset = files.get(path);
    if (asset && path !== "/index.html") {
      const immutable = path.startsWith("/assets/");
      return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, {
        ...SECURITY_HEADERS,
        "content-type": asset.type,
        "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      });
    }
    // A missing asset is a 404; anything else is a page of the app.
    if (path.startsWith("/assets/")) return c.text("Not found", 404);
    return page(c);
  });
}
