/**
 * Dependencies run one way: http → services → core, storage, verify (with audit, notify and crypto
 * below services). This test reads every import in src/ (static, `export … from`, `import type`
 * and dynamic `import()`) and fails on an edge the table below does not allow. README.md
 * (Architecture) shows the same table.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "..", "src");

/**
 * Each layer and the layers it may import (besides itself). main.ts and server.ts, the composition
 * root, may import any.
 */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  crypto: [],
  /** The typed client shipped as latchkey/client: it stands alone, so integrators get none of the server. */
  client: [],
  metrics: [],
  config: ["core"],
  log: ["config"],
  catalog: ["core"],
  storage: ["core", "crypto"],
  audit: ["core", "storage"],
  verify: ["core", "crypto", "storage"],
  notify: ["core", "crypto", "storage", "audit", "verify"],
  services: ["core", "crypto", "storage", "audit", "verify", "notify", "metrics"],
  http: ["core", "services"],
  cli: ["core", "config", "log", "main", "services", "notify", "verify", "client"],
};

/** The layer of a file under src/: its folder, or for a top-level file the layer it belongs to. */
function layerOf(file: string): string {
  const [top = ""] = relative(SRC, file).split("/");
  const topFiles: Record<string, string> = {
    "main.ts": "main",
    "server.ts": "main",
    "cluster.ts": "main",
    "config.ts": "config",
    "secret.ts": "config",
    "log.ts": "log",
    "metrics.ts": "metrics",
  };
  return topFiles[top] ?? top;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|(?:^|[\s;])import\s*["']([^"']+)["']/g;

/** Every module a file imports, as written. */
function importsOf(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((match) => match[1] ?? match[2] ?? match[3] ?? "");
}

interface Edge {
  file: string;
  from: string;
  to: string;
  specifier: string;
}

function edges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) =>
    importsOf(readFileSync(file, "utf8"))
      .filter((specifier) => specifier.startsWith("."))
      .map((specifier) => ({
        file: relative(SRC, file),
        from: layerOf(file),
        to: layerOf(resolve(dirname(file), specifier.replace(/\.js$/, ".ts"))),
        specifier,
      })),
  );
}

describe("import directions", () => {
  it("reads imports of every form", () => {
    const text = [
      'import { a } from "../core/a.js";',
      'import type { B } from "../storage/b.js";',
      'export { c } from "./c.js";',
      "import {\n  d,\n  e,\n} from '../verify/d.js';",
      'const f = await import("../notify/f.js");',
      'import "./side-effect.js";',
    ].join("\n");
    expect(importsOf(text)).toEqual([
      "../core/a.js",
      "../storage/b.js",
      "./c.js",
      "../verify/d.js",
      "../notify/f.js",
      "./side-effect.js",
    ]);
  });

  it("every file under src/ is in a known layer", () => {
    const known = new Set([...Object.keys(ALLOWED), "main"]);
    const unknown = sourceFiles(SRC).filter((file) => !known.has(layerOf(file)));
    expect(unknown.map((file) => relative(SRC, file))).toEqual([]);
  });

  it("no import goes against the allowed directions", () => {
    const all = edges();
    expect(all.length).toBeGreaterThan(300);
    const forbidden = all
      .filter(({ from, to }) => from !== to && from !== "main" && !ALLOWED[from]?.includes(to))
      .map(({ file, specifier, from, to }) => `${file}: ${from} → ${to} (${specifier})`);
    expect(forbidden).toEqual([]);
  });

  it("core imports no Node.js module", () => {
    const core = sourceFiles(join(SRC, "core"));
    const nodeImports = core.flatMap((file) =>
      importsOf(readFileSync(file, "utf8"))
        .filter((specifier) => specifier.startsWith("node:"))
        .map((specifier) => `${relative(SRC, file)}: ${specifier}`),
    );
    expect(nodeImports).toEqual([]);
  });
});
