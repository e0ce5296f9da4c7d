/**
 * Share links: the reveal endpoint (the link is the capability, so it is public) and the page at
 * `/share/{id}` that a link opens.
 *
 * The page reveals nothing by itself: link previewers and scanners that fetch it do not burn the
 * link. Only its button calls the reveal endpoint. It is self-contained (no external asset), its
 * inline script and style are pinned by hash in a strict Content-Security-Policy, and it is never
 * cached, indexed or sent as a Referer. Responses that carry a token are `no-store`.
 *
 * Once revealed, it also shows how to make a first call: the two headers (credentials.ts reads
 * them, or their X-VTEX-API-* names, on every path), the address they go to (this page's own, which
 * is PUBLIC_URL: the gateway the integrator reaches latchkey and the platform's API through) and a
 * curl line to copy. All of it is built in the browser from the reveal's answer: the token never
 * goes back to the server, so it cannot reach a log.
 */
import { createHash } from "node:crypto";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Actor } from "../../core/actor.js";
import type { Services } from "../../services/index.js";
import { isShareLinkId } from "../../services/share-links.js";
import type { AppEnv } from "../context.js";
import { jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

/** Request field of routes that hand a fresh token out (create, renew). */
export const DeliveryField = z
  .enum(["inline", "link"])
  .openapi({ description: "`link`: answer with a single-use share link instead of the token" });

const IdParam = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, description: "The share link id" }),
});

const reveal = createRoute({
  method: "post",
  path: "/v1/shares/{id}/reveal",
  tags: ["Share links"],
  summary: "Reveal a share link's key and token, once",
  request: {
    params: IdParam,
    body: { required: false, content: { "application/json": { schema: z.strictObject({}) } } },
  },
  responses: {
    200: jsonResponse(z.object({ appKey: z.string(), appToken: z.string() }), "The key and its token"),
    ...problemResponses(400, 404, 410),
  },
});

/** Whoever holds the link: anonymous, known only by where the request came from. */
function linkHolder(c: Context<AppEnv>): Actor {
  return {
    type: "system",
    id: "share_link",
    label: "share link holder",
    ip: c.get("clientIp"),
    userAgent: c.req.header("user-agent") ?? null,
    requestId: c.get("requestId"),
  };
}

export function shareRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  app.openapi(secure("public", reveal), async (c) => {
    const { id } = c.req.valid("param");
    const revealed = await services.shareLinks.reveal(linkHolder(c), id);
    return c.json(revealed, 200);
  });

  // Not part of the API (no /v1, not in OpenAPI): a page for people. It touches no storage.
  app.get("/share/:id", (c) => {
    const wellFormed = isShareLinkId(c.req.param("id"));
    return c.html(sharePage(wellFormed), wellFormed ? 200 : 404, {
      "content-security-policy": SHARE_PAGE_CSP,
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "x-robots-tag": "noindex, nofollow",
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
    });
  });
}

/* The page. Its script and style are constants, so their CSP hashes are computed once; the link id
   is read from the address bar, never written into the HTML. Values are shown with textContent. */

const SHARE_PAGE_STYLE = `
:root{color-scheme:light dark;font-family:system-ui,sans-serif;line-height:1.5}
body{margin:0;display:grid;place-items:center;min-height:100vh;background:Canvas;color:CanvasText}
main{max-width:36rem;margin:1rem;padding:1.5rem;border:1px solid GrayText;border-radius:.5rem}
h1{font-size:1.25rem;margin-top:0}
button{font:inherit;padding:.4rem 1rem;cursor:pointer}
code{display:block;padding:.5rem;margin:.25rem 0;overflow-wrap:anywhere;white-space:pre-wrap;border:1px solid GrayText}
p code{display:inline;padding:0;margin:0;border:0;white-space:normal}
h2{font-size:1.1rem;margin-top:1.5rem}
.warn{font-weight:bold}
[hidden]{display:none!important}
`;

