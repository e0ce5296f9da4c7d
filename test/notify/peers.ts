/**
 * Real peers on loopback for the notifier's tests: an SMTP server (smtp-server) that keeps every
 * mail it receives, and a node:http webhook receiver that verifies each delivery's signature the
 * way a real receiver should (HMAC over the raw body, 5-minute window) and answers what the test
 * scripts.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { verifySignature } from "../../src/notify/signature.js";

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  raw: string;
}

export interface SmtpPeer {
  url: string;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

/** `acceptAfterMs`: each connection waits that long before it is accepted (a slow mail server). */
export async function startSmtp(options: { acceptAfterMs?: number } = {}): Promise<SmtpPeer> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    onConnect(_session, callback) {
      setTimeout(() => callback(), options.acceptAfterMs ?? 0);
    },
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
        mails.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw, ...parseMail(raw) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Just enough MIME for nodemailer's plain-text mails: unfolded headers, QP or 7bit body. */
function parseMail(raw: string): { subject: string; text: string; headers: string } {
  const split = raw.indexOf("\r\n\r\n");
  const headers = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
  const body = raw.slice(split + 4);
  const subject = decodeWords(/^Subject: (.*)$/im.exec(headers)?.[1] ?? "");
  const qp = /^Content-Transfer-Encoding: quoted-printable/im.test(headers);
  const text = qp ? decodeQuotedPrintable(body) : body;
  return { subject, text: text.replace(/\r\n/g, "\n"), headers };
}

/** RFC 2047 encoded words (nodemailer uses them for long or quoted subjects). */
function decodeWords(header: string): string {
  return header
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?UTF-8\?([QB])\?([^?]*)\?=/gi, (_, kind: string, text: string) =>
      kind.toUpperCase() === "B"
        ? Buffer.from(text, "base64").toString("utf8")
        : decodeQuotedPrintable(text.replace(/_/g, " ")),
    );
}

function decodeQuotedPrintable(body: string): string {
  const bytes = body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => `%${hex}`);
  return decodeURIComponent(bytes.replace(/%(?![0-9A-F]{2})/g, "%25"));
}

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON shapes
  json: any;
  /** The signature matched the secret and its timestamp was within 5 minutes of the receiver's clock. */
  verified: boolean;
  status: number;
}

export interface WebhookPeer {
  url: string;
  deliveries: Delivery[];
  /** The status to answer; 200 unless a test changes it. */
  respond: (delivery: Omit<Delivery, "status">) => number;
  close(): Promise<void>;
}

export async function startReceiver(secret: string, nowMs: () => number): Promise<WebhookPeer> {
  const peer: WebhookPeer = { url: "", deliveries: [], respond: () => 200, close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const signature = String(req.headers["x-latchkey-signature"] ?? "");
      const verified = verifySignature(secret, body, signature, Math.floor(nowMs() / 1000));
      const received = { headers: req.headers, body, json: JSON.parse(body), verified };
      const status = verified ? peer.respond(received) : 401;
      peer.deliveries.push({ ...received, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  peer.url = `http://127.0.0.1:${port}/hooks/latchkey`;
  peer.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return peer;
}
