/**
 * Webhook channel: POST of the JSON body `{id, type, account, createdAt, data}` with
 *   Content-Type: application/json
 *   X-Latchkey-Event: the event (e.g. key.alert.orange)
 *   X-Latchkey-Delivery: the notification id (stable across retries)
 *   X-Latchkey-Signature: t=...,v1=... (see signature.ts for how receivers verify it)
 * A 2xx answer is delivered; anything else, a timeout (10 s) or a network error is retried.
 * Redirects are not followed.
 *
 * Secrets: the webhook's signing secret is read from the account's settings at send time, opened
 * with LATCHKEY_SECRET, used for the HMAC and dropped. Its URL may carry a secret path or query, so
 * neither the URL nor the secret ever appears in an error (only status codes and error codes do).
 */
import { readSettings } from "../core/settings.js";
import { openWebhookSecret } from "../services/settings.js";
import type { NotificationRecord } from "../storage/store.js";
import type { NotifyDeps } from "./deps.js";
import { webhookBody } from "./messages.js";
import type { Sender, SendOutcome } from "./outbox.js";
import { sign } from "./signature.js";

export const WEBHOOK_TIMEOUT_MS = 10_000;

export function createWebhookSender(deps: NotifyDeps): Sender {
  const timeoutMs = deps.webhookTimeoutMs ?? WEBHOOK_TIMEOUT_MS;

  async function target(notification: NotificationRecord) {
    const settings = readSettings(await deps.store.getSettings(notification.account));
    const hook = settings.webhooks.find((candidate) => candidate.id === notification.target);
    if (!hook) return { error: `webhook ${notification.target} is no longer in the account's settings` };
    const secret = openWebhookSecret(deps, notification.account, hook);
    if (secret === undefined)
      return { error: "the webhook's secret does not open (LATCHKEY_SECRET changed?)" };
    if (!URL.canParse(hook.url) || !/^https?:$/.test(new URL(hook.url).protocol)) {
      return { error: "the webhook's URL is not a valid http(s) URL" };
    }
    return { url: hook.url, secret };
  }

  return {
    async send(notification): Promise<SendOutcome> {
      const found = await target(notification);
      if ("error" in found) return { ok: false, error: found.error, permanent: true };
      const body = webhookBody(notification);
      const headers = {
        "Content-Type": "application/json",
        "User-Agent": "latchkey-webhook/1",
        "X-Latchkey-Event": notification.event,
        "X-Latchkey-Delivery": notification.id,
        "X-Latchkey-Signature": sign(found.secret, body, Math.floor(deps.clock.now() / 1000)),
      };
      try {
        const response = await fetch(found.url, {
          method: "POST",
          headers,
          body,
          redirect: "manual",
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        return response.ok ? { ok: true } : { ok: false, error: `webhook answered HTTP ${response.status}` };
      } catch (error) {
        return { ok: false, error: networkError(error, timeoutMs) };
      }
    },
  };
}

/** fetch's errors may quote the URL: keep only the kind of failure. */
function networkError(error: unknown, timeoutMs: number): string {
  const err = error as { name?: unknown; cause?: { code?: unknown } } | null;
  if (err?.name === "TimeoutError" || err?.name === "AbortError") {
    return `webhook did not answer within ${timeoutMs / 1000} s`;
  }
  const code = typeof err?.cause?.code === "string" ? err.cause.code : "network error";
  return `webhook unreachable: ${code}`;
}
