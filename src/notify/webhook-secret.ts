/**
 * A webhook's signing secret, opened for signing a delivery. The settings service sealed it
 * (services/settings.ts: AES-256-GCM under LATCHKEY_SECRET, purpose "webhook-secret", bound to the
 * account and the webhook id). The plaintext lives only while a delivery is signed: never logged,
 * stored or put in an error.
 */
import { WEBHOOK_SECRET_PURPOSE, type WebhookSetting, webhookSecretContext } from "../core/settings.js";
import { createSealer } from "../crypto/sealing.js";

/** Undefined when the sealed value does not open (tampered with, moved to another webhook or account). */
export function openWebhookSecret(
  deps: { secret: string },
  account: string,
  webhook: Pick<WebhookSetting, "id" | "sealedSecret">,
): string | undefined {
  const sealer = createSealer(deps.secret, WEBHOOK_SECRET_PURPOSE);
  return sealer.open(webhook.sealedSecret, webhookSecretContext(account, webhook.id));
}
