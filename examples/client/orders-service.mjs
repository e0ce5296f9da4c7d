/**
 * An integrator's service that lets a call through only with a latchkey key holding the route's
 * resource: `latchkey/client`'s verifier (answers cached for a few seconds) and its Hono middleware.
 * The typed client lists the caller's own facts from latchkey's API as a second example.
 *
 *   LATCHKEY_URL=http://127.0.0.1:8080 PORT=3000 node examples/client/orders-service.mjs
 *   curl -H 'X-API-AppKey: …' -H 'X-API-AppToken: …' http://127.0.0.1:3000/orders
 *
 * Run inside this repository after `npm run build`; elsewhere, install latchkey and import the same
 * `latchkey/client`.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createLatchkeyClient, createVerifier, credentialsOf, latchkeyHono } from "latchkey/client";

export function createOrdersService(latchkeyUrl) {
  // No key of its own: /v1/verify is public. The cache keeps answers 5 s (invalid ones 1 s).
  const latchkey = createLatchkeyClient({ baseUrl: latchkeyUrl });
  const verifier = createVerifier({ client: latchkey, ttlMs: 5_000 });
  // The account the call is for, when the caller names one; the key's own account otherwise.
  const account = (header) => header("x-api-account");

  const app = new Hono();
  app.get("/orders", latchkeyHono(verifier, { resource: "ViewOrders", account }), (c) => {
    const { account: granted, appKey } = c.get("latchkey");
    return c.json({ account: granted, caller: appKey, orders: [{ id: "1001", total: 42 }] });
  });
  app.post("/orders", latchkeyHono(verifier, { resource: "EditOrders", account }), (c) =>
    c.json({ created: true }, 201),
  );
  // The caller's own facts, read from latchkey's API with the caller's key through the typed client.
  app.get("/whoami", latchkeyHono(verifier), async (c) => {
    const key = credentialsOf((name) => c.req.header(name));
    const { data, error } = await createLatchkeyClient({ baseUrl: latchkeyUrl, key }).GET("/v1/me");
    if (error) return c.json({ code: error.code }, 502);
    return c.json({ accounts: data.accounts.map((access) => access.account) });
  });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const latchkeyUrl = process.env.LATCHKEY_URL ?? "http://127.0.0.1:8080";
  const port = Number(process.env.PORT ?? 3000);
  serve({ fetch: createOrdersService(latchkeyUrl).fetch, port, hostname: "127.0.0.1" }, (info) => {
    console.log(`orders service on http://127.0.0.1:${info.port}, verifying with ${latchkeyUrl}`);
  });
}
