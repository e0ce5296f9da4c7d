/**
 * The remote commands in process, against the in-process app (test/support/harness.ts): the
 * commands' fetch is routed to `app.request()`, their streams are captured. What needs the real
 * binary and server (exit codes of the process, a server that is down) is in test/e2e/cli.test.ts.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Fetch } from "../../src/cli/client.js";
import { type CliOptions, type CliRun, runCli } from "../support/cli.js";
import { createHarness, type Harness } from "../support/harness.js";

let h: Harness;
let dir: string;

beforeAll(async () => {
  h = await createHarness();
  dir = await mkdtemp(join(tmpdir(), "latchkey-cli-"));
});

afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return runCli(h, args, options);
}

describe("keys list", () => {
  it("follows nextCursor with --all, and says how to go on without it", async () => {
    for (const name of ["paged-1", "paged-2", "paged-3", "paged-4"]) await h.createKey(name);
    const page = await cli(["keys", "list", "--q", "paged", "--limit", "3", "--json"]);
    expect(page.code, page.stderr).toBe(0);
    const first = JSON.parse(page.stdout);
    expect(first.items).toHaveLength(3);
    expect(first.total).toBe(4);
    expect(first.nextCursor).toEqual(expect.any(String));

    const all = await cli(["keys", "list", "--q", "paged", "--limit", "3", "--all", "--json"]);
    const everything = JSON.parse(all.stdout);
    expect(everything.items.map((key: { name: string }) => key.name).sort()).toEqual([
      "paged-1",
      "paged-2",
      "paged-3",
      "paged-4",
    ]);
    expect(everything.nextCursor).toBeNull();

    const human = await cli([
      "keys",
      "list",
      "--q",
      "paged",
      "--limit",
      "3",
      "--sort",
      "name",
      "--order",
      "asc",
    ]);
    expect(human.stdout).toMatch(/^APPKEY +NAME +STATUS +ROLES +ALERT +LAST USED\n/);
    expect(human.stdout).toContain("3 of 4 key(s); more with --cursor ");
    expect(human.stdout.indexOf("paged-1")).toBeLessThan(human.stdout.indexOf("paged-3"));
  });
});

describe("errors", () => {
  it("prints the problem's code and detail on stderr, as JSON with --json, and exits 1", async () => {
    const human = await cli(["keys", "show", "appkey-acme-NOSUCH"]);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe("");
    expect(human.stderr).toMatch(/^latchkey: KEY_NOT_FOUND: .+ \(HTTP 404, request id [\w-]+\)\n$/);

    const json = await cli(["keys", "show", "appkey-acme-NOSUCH", "--json"]);
    expect(json.code).toBe(1);
    expect(json.stdout).toBe("");
    expect(JSON.parse(json.stderr)).toEqual({
      error: {
        code: "KEY_NOT_FOUND",
        detail: expect.any(String),
        status: 404,
        requestId: expect.any(String),
      },
    });
  });

  it("is a usage error (2) before any request for a bad value or a missing grant", async () => {
    const calls: string[] = [];
    const fetch: Fetch = (input) => {
      calls.push(input);
      return Promise.reject(new Error("no call expected"));
    };
    expect((await cli(["keys", "list", "--limit", "500"], { fetch })).code).toBe(2);
    expect((await cli(["keys", "create", "x", "--role", "admin"], { fetch })).code).toBe(2);
    expect((await cli(["keys", "roles", "appkey-acme-QWERTY"], { fetch })).code).toBe(2);
    expect(
      (await cli(["keys", "roles", "appkey-acme-QWERTY", "--role", "1", "--none"], { fetch })).code,
    ).toBe(2);
    expect((await cli(["keys", "delete", "appkey-acme-QWERTY"], { fetch })).code).toBe(2);
    expect((await cli(["settings", "set"], { fetch })).code).toBe(2);
    expect((await cli(["audit", "list", "--from", "last tuesday"], { fetch })).code).toBe(2);
    expect(calls).toEqual([]);
  });

  it("keeps a non-problem error body out of the message", async () => {
    const fetch: Fetch = () =>
      Promise.resolve(
        new Response("<html>proxy error: secret internals</html>", {
          status: 502,
          statusText: "Bad Gateway",
        }),
      );
    const run = await cli(["roles", "list", "--json"], { fetch });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stderr)).toEqual({
      error: { code: "HTTP_502", detail: "Bad Gateway", status: 502 },
    });
  });
});

describe("export", () => {
  it("writes the file whole, with no temporary file left, and can write to stdout", async () => {
    const file = join(dir, "keys.json");
    const run = await cli(["keys", "export", "--format", "json", "--output", file, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ file, format: "json", bytes: expect.any(Number) });
    const exported = JSON.parse(await readFile(file, "utf8"));
    expect(exported.generated.length).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(["keys.json"]);

    const piped = await cli(["keys", "export", "--format", "csv", "--output", "-"]);
    expect(piped.code).toBe(0);
    expect(piped.stdout.split("\r\n")[0]).toMatch(/^type,id,keyName,label,roles,/);
    expect(piped.stdout).not.toContain(h.owner.appToken);
  });

  it("draws a progress bar of keys out of the account's total on a terminal, then erases it", async () => {
    const total = (await h.request("GET", "/v1/accounts/acme/keys?limit=1")).body.total;
    const run = await cli(["keys", "export", "--format", "csv", "--output", join(dir, "bar.csv")], {
      terminal: true,
    });
    expect(run.code, run.stderr).toBe(0);
    const bar = new RegExp(`^\\r\\u001b\\[2KExporting keys of acme  \\[[#-]{24}\\]  \\d+/${total} keys  `);
    expect(run.stderr).toMatch(bar);
    expect(run.stderr.endsWith("\r\u001b[2K")).toBe(true);
    expect(run.stdout).toMatch(/^Exported the keys of acme to .*bar\.csv \(\d+(\.\d)? k?B\)\.\n$/);
  });

  it("removes the partial file and keeps the old one when the download breaks off", async () => {
    const file = join(dir, "broken.csv");
    await cli(["keys", "export", "--output", file]);
    const before = await readFile(file, "utf8");
    const fetch: Fetch = () => {
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) controller.error(new Error("terminated"));
          else controller.enqueue(new TextEncoder().encode("type,id\r\ngenerated,1\r\n"));
          sent = true;
        },
      });
      return Promise.resolve(new Response(body, { status: 200, headers: { "content-type": "text/csv" } }));
    };
    const run = await cli(["keys", "export", "--output", file, "--json"], { fetch });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stderr).error).toMatchObject({ code: "DOWNLOAD_FAILED", status: null });
    expect(await readFile(file, "utf8")).toBe(before);
    expect((await readdir(dir)).filter((name) => name.includes("broken"))).toEqual(["broken.csv"]);
  });

  it("fails (1) when the target directory does not exist, leaving nothing", async () => {
    const run = await cli(["keys", "export", "--output", join(dir, "missing", "keys.csv")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/ENOENT/);
  });
});

describe("users", () => {
  it("names a user by email as well as by id", async () => {
    const created = await cli(["users", "create", "ana@acme.test", "--role", "2", "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const { user, password } = JSON.parse(created.stdout);
    expect(password).toEqual(expect.any(String));
    expect(created.stderr).toContain("only time the password is shown");

    const byEmail = await cli(["users", "roles", "ANA@acme.test", "--none", "--json"]);
    expect(byEmail.code, byEmail.stderr).toBe(0);
    expect(JSON.parse(byEmail.stdout)).toMatchObject({ id: user.id, roles: [] });

    const unknown = await cli(["users", "delete", "nobody@acme.test", "--yes"]);
    expect(unknown.code).toBe(2);
    const removed = await cli(["users", "delete", user.id, "--yes"]);
    expect(removed.code, removed.stderr).toBe(0);
  });

  it("prints an invitation's code and link once when the email already has a sign-in", async () => {
    await h.services.accounts.init({ account: "other", email: "ola@other.test" });
    const invited = await cli(["users", "create", "ola@other.test", "--role", "2"]);
    expect(invited.code, invited.stderr).toBe(0);
    const code = /invitation code:\s+(\S+)/.exec(invited.stdout)?.[1] ?? "";
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(invited.stdout).toContain(`/admin/invitation/acme#code=${code}`);
    expect(invited.stderr).toContain("shown only this once");
    // Invited already: a new code means withdrawing first.
    const again = await cli(["users", "create", "ola@other.test", "--json"]);
    expect(again.code).toBe(1);
  });

  it("resets a password by email, printing the one-time password once; the user must change it", async () => {
    const created = JSON.parse((await cli(["users", "create", "rui@acme.test", "--json"])).stdout);
    const reset = await cli(["users", "reset-password", "RUI@acme.test"]);
    expect(reset.code, reset.stderr).toBe(0);
    const oneTime = /one-time password:\s+(\S+)/.exec(reset.stdout)?.[1] ?? "";
    expect(oneTime).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(reset.stderr).toContain("only time the password is shown");
    expect(reset.stderr).toContain("must choose a new password");
    const json = JSON.parse((await cli(["users", "reset-password", created.user.id, "--json"])).stdout);
    expect(json).toMatchObject({ user: { email: "rui@acme.test" }, mustChangePassword: true });
    const login = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "rui@acme.test", password: json.password },
    });
    expect([login.status, login.body.mustChangePassword]).toEqual([200, true]);
    expect((await cli(["users", "reset-password", "nobody@acme.test"])).code).toBe(2);
  });
});

describe("settings set", () => {
  it("keeps a webhook's secret when its URL stays, and shows a new one's secret once", async () => {
    const first = await cli(["settings", "set", "--webhook", "https://hooks.acme.test/a", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const [hook] = JSON.parse(first.stdout).notifications.webhooks;
    expect(Object.keys(JSON.parse(first.stdout).webhookSecrets)).toEqual([hook.id]);
    expect(first.stderr).toContain("only time the webhook signing secrets are shown");

    const second = await cli([
      "settings",
      "set",
      "--webhook",
      "https://hooks.acme.test/a",
      "--webhook",
      "https://hooks.acme.test/b",
      "--json",
    ]);
    const after = JSON.parse(second.stdout);
    expect(after.notifications.webhooks[0].id).toBe(hook.id);
    expect(Object.keys(after.webhookSecrets)).toEqual([after.notifications.webhooks[1].id]);
  });

  it("writes with If-Match, and exits 1 saying so when someone saved the settings in between", async () => {
    const path = "/v1/accounts/acme/settings/api-keys";
    const seen: { method: string; ifMatch: string | undefined; etag: string | null }[] = [];
    /** Saves other settings as the owner between the command's GET and its PUT, when `meddle` is on. */
    const racing =
      (meddle: boolean): Fetch =>
      async (input, init) => {
        const method = init.method ?? "GET";
        if (meddle && method === "PUT") {
          const theirs = await h.request("PUT", path, {
            body: {
              renewalPeriodMonths: 3,
              notifications: { emails: ["theirs@acme.test"], webhooks: [] },
              policies: { deactivateUnusedDays: null, maxTokenAgeDays: null },
            },
          });
          expect(theirs.status).toBe(200);
        }
        const response = await h.app.request(input, init);
        const headers = init.headers as Record<string, string>;
        seen.push({ method, ifMatch: headers["if-match"], etag: response.headers.get("etag") });
        return response;
      };

    const saved = await cli(["settings", "set", "--email", "mine@acme.test"], { fetch: racing(false) });
    expect(saved.code, saved.stderr).toBe(0);
    const [read, write] = seen.splice(0);
    expect(read?.etag).toMatch(/^"[0-9-]+"$/);
    expect(write).toMatchObject({ method: "PUT", ifMatch: read?.etag });

    const refused = await cli(["settings", "set", "--renewal-period", "6"], { fetch: racing(true) });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(
      /^latchkey: SETTINGS_CHANGED: the settings were changed by someone else after this command read them; nothing was saved\. Run the command again .* \(HTTP 412, request id /,
    );
    expect(seen.at(-1)?.ifMatch).toBe(seen.at(0)?.etag);
    const now = (await h.request("GET", path)).body;
    expect(now).toMatchObject({ renewalPeriodMonths: 3, notifications: { emails: ["theirs@acme.test"] } });

    const json = await cli(["settings", "set", "--renewal-period", "6", "--json"], { fetch: racing(true) });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr).error).toMatchObject({ code: "SETTINGS_CHANGED", status: 412 });

    // Run again, it applies the change to the settings as they are now.
    const again = await cli(["settings", "set", "--renewal-period", "6", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      renewalPeriodMonths: 6,
      notifications: { emails: ["theirs@acme.test"] },
    });
  });
});
