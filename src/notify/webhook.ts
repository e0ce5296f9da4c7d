/**
 * Webhook channel: POST of the JSON body `{id, type, account, createdAt, data}` with
 *   Content-Type: application/json
 *   X-Latchkey-Event: the event (e.g. key.alert.orange)
 *   X-Latchkey-Delivery: the notification id (stable across retries)
 *   X-Latchkey-Signature: t=...,v1=... (see signature.ts for how receivers verify it)
 * A 2xx answer is delivered; anything else, a timeout (10 s) or a network error is retried.
 * Redirects are not followed: a 3xx is a failed attempt that says so (a redirect could lead to an
 * address the destination check below never saw).
 *
 * Destination: unless WEBHOOK_ALLOW_PRIVATE, the host must resolve to public addresses only, and
 * the connection goes to the very addresses checked (destination.ts). A refusal is permanent: the
 * notification gives up at once instead of retrying for 15 h, since only the operator can change
 * the setting (and the URL, saved in the settings, is what the account admin should fix).
 *
 * Secrets: the webhook's signing secret is read from the account's settings at send time, opened
 * with LATCHKEY_SECRET, used for the HMAC and dropped. Its URL may carry a secret path or query, so
 * neither the URL nor the secret ever appears in an error (only status codes, error codes and, for
 * a refused destination, the resolved IP address do).
 */
import { request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { readSettings } from "../core/settings.js";
import type { NotificationRecord } from "../storage/store.js";
import type { NotifyDeps } from "./deps.js";
import { guardedLookup, literalRefusal, RefusedDestinationError } from "./destination.js";
import { webhookBody } from "./messages.js";
import type { Sender, SendOutcome } from "./outbox.js";
import { sign } from "./signature.js";
import { openWebhookSecret } from "./webhook-secret.js";

export const WEBHOOK_TIMEOUT_MS = 10_000;

export function createWebhookSender(deps: NotifyDeps): Sender {
  const timeoutMs = deps.webhookTimeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const allowPrivate = deps.webhookAllowPrivate === true;
  const lookup = guardedLookup(allowPrivate);

  async function target(notification: NotificationRecord) {
    const settings = readSettings(await deps.store.settings.get(notification.account));
    const hook = settings.webhooks.find((candidate) => candidate.id === notification.target);
    if (!hook) return { error: `webhook ${notification.target} is no longer in the account's settings` };
    const secret = openWebhookSecret(deps, notification.account, hook);
    if (secret === undefined)
      return { error: "the webhook's secret does not open (LATCHKEY_SECRET changed?)" };
    if (!URL.canParse(hook.url) || !/^https?:$/.test(new URL(hook.url).protocol)) {
      return { error: "the webhook's URL is not a valid http(s) URL" };
    }
    const url = new URL(hook.url);
    const refused = literalRefusal(url.hostname, allowPrivate);
    if (refused) return { error: refused.message };
    return { url, secret };
  }

  return {
    async send(notification): Promise<SendOutcome> {
      const found = await target(notification);
      if ("error" in found) return { ok: false, error: found.error, permanent: true };
      const body = webhookBody(notification);
      const headers = {
        "Content-Type": "application/json",
        "Content-Length": String(Buffer.byteLength(body)),
        "User-Agent": "latchkey-webhook/1",
        "X-Latchkey-Event": notification.event,
        "X-Latchkey-Delivery": notification.id,
        "X-Latchkey-Signature": sign(found.secret, body, Math.floor(deps.clock.now() / 1000)),
      };
      try {
        const status = await post(found.url, { headers, body, lookup, timeoutMs });
        if (status >= 200 && status < 300) return { ok: true };
        if (status >= 300 && status < 400) {
          return {
            ok: false,
            error: `webhook answered HTTP ${status}, a redirect: redirects are not followed, save the final URL`,
          };
        }
        return { ok: false, error: `webhook answered HTTP ${status}` };
      } catch (error) {
        if (error instanceof RefusedDestinationError)
          return { ok: false, error: error.message, permanent: true };
        return { ok: false, error: networkError(error, timeoutMs) };
      }
    },
  };
}

interface Post {
  headers: OutgoingHttpHeaders;
  body: string;
  lookup: LookupFunction;
  timeoutMs: number;
}

/**
 * One POST on a fresh connection (no agent: a pooled socket would skip the lookup, and with it the
 * check); resolves with the status as soon as it arrives, the answer's body is discarded.
 */
function post(url: URL, { headers, body, lookup, timeoutMs }: Post): Promise<number> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", headers, agent: false, lookup, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Network errors may quote the host or address: keep only the kind of failure. */
function networkError(error: unknown, timeoutMs: number): string {
  const err = error as { name?: unknown; code?: unknown; cause?: { code?: unknown } } | null;
  if (err?.name === "TimeoutError" || err?.name === "AbortError") {
    return `webhook did not answer within ${timeoutMs / 1000} s`;
  }
  const code =
    typeof err?.code === "string"
      ? err.code
      : typeof err?.cause?.code === "string"
        ? err.cause.code
        : "network error";
  return `webhook unreachable: ${code}`;
}
