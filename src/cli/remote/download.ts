/**
 * Exports to a file: the response body streams to a temporary file next to the target, which is
 * renamed over the target only once the whole body arrived. A download that breaks off leaves no
 * file behind, never a truncated one that looks complete. A progress line is drawn on stderr when
 * it is a terminal, and nowhere otherwise.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { type Query, TransportError } from "../client.js";
import { formatBytes } from "../table.js";
import type { Remote, Terminal } from "./context.js";

export interface Progress {
  update(bytes: number, rows: number): void;
  finish(): void;
}

const BAR = 24;
const REDRAW_MS = 100;

/**
 * `label  [#####-------]  812/1,234 keys  1.2 MB` when the number of rows is known, else
 * `label  1.2 MB`; redrawn at most every 100 ms; erased by `finish`.
 */
export function createProgress(
  stream: Terminal,
  label: string,
  totalRows?: { count: number; noun: string },
  now: () => number = Date.now,
): Progress {
  if (!stream.isTTY) return { update() {}, finish() {} };
  let last = Number.NEGATIVE_INFINITY;
  let drawn = false;
  const number = new Intl.NumberFormat("en");
  return {
    update(bytes, rows) {
      if (now() - last < REDRAW_MS) return;
      last = now();
      const parts = [label];
      if (totalRows && totalRows.count > 0) {
        const done = Math.min(rows, totalRows.count);
        const filled = Math.round((done / totalRows.count) * BAR);
        parts.push(`[${"#".repeat(filled)}${"-".repeat(BAR - filled)}]`);
        parts.push(`${number.format(done)}/${number.format(totalRows.count)} ${totalRows.noun}`);
      }
      parts.push(formatBytes(bytes));
      const line = parts.join("  ").slice(0, Math.max(20, (stream.columns || 80) - 1));
      stream.write(`\r\u001b[2K${line}`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write("\r\u001b[2K");
    },
  };
}

/** Counts the occurrences of `pattern` in a byte stream fed chunk by chunk, across chunk edges. */
export function patternCounter(pattern: string): (chunk: Uint8Array) => number {
  const needle = Buffer.from(pattern);
  let tail = Buffer.alloc(0);
  return (chunk) => {
    const text = Buffer.concat([tail, chunk]);
    let count = 0;
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) count++;
    tail = text.subarray(Math.max(0, text.length - (needle.length - 1)));
    return count;
  };
}

/** The server's file name (`Content-Disposition`), reduced to a plain name in the current directory. */
export function suggestedName(response: Response, fallback: string): string {
  const header = response.headers.get("content-disposition") ?? "";
  const name = /filename="?([^";]+)"?/i.exec(header)?.[1];
  const plain = name ? basename(name).replace(/[^A-Za-z0-9._-]/g, "_") : "";
  return plain && !plain.startsWith(".") ? plain : fallback;
}

export interface DownloadRequest {
  path: string;
  query: Query;
  /** A file path, `-` for stdout, or undefined for the server's file name. */
  output: string | undefined;
  fallbackName: string;
  label: string;
  /** How to count rows in the body, and how many to expect (for the progress bar). */
  rows?: { count: (chunk: Uint8Array) => number; total: number | undefined; noun: string };
}

export interface Downloaded {
  /** Absolute path of the file written, or null when it went to stdout. */
  file: string | null;
  bytes: number;
}

export async function download(remote: Remote, request: DownloadRequest): Promise<Downloaded> {
  const response = await remote.client.download(request.path, request.query);
  if (!response.body) throw new TransportError("DOWNLOAD_FAILED", "the server sent no body");
  const total = request.rows?.total;
  const progress = createProgress(
    remote.io.stderr,
    request.label,
    total === undefined ? undefined : { count: total, noun: request.rows?.noun ?? "rows" },
  );
  let bytes = 0;
  let rows = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      rows += request.rows?.count(chunk) ?? 0;
      progress.update(bytes, rows);
      done(null, chunk);
    },
  });
  const source = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  try {
    if (request.output === "-") {
      await pipeline(source, meter, remote.io.stdout, { end: false });
      return { file: null, bytes };
    }
    const target = resolve(request.output ?? suggestedName(response, request.fallbackName));
    await writeAtomically(target, source, meter);
    return { file: target, bytes };
  } catch (error) {
    throw brokenOff(error, remote.client.baseUrl, request.output === "-");
  } finally {
    progress.finish();
  }
}

async function writeAtomically(target: string, source: Readable, meter: Transform): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.part`);
  try {
    await pipeline(source, meter, createWriteStream(temp, { flags: "wx" }));
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** A file-system error keeps its own message; anything else is the transfer breaking off. */
function brokenOff(error: unknown, baseUrl: string, toStdout: boolean): unknown {
  if (error instanceof Error && "syscall" in error) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const outcome = toStdout ? "the output is incomplete" : "no file was written";
  return new TransportError(
    "DOWNLOAD_FAILED",
    `the download from ${baseUrl} broke off (${reason}); ${outcome}`,
  );
}
