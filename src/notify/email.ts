/**
 * Email channel: plain-text mail through nodemailer over SMTP_URL (`smtp://` or `smtps://`, with
 * optional `user:password@`), from `latchkey <no-reply@{PUBLIC_URL host}>`.
 *
 * Decision: without SMTP_URL, email notifications are still enqueued (the recipients are part of
 * the account's settings, which the server does not second-guess) and fail permanently at their
 * first attempt with "SMTP_URL is not set", which the `notification.failed` audit event shows to
 * the account's admins.
 *
 * Secrets: SMTP credentials live in the URL and never reach an error, a log line or the outbox row
 * (errors are reduced to SMTP codes and server replies). Messages carry no token.
 */
import { createTransport } from "nodemailer";
import type { NotifyDeps } from "./deps.js";
import { emailText } from "./messages.js";
import { describeError, type Sender, type SendOutcome } from "./outbox.js";

export const NO_SMTP = "SMTP_URL is not set: this server sends no email";

export interface EmailSender extends Sender {
  close(): void;
}

export function createEmailSender(deps: Pick<NotifyDeps, "smtpUrl" | "publicUrl">): EmailSender {
  const { smtpUrl, publicUrl } = deps;
  if (!smtpUrl) {
    return {
      send: async () => ({ ok: false, error: NO_SMTP, permanent: true }),
      close() {},
    };
  }
  const transport = createTransport({
    url: smtpUrl,
    // nodemailer waits minutes by default; a pass must not hang on a dead mail server.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  const from = { name: "latchkey", address: `no-reply@${new URL(publicUrl).hostname}` };
  return {
    async send(notification): Promise<SendOutcome> {
      const { subject, text } = emailText(notification, publicUrl);
      try {
        await transport.sendMail({ from, to: notification.target, subject, text });
        return { ok: true };
      } catch (error) {
        return { ok: false, error: smtpError(error, smtpUrl) };
      }
    },
    close() {
      transport.close();
    },
  };
}

function smtpError(error: unknown, smtpUrl: string): string {
  const message = describeError(error);
  const { password } = new URL(smtpUrl);
  let plain = password;
  try {
    plain = decodeURIComponent(password);
  } catch {
    // A malformed escape: nodemailer used the raw text, so mask that.
  }
  return plain ? message.replaceAll(plain, "[redacted]").replaceAll(password, "[redacted]") : message;
}
