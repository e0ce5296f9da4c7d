import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { accountOfAppKey, api, isLoopback, parseBaseUrl } from "../../src/cli/client.js";
import { UsageError } from "../../src/cli/output.js";
import { connect, type RemoteIO } from "../../src/cli/remote/context.js";
import { chosenRoles, collectRoleIds, daysOrOff, instant, integer } from "../../src/cli/remote/options.js";
import { changedSettings, ifMatch } from "../../src/cli/remote/settings.js";
import type { ApiKeySettings } from "../../src/client/client.js";

describe("option values", () => {
  it("collects repeated and comma-separated role ids, once each", () => {
    let roles = collectRoleIds("10");
    roles = collectRoleIds("11,12", roles);
    roles = collectRoleIds("10", roles);
    expect(roles).toEqual([10, 11, 12]);
  });

  it.each(["", "x", "0", "-3", "1.5", "10,abc", "1e3"])("refuses the role id %j", (raw) => {
    expect(() => collectRoleIds(raw)).toThrow(InvalidArgumentError);
  });

  it("checks whole numbers against their range", () => {
    const limit = integer(1, 200);
    expect(limit("200")).toBe(200);
    for (const bad of ["0", "201", "abc", "2.5", ""]) expect(() => limit(bad)).toThrow(InvalidArgumentError);
  });

  it("reads a number of days or off", () => {
    const days = daysOrOff(3650);
    expect(days("90")).toBe(90);
    expect(days("off")).toBeNull();
    expect(() => days("never")).toThrow(InvalidArgumentError);
  });

  it("takes ISO dates and date-times only", () => {
    expect(instant("2026-11-26")).toBe("2026-11-26");
    expect(instant("2026-11-26T10:00:00Z")).toBe("2026-11-26T10:00:00Z");
    for (const bad of ["yesterday", "26/11/2026", "2026-13-45"]) expect(() => instant(bad)).toThrow();
  });

  it("wants --role or --none for a grant", () => {
    expect(chosenRoles({ role: [10] })).toEqual([10]);
    expect(chosenRoles({ none: true })).toEqual([]);
    expect(() => chosenRoles({})).toThrow(UsageError);
  });
});

describe("connection", () => {
  it("tells the account from an appKey", () => {
    expect(accountOfAppKey("appkey-acme-QWERTY")).toBe("acme");
    expect(accountOfAppKey("vtexappkey-my-store-2-ABCDEF")).toBe("my-store-2");
    expect(accountOfAppKey("imported-key")).toBeUndefined();
    expect(accountOfAppKey("appkey-acme-QWERT")).toBeUndefined();
  });

  it("encodes each interpolated path segment", () => {
    expect(api`/v1/accounts/${"acme"}/keys/${"a/b?c#d"}`).toBe("/v1/accounts/acme/keys/a%2Fb%3Fc%23d");
    expect(api`/v1/accounts/${"acme"}/roles/${100001}`).toBe("/v1/accounts/acme/roles/100001");
  });

  it("accepts http(s) base URLs without credentials", () => {
    expect(parseBaseUrl("https://latchkey.example.com/base/").pathname).toBe("/base/");
    for (const bad of ["latchkey.example.com", "ftp://x", "https://u:p@x", "https://x/?a=1"])
      expect(() => parseBaseUrl(bad)).toThrow(UsageError);
    expect(isLoopback(new URL("http://127.0.0.1:8080"))).toBe(true);
    expect(isLoopback(new URL("http://[::1]:8080"))).toBe(true);
    expect(isLoopback(new URL("http://latchkey.internal"))).toBe(false);
  });

  const io = (env: Record<string, string>, isTTY = false): RemoteIO & { err: () => string } => {
    let err = "";
    return {
      env,
      stdin: { isTTY } as unknown as RemoteIO["stdin"],
      stdout: { write: () => true } as unknown as RemoteIO["stdout"],
      stderr: {
        write: (text: string) => {
          err += text;
          return true;
        },
      } as unknown as RemoteIO["stderr"],
      fetch: () => Promise.reject(new Error("no network in this test")),
      err: () => err,
    };
  };
  const full = {
    LATCHKEY_URL: "http://127.0.0.1:8080",
    LATCHKEY_APPKEY: "appkey-acme-QWERTY",
    LATCHKEY_APPTOKEN: "lkt_x",
  };

  it("takes the account from the appKey, LATCHKEY_ACCOUNT or --account, in rising precedence", async () => {
    expect((await connect({}, io(full))).account).toBe("acme");
    expect((await connect({}, io({ ...full, LATCHKEY_ACCOUNT: "beta" }))).account).toBe("beta");
    expect((await connect({ account: "gamma" }, io({ ...full, LATCHKEY_ACCOUNT: "beta" }))).account).toBe(
      "gamma",
    );
  });

  it("is a usage error without URL, appKey, token (off a terminal) or a readable account", async () => {
    const { LATCHKEY_URL: _url, ...noUrl } = full;
    const { LATCHKEY_APPTOKEN: _token, ...noToken } = full;
    await expect(connect({}, io(noUrl))).rejects.toThrow(/LATCHKEY_URL/);
    await expect(connect({}, io({ ...full, LATCHKEY_APPKEY: "" }))).rejects.toThrow(/LATCHKEY_APPKEY/);
    await expect(connect({}, io(noToken))).rejects.toThrow(/LATCHKEY_APPTOKEN/);
    await expect(connect({}, io({ ...full, LATCHKEY_APPKEY: "imported" }))).rejects.toThrow(/--account/);
    await expect(connect({ account: "Not An Account" }, io(full))).rejects.toThrow(UsageError);
  });

  it("warns when the token would cross the network in clear", async () => {
    const remote = io({ ...full, LATCHKEY_URL: "http://latchkey.internal" });
    await connect({}, remote);
    expect(remote.err()).toContain("plain http");
    const local = io(full);
    await connect({}, local);
    expect(local.err()).toBe("");
  });
});