const SHARE_PAGE_SCRIPT = `
(() => {
  const $ = (id) => document.getElementById(id);
  const id = location.pathname.split("/").pop();
  const endpoint = new URL("../v1/shares/" + encodeURIComponent(id) + "/reveal", location.href);
  // This page is served at PUBLIC_URL/share/{id}: the API is at PUBLIC_URL.
  const base = new URL("../", location.href).href;
  const quoted = (text) => "'" + text.split("'").join("'\\\\''") + "'";
  const messages = {
    SHARE_LINK_GONE: "This link was already used or has expired. Ask for a new one.",
    SHARE_LINK_NOT_FOUND: "This link is not valid. Ask for a new one.",
  };
  const show = (message) => {
    $("intro").hidden = true;
    $("error").textContent = message;
    $("error").hidden = false;
  };
  $("reveal").addEventListener("click", async () => {
    $("reveal").disabled = true;
    let res;
    try {
      res = await fetch(endpoint, { method: "POST", credentials: "omit", cache: "no-store" });
    } catch {
      $("reveal").disabled = false;
      $("error").textContent = "The server could not be reached. Try again.";
      $("error").hidden = false;
      return;
    }
    const body = await res.json().catch(() => ({}));
    if (!res.ok) return show(messages[body.code] || "Something went wrong (" + res.status + ").");
    $("appKey").textContent = body.appKey;
    $("appToken").textContent = body.appToken;
    const headers = ["X-API-AppKey: " + body.appKey, "X-API-AppToken: " + body.appToken];
    $("base").textContent = base;
    $("headers").textContent = headers.join("\\n");
    $("curl").textContent = "curl " + headers.map((h) => "-H " + quoted(h)).join(" ") + " " + base + "v1/me";
    $("docs").href = base + "docs";
    $("docs").textContent = base + "docs";
    $("intro").hidden = true;
    $("error").hidden = true;
    $("result").hidden = false;
  });
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText($(button.dataset.copy).textContent);
      button.textContent = "Copied";
    });
  }
})();
`;

function sharePage(wellFormed: boolean): string {
  const intro = wellFormed
    ? `<div id="intro"><p>Someone shared an API key with you. Its token can be revealed <strong>once</strong>;
      after that, or 24 hours after it was made, this link stops working.</p>
      <button id="reveal" type="button">Reveal</button></div>`
    : `<p>This link is not valid. Ask for a new one.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex, nofollow">
<title>Shared API key - latchkey</title><style>${SHARE_PAGE_STYLE}</style></head>
<body><main><h1>Shared API key</h1>${intro}
<p id="error" role="alert" hidden></p>
<div id="result" hidden>
<p class="warn">Copy the token now and keep it somewhere safe: it will not be shown again.</p>
<p>appKey</p><code id="appKey"></code><button type="button" data-copy="appKey">Copy</button>
<p>appToken</p><code id="appToken"></code><button type="button" data-copy="appToken">Copy</button>
<h2>Your first call</h2>
<p>Send the key as these two headers on every call to <code id="base"></code>: latchkey's API
(<code>v1/…</code>) and the platform's API behind the same address.</p>
<code id="headers"></code><button type="button" data-copy="headers">Copy</button>
<p>Integrations written for VTEX may send the same values as <code>X-VTEX-API-AppKey</code> and
<code>X-VTEX-API-AppToken</code> instead: both names are accepted on every path, <code>/api/…</code> included.</p>
<p>Try it: this call answers which key you are, in which account, with which resources.</p>
<code id="curl"></code><button type="button" data-copy="curl">Copy</button>
<p>Every route is described at <a id="docs"></a>.</p>
</div></main>${wellFormed ? `<script>${SHARE_PAGE_SCRIPT}</script>` : ""}</body></html>`;
}

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

export const SHARE_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SHARE_PAGE_SCRIPT)}`,
  `style-src ${sha256(SHARE_PAGE_STYLE)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");
