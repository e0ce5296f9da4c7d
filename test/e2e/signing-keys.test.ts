/**
 * `latchkey signing-keys rotate` as a real process (bin/latchkey.mjs over dist/: build first)
 * against a temporary DATA_DIR, and a real `latchkey serve` on the same database picking up a
 * rotation made by another process: without being told of it (SQLite), and told through
 * PostgreSQL LISTEN/NOTIFY.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { composeLatchkey, openConfiguredStore } from "../../src/main.js";
import { createTestDatabase } from "./databases.js";
import { runCli, serve } from "./process.js";

let dir: string;
let env: Record<string, string>;
let owner: { appKey: string; appToken: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-signing-"));
  env = { DATA_DIR: dir, LATCHKEY_SECRET: "", DATABASE_URL: "" };
  const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
  expect(init.code, init.stderr).toBe(0);
  const { appKey, appToken } = JSON.parse(init.stdout) as { appKey: string; appToken: string };
  owner = { appKey, appToken };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function kidOf(jwt: string): string {
  return (JSON.parse(Buffer.from(jwt.split(".")[0] ?? "", "base64url").toString("utf8")) as { kid: string })
    .kid;
}

describe("latchkey signing-keys rotate", () => {
  it("prints the new kid, as JSON or text, and exits 2 on bad usage", async () => {
    const first = await runCli(["signing-keys", "rotate", "--json"], env);
    expect(first.code, first.stderr).toBe(0);
    const created = JSON.parse(first.stdout) as { kid: string; previousKid: string | null };
    expect(created).toEqual({
      kid: expect.stringMatching(/^[\w-]{43}$/),
      previousKid: null,
      previousPublishedUntil: null,
    });
    const second = await runCli(["signing-keys", "rotate"], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("Signing key rotated: new kid ");
    expect(second.stdout).toContain(`previous kid ${created.kid} stays in the JWKS until `);
    expect((await runCli(["signing-keys", "spin"], env)).code).toBe(2);
  });

  it("is picked up by a running server: old and new JWTs verify, both kids are published", async () => {
    const server = await serve(env);
    try {
      const login = async () => {
        const res = await fetch(`${server.url}/v1/auth/apptoken`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(owner),
        });
        expect(res.status).toBe(200);
        return ((await res.json()) as { token: string }).token;
      };
      const me = (jwt: string) =>
        fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${jwt}` } });
      const before = await login();
      const rotated = await runCli(["signing-keys", "rotate", "--json"], env);
      expect(rotated.code, rotated.stderr).toBe(0);
      const { kid, previousKid } = JSON.parse(rotated.stdout) as { kid: string; previousKid: string };
      expect(previousKid).toBe(kidOf(before));
      // A JWT signed with the new key elsewhere (as another server would) is accepted by this one,
      // which has heard of no rotation: the unknown kid makes it re-read the keys.
      const store = await openConfiguredStore(loadConfig(env));
      let after: string;
      try {
        const logger = createLogger({ level: "silent" });
        const { services } = composeLatchkey(loadConfig(env), { store, logger });
        const minted = await services.jwt.mint(owner);
        if (!minted.ok) throw new Error(minted.reason);
        after = minted.token;
      } finally {
        await store.close();
      }
      expect(kidOf(after)).toBe(kid);
      expect((await me(after)).status).toBe(200);
      expect((await me(before)).status).toBe(200);
      const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[];
      };
      // The new key first, then the retired ones (two earlier rotations ran in the test above).
      expect(jwks.keys.map((key) => key.kid).slice(0, 2)).toEqual([kid, previousKid]);
      expect(jwks.keys).toHaveLength(3);
      expect(server.log()).not.toContain(after);
      expect(server.log()).not.toContain(before);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe("latchkey signing-keys rotate on PostgreSQL", () => {
  it("reaches a running server through the change notifications: it signs with the new key at once", async () => {
    const database = await createTestDatabase("latchkey_jwt");
    const pgEnv = {
      DATA_DIR: dir,
      LATCHKEY_SECRET: randomBytes(32).toString("hex"),
      DATABASE_URL: database.url,
    };
    try {
      const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], pgEnv);
      expect(init.code, init.stderr).toBe(0);
      const { appKey, appToken } = JSON.parse(init.stdout) as { appKey: string; appToken: string };
      const server = await serve(pgEnv);
      try {
        const login = async () => {
          const res = await fetch(`${server.url}/v1/auth/apptoken`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ appKey, appToken }),
          });
          expect(res.status).toBe(200);
          return kidOf(((await res.json()) as { token: string }).token);
        };
        const before = await login();
        const rotated = await runCli(["signing-keys", "rotate", "--json"], pgEnv);
        expect(rotated.code, rotated.stderr).toBe(0);
        const { kid, previousKid } = JSON.parse(rotated.stdout) as { kid: string; previousKid: string };
        expect(previousKid).toBe(before);
        // Without the notice the server would sign with the old key for up to a minute.
        const deadline = Date.now() + 1000;
        let signing = await login();
        while (signing !== kid && Date.now() < deadline) signing = await login();
        expect(signing).toBe(kid);
      } finally {
        expect(await server.stop()).toBe(0);
      }
    } finally {
      await database.drop();
    }
  });
});
