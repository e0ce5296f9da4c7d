/**
 * Webhook signatures. Every delivery carries
 *
 *   X-Latchkey-Signature: t={unix seconds},v1={hex HMAC-SHA256(secret, "{t}.{raw body}")}
 *
 * where the secret is the webhook's signing secret (shown once when the webhook is created, stored
 * sealed). A receiver verifies it like `verifySignature` below: recompute the HMAC over the exact
 * raw body bytes it received (before any JSON parsing), compare in constant time, and reject a `t`
 * more than 5 minutes away from its own clock. That window bounds replays of a captured delivery;
 * to refuse replays inside it, remember the `X-Latchkey-Delivery` ids seen in the last 5 minutes
 * (a retry of the same notification reuses its id, so this also de-duplicates).
 *
 * Secrets: the plaintext secret exists only in memory while signing; it is never logged, stored
 * unsealed, or put in an error message.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function sign(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},v1=${mac}`;
}

/** The receiver's check, as a reference implementation (and what the tests run). */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  nowSeconds: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  const parts = header.split(",").map((part) => part.trim().split("="));
  const t = Number(parts.find(([name]) => name === "t")?.[1]);
  if (!Number.isSafeInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, body, t).split("v1=")[1] ?? "", "hex");
  // Several v1 entries may appear (e.g. while a secret is rotated): any match is enough.
  return parts.some(([name, value]) => {
    if (name !== "v1" || !value || !/^[0-9a-f]{64}$/.test(value)) return false;
    return timingSafeEqual(Buffer.from(value, "hex"), expected);
  });
}
