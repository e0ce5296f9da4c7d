/**
 * The webhook destination guard with a scripted resolver: names under .test answer what each test
 * sets (real DNS knows none of them), every other name goes to the system resolver. A delivery to
 * such a name that arrives proves the connection went to the address the guard resolved and checked.
 */
import type * as Dns from "node:dns";
import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { guardedLookup, literalRefusal, RefusedDestinationError } from "../../src/notify/destination.js";
import { createNotifyHarness, DAY, type NotifyHarness } from "./support.js";

const dns = vi.hoisted(() => ({
  answers: new Map<string, { address: string; family: number }[] | "ENOTFOUND">(),
  calls: [] as string[],
}));

vi.mock("node:dns", async (importOriginal) => {
  const real = await importOriginal<typeof Dns>();
  function lookup(hostname: string, options: Dns.LookupOptions, callback: (...args: unknown[]) => void) {
    dns.calls.push(hostname);
    const answer = dns.answers.get(hostname);
    if (answer === undefined) return real.lookup(hostname, { ...options, all: true }, callback);
    if (answer === "ENOTFOUND") {
      return setImmediate(() => callback(Object.assign(new Error("not found"), { code: "ENOTFOUND" })));
    }
    setImmediate(() => callback(null, answer));
  }
  return { ...real, default: { ...real, lookup }, lookup };
});

function resolve(lookup: LookupFunction, hostname: string, all: boolean) {
  return new Promise<{ error: Error | null; address: string | LookupAddress[]; family: number | undefined }>(
    (done) => lookup(hostname, { all }, (error, address, family) => done({ error, address, family })),
  );
}

beforeEach(() => {
  dns.answers.clear();
  dns.calls.length = 0;
});

describe("guardedLookup", () => {
  it("returns exactly the addresses it checked, all of them or the first", async () => {
    const answer = [
      { address: "203.0.113.7", family: 4 },
      { address: "2001:db8::7", family: 6 },
    ];
    dns.answers.set("public.test", answer);
    expect(await resolve(guardedLookup(false), "public.test", true)).toEqual({
      error: null,
      address: answer,
      family: undefined,
    });
    expect(await resolve(guardedLookup(false), "public.test", false)).toEqual({
      error: null,
      address: "203.0.113.7",
      family: 4,
    });
  });

  it("refuses when any answer is not public, naming that address", async () => {
    dns.answers.set("mixed.test", [
      { address: "203.0.113.7", family: 4 },
      { address: "10.0.0.5", family: 4 },
    ]);
    const { error } = await resolve(guardedLookup(false), "mixed.test", true);
    expect(error).toBeInstanceOf(RefusedDestinationError);
    expect(error?.message).toBe(
      "webhook refused: address 10.0.0.5 is in a private network; set WEBHOOK_ALLOW_PRIVATE=true to allow",
    );
  });

  it("refuses what the system resolver says localhost is", async () => {
    const { error } = await resolve(guardedLookup(false), "localhost", true);
    expect(error?.message).toMatch(/^webhook refused: address (127\.0\.0\.1|::1) is a loopback address;/);
  });

  it("lets everything through when private addresses are allowed", async () => {
    dns.answers.set("internal.test", [{ address: "10.0.0.5", family: 4 }]);
    expect((await resolve(guardedLookup(true), "internal.test", true)).error).toBeNull();
  });

  it("passes resolver errors on, and treats an empty answer as not found", async () => {
    dns.answers.set("missing.test", "ENOTFOUND");
    dns.answers.set("empty.test", []);
    for (const name of ["missing.test", "empty.test"]) {
      const { error } = await resolve(guardedLookup(false), name, true);
      expect((error as NodeJS.ErrnoException | null)?.code, name).toBe("ENOTFOUND");
    }
  });
});

describe("literalRefusal", () => {
  it("checks IP literals, with or without brackets, and leaves names to the lookup", () => {
    expect(literalRefusal("127.0.0.1", false)?.message).toContain("address 127.0.0.1 is a loopback address");
    expect(literalRefusal("[::1]", false)?.message).toContain("address ::1 is a loopback address");
    expect(literalRefusal("[::ffff:a00:5]", false)?.message).toContain("is in a private network");
    expect(literalRefusal("203.0.113.7", false)).toBeUndefined();
    expect(literalRefusal("localhost", false)).toBeUndefined();
    expect(literalRefusal("127.0.0.1", true)).toBeUndefined();
  });
});

describe("webhook deliveries through the guard", () => {
  let h: NotifyHarness;
  beforeEach(async () => {
    h = await createNotifyHarness();
  });
  afterEach(() => h.close());

  async function dueWebhookTo(host: string) {
    await h.configure({ webhook: `http://${host}:${new URL(h.hooks.url).port}/hooks/latchkey` });
    h.advance(95 * DAY);
  }

  it("resolves once per delivery and connects to the address it checked", async () => {
    dns.answers.set("receiver.test", [{ address: "127.0.0.1", family: 4 }]);
    await dueWebhookTo("receiver.test");
    const summary = await h.notifier({ webhookAllowPrivate: true }).runPass();
    expect(summary.deliveries).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(h.hooks.deliveries.map((d) => [d.verified, d.headers.host])).toEqual([
      [true, `receiver.test:${new URL(h.hooks.url).port}`],
    ]);
    expect(dns.calls.filter((name) => name === "receiver.test")).toHaveLength(1);
  });

  it("refuses a name whose answer holds a private address, permanently, by default", async () => {
    dns.answers.set("mixed.test", [
      { address: "203.0.113.7", family: 4 },
      { address: "127.0.0.1", family: 4 },
    ]);
    await dueWebhookTo("mixed.test");
    const summary = await h.notifier({ webhookAllowPrivate: false }).runPass();
    expect(summary.deliveries).toEqual({ sent: 0, retrying: 0, failed: 1 });
    expect(h.hooks.deliveries).toEqual([]);
    expect((await h.notifications())[0]?.lastError).toBe(
      "webhook refused: address 127.0.0.1 is a loopback address; set WEBHOOK_ALLOW_PRIVATE=true to allow",
    );
  });

  it("retries a name that does not resolve (a transient fault, unlike a refusal)", async () => {
    dns.answers.set("missing.test", "ENOTFOUND");
    await dueWebhookTo("missing.test");
    const summary = await h.notifier({ webhookAllowPrivate: false }).runPass();
    expect(summary.deliveries).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect((await h.notifications())[0]?.lastError).toBe("webhook unreachable: ENOTFOUND");
  });
});
