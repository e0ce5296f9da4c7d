import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_DOCS, secretProblem } from "../src/config.js";

const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");

describe("README", () => {
  it("documents every setting with its default, and nothing else", () => {
    const rows = readme
      .split("\n")
      .filter((line) => /^\| `[A-Z_]+` \|/.test(line))
      .map((line) => line.split("|").map((cell) => cell.trim()));
    const documented = new Map(
      rows.map((cells) => [cells[1]?.replaceAll("`", ""), cells[2]?.replaceAll("`", "")]),
    );
    expect([...documented.keys()].sort()).toEqual(CONFIG_DOCS.map((doc) => doc.name).sort());
    for (const doc of CONFIG_DOCS) expect(documented.get(doc.name), doc.name).toBe(doc.default || "—");
  });

  it("gives the two quick-start commands", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm test");
  });

  it("shows how to make a LATCHKEY_SECRET, with a command whose output the rule accepts", () => {
    expect(readme).toContain("openssl rand -hex 32");
    const code = /node -e "([^"]+)"/.exec(readme)?.[1];
    expect(code).toBeDefined();
    const made = execFileSync(process.execPath, ["-e", code ?? ""], { encoding: "utf8" }).trim();
    expect(made).toMatch(/^[0-9a-f]{64}$/);
    expect(secretProblem(made)).toBeUndefined();
  });
});
