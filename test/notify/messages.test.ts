import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NO_CONTROLS } from "../../src/core/key-controls.js";
import {
  alertPayload,
  emailText,
  LEAK_EVENT,
  leakPayload,
  policyPayload,
  webhookBody,
} from "../../src/notify/messages.js";
import { sign, verifySignature } from "../../src/notify/signature.js";
import type { KeyRecord, NotificationRecord } from "../../src/storage/store.js";

const NOW = Date.parse("2027-03-01T10:00:00Z");
const key: KeyRecord = {
  id: "k1",
  appKey: "appkey-acme-ABCDEF",
  account: "acme",
  name: "orders\r\nBcc: evil@example.com",
  active: true,
  inactiveReason: null,
  createdAt: Date.parse("2026-11-26T10:00:00Z"),
  updatedAt: Date.parse("2026-11-26T10:00:00Z"),
  tokenCreatedAt: Date.parse("2026-11-26T10:00:00Z"),
  lastUsedAt: null,
  roleIds: [],
  tokens: [{ id: "t1", hash: "SECRET-HASH", createdAt: Date.parse("2026-11-26T10:00:00Z") }],
  ...NO_CONTROLS,
  quotaPeriod: 0,
  quotaSetAt: 0,
  quotaBase: null,
};

function notification(event: string, payload: Record<string, unknown>): NotificationRecord {
  return {
    id: "n1",
    account: "acme",
    channel: "email",
    target: "ops@acme.test",
    event,
    payload,
    createdAt: NOW,
    status: "pending",
    attempts: 0,
    nextAttemptAt: NOW,
    lastError: null,
    sentAt: null,
  };
}

describe("webhook signature", () => {
  it("is HMAC-SHA256 over '{t}.{body}' (known answer)", () => {
    const body = '{"id":"n1"}';
    const expected = createHmac("sha256", "s3cret").update(`1700000000.${body}`).digest("hex");
    expect(sign("s3cret", body, 1_700_000_000)).toBe(`t=1700000000,v1=${expected}`);
    expect(sign("key", "The quick brown fox jumps over the lazy dog", 0)).toBe(
      `t=0,v1=${createHmac("sha256", "key").update("0.The quick brown fox jumps over the lazy dog").digest("hex")}`,
    );
  });

  it("verifies within 5 minutes only, and refuses a changed body, secret or header", () => {
    const body = '{"id":"n1"}';
    const header = sign("s3cret", body, 1_700_000_000);
    expect(verifySignature("s3cret", body, header, 1_700_000_000)).toBe(true);
    expect(verifySignature("s3cret", body, header, 1_700_000_300)).toBe(true);
    expect(verifySignature("s3cret", body, header, 1_700_000_301)).toBe(false);
    expect(verifySignature("s3cret", body, header, 1_699_999_699)).toBe(false);
    expect(verifySignature("s3cret", `${body} `, header, 1_700_000_000)).toBe(false);
    expect(verifySignature("other", body, header, 1_700_000_000)).toBe(false);
    expect(
      verifySignature("s3cret", body, header.replace("t=1700000000", "t=1700000001"), 1_700_000_000),
    ).toBe(false);
    expect(verifySignature("s3cret", body, "garbage", 1_700_000_000)).toBe(false);
    expect(verifySignature("s3cret", body, `${header},v1=${"0".repeat(64)}`, 1_700_000_000)).toBe(true);
  });
});

describe("messages", () => {
  it("never carry a token hash, and keep user text out of headers", () => {
    const orange = notification("key.alert.orange", alertPayload(key, "orange", 3, NOW));
    const mail = emailText(orange, "https://keys.example.com");
    expect(mail.subject).toBe(
      '[latchkey] API key "orders Bcc: evil@example.com" (appkey-acme-ABCDEF) needs renewal (orange)',
    );
    expect(mail.text).toContain("Token age: 95 days");
    expect(mail.text).toContain("https://keys.example.com/admin");
    expect(JSON.stringify(orange.payload)).not.toContain("SECRET-HASH");
    expect(webhookBody(orange)).not.toContain('"t1"');
  });

  it("explains each policy", () => {
    const unused = emailText(
      notification("key.deactivated_by_policy", policyPayload(key, "deactivateUnusedDays", 30, NOW)),
      "https://x.test",
    );
    expect(unused.text).toContain("neither used nor created in the last 30 days");
    const aged = emailText(
      notification("key.deactivated_by_policy", policyPayload(key, "maxTokenAgeDays", 90, NOW)),
      "https://x.test",
    );
    expect(aged.text).toContain("its token is older than 90 days");
  });

  it("renders an event it does not know as its facts", () => {
    const mail = emailText(
      notification("key.unheard_of", { appKey: "appkey-acme-ABCDEF" }),
      "https://x.test",
    );
    expect(mail.subject).toBe("[latchkey] key.unheard_of in account acme");
    expect(mail.text).toContain('"appKey": "appkey-acme-ABCDEF"');
  });

  it("tells of a leaked token: which key, which token by date, how to recover; never the hash", () => {
    const pending = { id: "t2", hash: "PENDING-HASH", createdAt: Date.parse("2027-02-01T10:00:00Z") };
    const leaked = { ...key, tokens: [...key.tokens, pending], tokenCreatedAt: pending.createdAt };
    const payload = leakPayload(leaked, key.tokens[0] as (typeof key.tokens)[number], NOW);
    expect(payload).toMatchObject({
      key: { appKey: "appkey-acme-ABCDEF" },
      leakedTokenCreatedAt: "2026-11-26T10:00:00.000Z",
      reportedAt: "2027-03-01T10:00:00.000Z",
    });
    const mail = emailText(notification(LEAK_EVENT, payload), "https://x.test");
    expect(mail.subject).toBe(
      '[latchkey] API key "orders Bcc: evil@example.com" (appkey-acme-ABCDEF) was deactivated: its token was reported leaked',
    );
    expect(mail.text).toContain("Leaked token created: 2026-11-26T10:00:00.000Z");
    expect(mail.text).toContain("renew the key's token");
    expect(mail.text).toContain("https://x.test/admin");
    expect(`${mail.text}${JSON.stringify(payload)}`).not.toMatch(/HASH/);
  });
});
