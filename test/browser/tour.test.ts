/**
 * Every screen of the admin, with realistic data, at 1280×800 and at a 390 px phone width: no
 * console error, no sideways scrolling, no serious or critical axe-core violation. Saves a
 * screenshot of each; with UPDATE_DOCS_SCREENSHOTS=1 it also refreshes docs/screenshots/.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { callAs } from "../e2e/process.js";
import {
  axeSerious,
  DESKTOP,
  expectNoConsoleErrors,
  expectNoHorizontalScroll,
  PHONE,
  screenshot,
  setUpAdmin,
} from "./support.js";

const DOCS = join(import.meta.dirname, "..", "..", "docs", "screenshots");
const MONTH = 30 * 86_400_000;

const lk = setUpAdmin();
let detailKey = "";
const tokens: string[] = [];

interface Issued {
  key: { appKey: string; id: string };
  appToken: string;
}

beforeAll(seed, 120_000);

async function seed() {
  const acme = `/v1/accounts/${lk.admin.owner.account}`;
  const roles = (await lk.admin.api<{ items: { id: number; name: string }[] }>("GET", `${acme}/roles`)).items;
  const role = (name: string) => roles.find((entry) => entry.name.includes(name))?.id;
  const pick = (...names: string[]) => names.map(role).filter((id): id is number => id !== undefined);
  const keys: Record<string, Issued> = {};
  for (const [name, grant] of [
    ["ERP connector", pick("OMS - Full")],
    ["Marketing sync", pick("Catalog")],
    ["Partner storefront", pick("OMS - Read")],
    ["Legacy warehouse bridge", pick("Logistics")],
    ["Old pricing feed", []],
  ] as const) {
    keys[name] = await lk.admin.api<Issued>("POST", `${acme}/keys`, { name, roles: grant });
  }
  tokens.push(...Object.values(keys).map((issued) => issued.appToken));
  const erp = keys["ERP connector"] as Issued;
  detailKey = erp.key.appKey;
  await lk.admin.api("PATCH", `${acme}/keys/${keys["Partner storefront"]?.key.appKey}`, { active: false });
  await lk.admin.api("POST", `${acme}/keys/${keys["Marketing sync"]?.key.appKey}/renewal`, {});
  await lk.admin.api("POST", `${acme}/roles`, {
    name: "Integrations auditor",
    resources: ["ViewApiKeys", "ViewAuditLog"],
  });
  await lk.admin.addUser("ops@acme.test", pick("User Administrator"));

  const partner = await lk.admin.addAccount("globex");
  const shared = await callAs(lk.admin.url, partner, "POST", "/v1/accounts/globex/keys", {
    name: "Globex marketplace",
  });
  const sharedKey = (shared.json as Issued).key.appKey;
  await lk.admin.api("POST", `${acme}/external-keys`, { appKey: sharedKey, roles: pick("OMS - Read") });

  // Traffic for the usage chart: allowed and denied verifications.
  for (let i = 0; i < 12; i++) {
    await lk.admin.api("POST", "/v1/verify", {
      appKey: erp.key.appKey,
      appToken: erp.appToken,
      ...(i % 4 === 3 ? { resource: "EditApiKeys" } : {}),
    });
  }

  // Usage is written in batches every few seconds; the chart should show it.
  const usagePath = `${acme}/keys/${erp.key.appKey}/usage?days=30`;
  for (let waited = 0; ; waited += 500) {
    const usage = await lk.admin.api<{ total: { ok: number } }>("GET", usagePath);
    if (usage.total.ok > 0) break;
    if (waited > 20_000) throw new Error("usage was not written within 20 s");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  // Ageing tokens needs a clock the API does not offer: move two keys' token dates back.
  const db = new Database(join(lk.admin.dataDir, "latchkey.db"));
  const age = (appKey: string | undefined, months: number) => {
    const at = Date.now() - months * MONTH;
    const row = db.prepare("select id from keys where app_key = ?").get(appKey) as { id: string };
    db.prepare("update keys set token_created_at = ?, created_at = ? where id = ?").run(at, at, row.id);
    db.prepare("update tokens set created_at = ? where key_id = ?").run(at, row.id);
  };
  age(keys["Legacy warehouse bridge"]?.key.appKey, 4);
  age(keys["Old pricing feed"]?.key.appKey, 8);
  db.close();
}

async function settle(page: Page) {
  await page.waitForLoadState("networkidle");
  await expect.poll(() => page.locator(".state-loading").count(), { timeout: 10_000 }).toBe(0);
}

const SCREENS = [
  { name: "keys", path: ["keys"], docs: true },
  { name: "keys-external", path: ["keys", "external"], docs: false },
  { name: "keys-settings", path: ["keys", "settings"], docs: true },
  { name: "key-detail", path: ["key", "#detail"], docs: true },
  { name: "roles", path: ["roles"], docs: false },
  { name: "users", path: ["users"], docs: false },
  { name: "audit", path: ["audit"], docs: true },
];

describe("a tour of every screen", () => {
  for (const viewport of [DESKTOP, PHONE]) {
    it(`at ${viewport.width}×${viewport.height}: no console error, no sideways scroll, no serious axe violation`, async () => {
      const { context, page } = await lk.ownerPage(viewport);
      for (const screen of SCREENS) {
        const path = screen.path.map((part) => (part === "#detail" ? detailKey : part));
        await page.goto(
          `${lk.admin.url}/admin/${lk.admin.owner.account}/${path.map(encodeURIComponent).join("/")}`,
        );
        await settle(page);
        await expect.poll(() => page.locator("h1").count()).toBeGreaterThan(0);
        await expectNoHorizontalScroll(page);
        expect(await axeSerious(page), screen.name).toEqual([]);
        const shot = await screenshot(page, `tour-${screen.name}-${viewport.width}`);
        if (process.env.UPDATE_DOCS_SCREENSHOTS && (screen.docs || screen.name === "keys")) {
          mkdirSync(DOCS, { recursive: true });
          const phone = viewport.width < 720;
          if (!phone || screen.name === "keys")
            copyFileSync(shot, join(DOCS, `${screen.name}${phone ? "-phone" : ""}.png`));
        }
      }
      // The seeded states show as badges on the Generated tab.
      await page.goto(`${lk.admin.url}/admin/${lk.admin.owner.account}/keys`);
      await settle(page);
      const text = (await page.locator("main").textContent()) ?? "";
      expect(text).toMatch(/pending deletion/i);
      expect(text).toMatch(/overdue|red/i);
      expect(text).toMatch(/inactive/i);
      expectNoConsoleErrors(page);
      await context.close();
    }, 120_000);
  }

  it("leaves no token in the server's log or database file after the tour", async () => {
    expect(tokens.length).toBeGreaterThan(0);
    const log = lk.admin.server.log();
    const file = join(lk.admin.dataDir, "latchkey.db");
    const db = [file, `${file}-wal`]
      .filter((path) => existsSync(path))
      .map((path) => readFileSync(path, "latin1"))
      .join("\n");
    for (const token of tokens) {
      expect(log).not.toContain(token);
      expect(db).not.toContain(token);
    }
  });
});
