import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// The benchmarks must run from a clone alone: nothing under bench/ may reach outside the
// repository, and what latchkey is compared with (bench/peers/) brings its own pinned packages.
const ROOT = resolve(import.meta.dirname, "..");
const BENCH = join(ROOT, "bench");
const PEERS = join(BENCH, "peers");
const SKIPPED = new Set(["node_modules", "results"]);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name)) return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}
const benchFiles = filesUnder(BENCH).filter((file) => !file.endsWith("package-lock.json"));
const json = (path: string) => JSON.parse(readFileSync(path, "utf8"));

describe("bench/ is self-contained", () => {
  it("names no folder outside the repository", () => {
    const outside = [/\.\.\/shared/, /\/work\//, /SHARED_BENCH/, /"shared",\s*"bench"/, /\/home\//];
    const found = benchFiles.flatMap((file) => {
      const text = readFileSync(file, "utf8");
      return outside.filter((re) => re.test(text)).map((re) => `${relative(ROOT, file)}: ${re}`);
    });
    expect(found).toEqual([]);
  });

  it("has every relative path in its files resolve inside the repository", () => {
    const escaping = benchFiles.flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/(?:\.\.\/)+[\w.-]*/g)]
        .map((m) => m[0])
        .filter((path) => relative(ROOT, resolve(dirname(file), path)).startsWith(".."))
        .map((path) => `${relative(ROOT, file)}: ${path}`),
    );
    expect(escaping).toEqual([]);
  });

  it("finds the targets the verification benchmark starts in bench/peers/", () => {
    for (const file of ["ceiling-server.mjs", "better-auth-server.mjs", "better-auth-seed.mjs"])
      expect(existsSync(join(PEERS, file)), file).toBe(true);
    expect(existsSync(join(BENCH, "verify-wrk.lua"))).toBe(true);
  });

  it("pins better-auth 1.7.5 with @better-auth/api-key 1.7.5 in bench/peers/ and its lock file", () => {
    const manifest = json(join(PEERS, "package.json"));
    expect(manifest.private).toBe(true);
    expect(manifest.dependencies["better-auth"]).toBe("1.7.5");
    expect(manifest.dependencies["@better-auth/api-key"]).toBe("1.7.5");
    // better-sqlite3 13 crashes on Node 20.
    expect(manifest.dependencies["better-sqlite3"]).toMatch(/^12\./);
    const lock = json(join(PEERS, "package-lock.json"));
    expect(lock.packages[""].dependencies).toEqual(manifest.dependencies);
    expect(lock.packages["node_modules/better-auth"].version).toBe("1.7.5");
    expect(lock.packages["node_modules/@better-auth/api-key"].version).toBe("1.7.5");
    for (const [name, version] of Object.entries(manifest.dependencies))
      expect(lock.packages[`node_modules/${name}`]?.version, name).toBe(version);
  });

  it("keeps the peers out of latchkey's own dependencies", () => {
    const manifest = json(join(ROOT, "package.json"));
    const own = { ...manifest.dependencies, ...manifest.devDependencies };
    for (const name of ["better-auth", "@better-auth/api-key", "autocannon"]) {
      expect(own[name], name).toBeUndefined();
      expect(json(join(ROOT, "package-lock.json")).packages[`node_modules/${name}`], name).toBeUndefined();
    }
  });

  it("starts latchkey servers with the Node flags of `npm start`, read from package.json", async () => {
    // @ts-expect-error: a benchmark module in plain JavaScript, without types
    const { SERVE_ARGS, SERVE_FLAGS } = (await import("../bench/lib.mjs")) as {
      SERVE_ARGS: string[];
      SERVE_FLAGS: string[];
    };
    const start: string = json(join(ROOT, "package.json")).scripts.start;
    expect(SERVE_FLAGS).toContain("--max-semi-space-size=4");
    expect(start).toContain(`node ${SERVE_FLAGS.join(" ")} bin/latchkey.mjs serve`);
    expect(SERVE_ARGS).toEqual([...SERVE_FLAGS, join(ROOT, "bin", "latchkey.mjs"), "serve"]);
  });

  it("says in bench/README.md how to get wrk and how to run the verification benchmark", () => {
    const readme = readFileSync(join(BENCH, "README.md"), "utf8");
    expect(readme).toContain("apt-get install -y wrk");
    expect(readme).toContain("npm run bench:verify");
  });
});
