import { statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, serve } from "./process.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-startup-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("start-up checks", () => {
  it("refuses to start with bad settings, naming every bad variable (exit 2)", async () => {
    const res = await runCli(["serve"], {
      DATA_DIR: dir,
      PORT: "eighty",
      KEY_PREFIX: "Bad-Prefix",
      JWT_TTL: "3d",
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/PORT/);
    expect(res.stderr).toMatch(/KEY_PREFIX/);
    expect(res.stderr).toMatch(/JWT_TTL/);
  });

  it("refuses to start on a bad catalog, naming file, line and problem (exit 1)", async () => {
    const file = join(dir, "bad-catalog.yaml");
    await writeFile(
      file,
      [
        "products:",
        "  - name: Shop",
        "    categories:",
        "      - name: Things",
        "        resources:",
        "          - { key: ViewThings, id: 7000001, name: View things, routes: [{ methods: [FETCH], path: /x }] }",
        "",
      ].join("\n"),
    );
    const res = await runCli(["serve"], { DATA_DIR: dir, CATALOG_FILE: file, PORT: "1" });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("bad-catalog.yaml:6");
    expect(res.stderr).toMatch(/FETCH|method/i);
  });

  it("generates the secret file with mode 0600 in embedded mode", async () => {
    const dataDir = join(dir, "fresh");
    const server = await serve({ DATA_DIR: dataDir, LATCHKEY_SECRET: "" });
    try {
      expect(statSync(join(dataDir, "secret")).mode & 0o777).toBe(0o600);
      expect(statSync(join(dataDir, "latchkey.db")).isFile()).toBe(true);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
