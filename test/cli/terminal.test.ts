import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/cli/output.js";
import type { Input, Terminal } from "../../src/cli/remote/context.js";
import { createProgress, patternCounter, suggestedName } from "../../src/cli/remote/download.js";
import { confirmOrRefuse, Declined, promptHidden } from "../../src/cli/remote/prompt.js";

function fakeTerminal(isTTY: boolean) {
  const modes: boolean[] = [];
  const stdin = Object.assign(new PassThrough(), {
    isTTY,
    setRawMode(mode: boolean) {
      modes.push(mode);
    },
  }) as PassThrough & Input;
  let written = "";
  const stderr = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        written += String(chunk);
        done();
      },
    }),
    { isTTY, columns: 60 },
  ) as Writable & Terminal;
  return { stdin, stderr, modes, written: () => written };
}

describe("promptHidden", () => {
  it("reads a line with echo off and restores the terminal", async () => {
    const term = fakeTerminal(true);
    const answer = promptHidden(term, "appToken: ");
    term.stdin.write("lkt_sec");
    term.stdin.write("ret\r");
    await expect(answer).resolves.toBe("lkt_secret");
    expect(term.modes).toEqual([true, false]);
    expect(term.written()).toBe("appToken: \n");
  });

  it("turns echo off before the question shows", async () => {
    const term = fakeTerminal(true);
    const answer = promptHidden(term, "appToken: ");
    expect(term.modes).toEqual([true]);
    term.stdin.write("x\n");
    await answer;
  });

  it("handles backspace, and gives up on Ctrl-C", async () => {
    const term = fakeTerminal(true);
    const answer = promptHidden(term, "? ");
    term.stdin.write("abx\u007fc\r");
    await expect(answer).resolves.toBe("abc");
    const again = fakeTerminal(true);
    const interrupted = promptHidden(again, "? ");
    again.stdin.write("ab\u0003");
    await expect(interrupted).rejects.toThrow(Declined);
    expect(again.modes).toEqual([true, false]);
  });
});

describe("confirmOrRefuse", () => {
  it("passes with --yes without asking", async () => {
    const term = fakeTerminal(false);
    await confirmOrRefuse(term, true, "Delete?", "deleting a key");
    expect(term.written()).toBe("");
  });

  it("refuses off a terminal: nobody is there to answer", async () => {
    const term = fakeTerminal(false);
    await expect(confirmOrRefuse(term, undefined, "Delete?", "deleting a key")).rejects.toThrow(UsageError);
  });

  it("asks on a terminal and goes on only on yes", async () => {
    const yes = fakeTerminal(true);
    const asked = confirmOrRefuse(yes, undefined, "Delete key X?", "deleting a key");
    yes.stdin.write("yes\n");
    await expect(asked).resolves.toBeUndefined();
    expect(yes.written()).toBe("Delete key X? [y/N] ");
    for (const answer of ["n\n", "\n", "sure\n"]) {
      const no = fakeTerminal(true);
      const refused = confirmOrRefuse(no, undefined, "Delete key X?", "deleting a key");
      no.stdin.write(answer);
      await expect(refused).rejects.toThrow(Declined);
    }
  });
});

describe("progress", () => {
  it("draws nothing when stderr is not a terminal", () => {
    const term = fakeTerminal(false);
    const progress = createProgress(term.stderr, "Exporting", { count: 10, noun: "keys" });
    progress.update(100, 5);
    progress.finish();
    expect(term.written()).toBe("");
  });

  it("draws a bar of rows and bytes on a terminal, at most every 100 ms, and erases it", () => {
    const term = fakeTerminal(true);
    let now = 0;
    const progress = createProgress(term.stderr, "Exporting", { count: 4, noun: "keys" }, () => now);
    progress.update(1500, 1);
    progress.update(1600, 2);
    now = 150;
    progress.update(2500, 2);
    progress.finish();
    const draws = term.written().split("\r\u001b[2K");
    expect(draws).toEqual([
      "",
      `Exporting  [${"#".repeat(6)}${"-".repeat(18)}]  1/4 keys  1.5 kB`,
      `Exporting  [${"#".repeat(12)}${"-".repeat(12)}]  2/4 keys  2.5 kB`,
      "",
    ]);
  });

  it("shows bytes alone when the number of rows is unknown", () => {
    const term = fakeTerminal(true);
    const progress = createProgress(term.stderr, "Exporting", undefined, () => 0);
    progress.update(2_000_000, 0);
    expect(term.written()).toBe("\r\u001b[2KExporting  2.0 MB");
  });
});

describe("patternCounter", () => {
  it("counts occurrences across chunk edges, each once", () => {
    const count = patternCounter('{"id":');
    const text = '[{"id":1},{"id":2},{"id":3}]';
    let total = 0;
    for (let at = 0; at < text.length; at += 3) total += count(Buffer.from(text.slice(at, at + 3)));
    expect(total).toBe(3);
    const lines = patternCounter("\r\n");
    expect(lines(Buffer.from("a\r")) + lines(Buffer.from("\nb\r\n"))).toBe(2);
  });
});

describe("suggestedName", () => {
  const response = (disposition: string) =>
    new Response("", { headers: { "content-disposition": disposition } });

  it("takes the server's file name, reduced to a plain name here", () => {
    expect(suggestedName(response('attachment; filename="latchkey-acme-keys-2026-11-26.csv"'), "f")).toBe(
      "latchkey-acme-keys-2026-11-26.csv",
    );
    expect(suggestedName(response('attachment; filename="../../etc/passwd"'), "f")).toBe("passwd");
    expect(suggestedName(response('attachment; filename=".bashrc"'), "fallback.csv")).toBe("fallback.csv");
    expect(suggestedName(new Response(""), "fallback.csv")).toBe("fallback.csv");
  });
});
