/** What a presented password-reset code is worth, decided without a database. */
import { describe, expect, it } from "vitest";
import { decideResetCode, RESET_CODE_TTL_MS } from "../../src/services/password-changes.js";

const at = Date.parse("2026-12-01T10:00:00Z");
const record = { codeHash: "h", userId: "u", createdAt: at, expiresAt: at + RESET_CODE_TTL_MS, usedAt: null };

describe("decideResetCode", () => {
  it("accepts an unused code until 30 minutes have passed", () => {
    expect(decideResetCode(record, at)).toEqual({ ok: true, record });
    expect(decideResetCode(record, at + RESET_CODE_TTL_MS - 1).ok).toBe(true);
    expect(decideResetCode(record, at + RESET_CODE_TTL_MS)).toEqual({
      ok: false,
      code: "PASSWORD_RESET_EXPIRED",
    });
  });

  it("tells a used code from an unknown one, used before expired", () => {
    expect(decideResetCode(undefined, at)).toEqual({ ok: false, code: "PASSWORD_RESET_INVALID" });
    const used = { ...record, usedAt: at + 1 };
    expect(decideResetCode(used, at + 2)).toEqual({ ok: false, code: "PASSWORD_RESET_USED" });
    expect(decideResetCode(used, at + RESET_CODE_TTL_MS * 2)).toEqual({
      ok: false,
      code: "PASSWORD_RESET_USED",
    });
  });
});
