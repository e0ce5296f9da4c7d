/**
 * Email channel: plain-text mail through nodemailer over SMTP_URL (`smtp://` or `smtps://`, with
 * optional `user:password@`), from `latchkey <no-reply@{PUBLIC_URL host}>`.
 *
 * Decision: without SMTP_URL, email notifications are still enqueued (the recipients are part of
 * the account's settings, which the server does not second-guess) and fail permanently at their
 * first attempt with "SMTP_URL is not set", which the `notification.failed` audit event shows to
 * the account's admins.
 *
 * nodemailer is loaded on the first send, not at start: a server without mail to send never loads it.
 *
 * Secrets: SMTP credentials live in the URL and never reach an error, a log line or the outbox row
 * (errors are reduced to SMTP codes and server replies). Messages carry no token.
 */
import type { Transporter } from "nodemailer";
import type { NotifyDeps } from "./deps.js";
import { emailText } from "./messages.js";
import { describeError, type Sender, type SendOutcome } from "./outbox.js";

export const NO_SMTP = "SMTP_URL is not set: this server sends no email";

/** A plain-text mail to one address (a password reset link, say), outside the outbox. */
export interface PlainMail {
  to: string;
  subject: string;
  text: string;
}

export interface EmailSender extends Sender {
  sendText(mail: PlainMail): Promise<SendOutcome>;
  close(): void;
}

export function createEmailSender(deps: Pick<NotifyDeps, "smtpUrl" | "publicUrl">): EmailSender {
  const { smtpUrl, publicUrl } = deps;
  if (!smtpUrl) {
    return {
      send: async () => ({ ok: false, error: NO_SMTP, permanent: true }),
      sendText: async () => ({ ok: false, error: NO_SMTP, permanent: true }),
      close() {},
    };
  }
  const url = smtpUrl;
  const from = { name: "latchkey", address: `no-reply@${new URL(publicUrl).hostname}` };
  let transport: Promise<Transporter> | undefined;
  let closed = false;

  async function connect(): Promise<Transporter> {
    const { createTransport } = await import("nodemailer");
    const created = createTransport({
      url,
      // nodemailer waits minutes by default; a pass must not hang on a dead mail server.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    // Closed while nodemailer was loading: release what was just created.
    if (closed) created.close();
    return created;
  }

  /** One transport for the sender's life; a failed load is not kept, so the next send tries again. */
  function mailer(): Promise<Transporter> {
    transport ??= connect().catch((error: unknown) => {
      transport = undefined;
      throw error;
    });
    return transport;
  }

  async function sendText({ to, subject, text }: PlainMail): Promise<SendOutcome> {
    try {
      await (await mailer()).sendMail({ from, to, subject, text });
      return { ok: true };
    } catch (error) {
      return { ok: false, error: smtpError(error, url) };
    }
  }

  return {
    send(notification): Promise<SendOutcome> {
      const { subject, text } = emailText(notification, publicUrl);
      return sendText({ to: notification.target, subject, text });
    },
    sendText,
    close() {
      closed = true;
      void transport?.then(
        (created) => created.close(),
        () => {},
      );
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
