/**
 * Every command of the real `latchkey` program answers --help with exit 0: the tree is walked from
 * the top-level help, each command's help listing its subcommands. In process (through `run`, as
 * bin/latchkey.mjs calls it) since spawning the binary ~50 times would cost a minute of CPU.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "../../src/cli/index.js";

async function help(path: string[]): Promise<{ code: number; text: string }> {
  let text = "";
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    text += String(chunk);
    return true;
  });
  try {
    return { code: await run([...path, "--help"]), text };
  } finally {
    write.mockRestore();
  }
}

/** The names in a help text's Commands section, without the implicit `help`. */
function subcommands(text: string): string[] {
  const lines = text.split("\n");
  const start = lines.indexOf("Commands:");
  if (start === -1) return [];
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "") break;
    const name = /^ {2}([a-z][\w-]*)/.exec(line)?.[1];
    if (name && name !== "help") names.push(name);
  }
  return names;
}

const REMOTE = [
  ...["list", "create", "show", "activate", "deactivate", "roles", "renew"].map((c) => `keys ${c}`),
  ...["complete-renewal", "undo-renewal", "delete", "export", "review"].map((c) => `keys ${c}`),
  ...["list", "add", "roles", "remove"].map((c) => `external ${c}`),
  ...["list", "create", "delete"].map((c) => `roles ${c}`),
  ...["list", "create", "roles", "delete"].map((c) => `users ${c}`),
  "settings get",
  "settings set",
  ...["list", "export", "verify"].map((c) => `audit ${c}`),
];

describe("latchkey --help", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("works on every command, and the remote commands of SPEC §8 are all there", async () => {
    const seen: string[] = [];
    const queue: string[][] = [[]];
    for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
      const { code, text } = await help(path);
      expect(code, path.join(" ")).toBe(0);
      expect(text, path.join(" ")).toMatch(new RegExp(`^Usage: ${["latchkey", ...path].join(" ")} `));
      seen.push(path.join(" "));
      for (const name of subcommands(text)) queue.push([...path, name]);
    }
    expect(seen).toEqual(expect.arrayContaining([...REMOTE, "serve", "init", "migrate", "alerts run"]));
  });

  it("shows the connection options and prefers the environment for the token", async () => {
    const { text } = await help(["keys", "create"]);
    expect(text).toContain("--url <url>");
    expect(text).toContain("--app-key <appKey>");
    expect(text).toMatch(/--app-token <appToken> +prefer LATCHKEY_APPTOKEN/);
    expect(text).toContain("--account <account>");
    expect(text).toContain("--role <id>");
  });
});
