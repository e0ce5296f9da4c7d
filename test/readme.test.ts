import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_DOCS, secretProblem } from "../src/config.js";
import { createHarness } from "./support/harness.js";

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

  it("serves every VTEX path the Coming from VTEX section lists as answered", async () => {
    const rows = readme
      .split("\n")
      .map((line) => /^\| `(GET|POST|PUT|PATCH|DELETE) (\/api\/[^` ?]+)/.exec(line))
      .filter((match) => match !== null)
      .map((match) => `${match[1]} ${match[2]?.replace(/\{([^}]+)\}/g, ":$1")}`);
    expect(rows.length).toBeGreaterThanOrEqual(17);
    const h = await createHarness();
    try {
      const mounted = new Set(h.app.routes.map((route) => `${route.method} ${route.path}`));
      const canonical = (route: string) => route.replace(/:[A-Za-z]+/g, ":p");
      const known = new Set([...mounted].map(canonical));
      for (const row of rows) expect(known.has(canonical(row)), row).toBe(true);
    } finally {
      await h.close();
    }
  });
});
