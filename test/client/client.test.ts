import { afterAll, beforeAll, expect, it } from "vitest";
import { createLatchkeyClient, type LatchkeyClient, LatchkeyError, ok } from "../../src/client/client.js";
import { createHarness, type Harness } from "../support/harness.js";

let h: Harness;
let client: LatchkeyClient;
const seen: Request[] = [];

beforeAll(async () => {
  h = await createHarness();
  client = createLatchkeyClient({
    baseUrl: "http://latchkey.test/",
    key: h.owner,
    fetch: (request) => {
      seen.push(request);
      return Promise.resolve(h.app.request(request));
    },
  });
});
afterAll(() => h.close());

it("calls as the key, with its token in the header only, and ok() gives the body", async () => {
  const page = await ok(
    client.GET("/v1/accounts/{account}/keys", { params: { path: { account: "acme" }, query: { limit: 1 } } }),
  );
  expect(page).toMatchObject({
    items: [{ account: "acme", keyType: "generated" }],
    total: expect.any(Number),
  });
  const headers = seen.at(-1)?.headers;
  expect(headers?.get("x-api-appkey")).toBe(h.owner.appKey);
  expect(headers?.get("x-api-apptoken")).toBe(h.owner.appToken);
  expect(headers?.get("accept")).toBe("application/json");
});

it("ok() throws a LatchkeyError with the problem for an error status", async () => {
  const failed = await ok(
    client.GET("/v1/accounts/{account}/keys/{appKey}", {
      params: { path: { account: "acme", appKey: "appkey-acme-NOSUCH" } },
    }),
  ).catch((error: unknown) => error);
  expect(failed).toBeInstanceOf(LatchkeyError);
  expect(failed).toMatchObject({ status: 404, code: "KEY_NOT_FOUND", problem: { status: 404 } });
});

it("encodes path parameters as one segment each", async () => {
  const { response } = await client.GET("/v1/accounts/{account}/keys/{appKey}", {
    params: { path: { account: "acme", appKey: "a/b?c" } },
  });
  expect(new URL(seen.at(-1)?.url ?? "").pathname).toBe("/v1/accounts/acme/keys/a%2Fb%3Fc");
  expect(response.status).toBe(404);
});