describe("settings set", () => {
  const current: ApiKeySettings = {
    renewalPeriodMonths: 3,
    notifications: {
      emails: ["ops@acme.test"],
      webhooks: [{ id: "wh_keep", url: "https://hooks.acme.test/a", secretSet: true }],
    },
    policies: {
      deactivateUnusedDays: 90,
      maxTokenAgeDays: null,
      maxKeyLifetimeDays: null,
      allowBrowserKeys: false,
      requireExternalKeyApproval: false,
    },
    updatedAt: null,
  };

  it("changes what the flags name and keeps the rest", () => {
    expect(changedSettings(current, { renewalPeriod: "6", maxTokenAgeDays: 365 })).toEqual({
      renewalPeriodMonths: 6,
      notifications: {
        emails: ["ops@acme.test"],
        webhooks: [{ id: "wh_keep", url: "https://hooks.acme.test/a" }],
      },
      policies: { deactivateUnusedDays: 90, maxTokenAgeDays: 365 },
    });
  });

  it("keeps a known webhook's id (and so its secret), adds new URLs without one, drops the others", () => {
    const body = changedSettings(current, {
      webhook: ["https://hooks.acme.test/new", "https://hooks.acme.test/a"],
    });
    expect(body.notifications.webhooks).toEqual([
      { url: "https://hooks.acme.test/new" },
      { id: "wh_keep", url: "https://hooks.acme.test/a" },
    ]);
  });

  it("clears lists and turns policies off", () => {
    const body = changedSettings(current, {
      clearEmails: true,
      clearWebhooks: true,
      deactivateUnusedDays: null,
    });
    expect(body.notifications).toEqual({ emails: [], webhooks: [] });
    expect(body.policies.deactivateUnusedDays).toBeNull();
  });

  it("refuses to write when nothing changes", () => {
    expect(() => changedSettings(current, {})).toThrow(UsageError);
  });

  it("sends back the ETag it read, strong even when a proxy weakened it, and none when there was none", () => {
    expect(ifMatch('"4-1764151200000"')).toEqual({ "if-match": '"4-1764151200000"' });
    expect(ifMatch('W/"4-1764151200000"')).toEqual({ "if-match": '"4-1764151200000"' });
    expect(ifMatch(undefined)).toEqual({});
  });
});
