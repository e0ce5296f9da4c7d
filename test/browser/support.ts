/**
 * Browser tests: a real `latchkey serve` (SQLite, on loopback) and Debian's Chromium driven by
 * playwright-core. Each test file starts its own server and browser with `setUpAdmin()`. Console errors
 * and failed requests are collected per page so a test can assert that none happened.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { callAs, runCli, type Served, serve } from "../e2e/process.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
export const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-artifacts", "screenshots");
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export interface Viewport {
  width: number;
  height: number;
}

export interface Bootstrap {
  account: string;
  email: string;
  password: string;
  appKey: string;
  appToken: string;
}

export interface Credentials {
  email: string;
  password: string;
}

export interface Role {
  id: number;
  name: string;
}

export interface Verdict {
  valid: boolean;
  allowed: boolean;
}

export interface Admin {
  url: string;
  server: Served;
  owner: Bootstrap;
  dataDir: string;
  /** Calls the API as the owner's bootstrap key; throws on a non-2xx answer. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Creates a user in the owner's account with the given role ids; returns its password. */
  addUser(email: string, roles: number[]): Promise<{ id: string; email: string; password: string }>;
  /** Runs `latchkey init` for another account (owner@ACCOUNT.test) in the same data directory. */
  addAccount(account: string): Promise<Bootstrap>;
  /** The owner's account's first role whose name starts with `prefix`; throws when there is none. */
  findRole(prefix: string): Promise<Role>;
  /** Asks POST /v1/verify, without credentials of its own, about the key and token in `body`. */
  verify(body: { appKey: string; appToken: string; resource?: string }): Promise<Verdict>;
  stop(): Promise<void>;
}

export async function startAdmin(env: Record<string, string> = {}): Promise<Admin> {
  const dataDir = mkdtempSync(join(tmpdir(), "latchkey-browser-"));
  const base = { DATA_DIR: dataDir, LOG_LEVEL: "info", ...env };
  const init = await runCli(
    ["init", "--account", "acme", "--email", "owner@acme.test", "--password", "owner password 1", "--json"],
    base,
  );
  if (init.code !== 0) throw new Error(`latchkey init failed: ${init.stderr}`);
  const owner = JSON.parse(init.stdout) as Bootstrap;
  const server = await serve(base);
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const answer = await callAs(server.url, owner, method, path, body);
    if (answer.status >= 300) throw new Error(`${method} ${path} → ${answer.status}: ${answer.text}`);
    return answer.json as T;
  };
  return {
    url: server.url,
    server,
    owner,
    dataDir,
    api,
    async addUser(email, roles) {
      const password = `pw ${email} 123`;
      const created = await api<{ user: { id: string; email: string } }>(
        "POST",
        `/v1/accounts/${owner.account}/users`,
        { email, password, roles },
      );
      return { ...created.user, password };
    },
    async addAccount(account) {
      const args = ["init", "--account", account, "--email", `owner@${account}.test`, "--json"];
      const added = await runCli(args, { DATA_DIR: dataDir });
      expect(added.code, added.stderr).toBe(0);
      return JSON.parse(added.stdout) as Bootstrap;
    },
    async findRole(prefix) {
      const { items } = await api<{ items: Role[] }>("GET", `/v1/accounts/${owner.account}/roles`);
      const role = items.find((entry) => entry.name.startsWith(prefix));
      if (!role) throw new Error(`no ${prefix} role`);
      return role;
    },
    async verify(body) {
      const response = await fetch(`${server.url}/v1/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return (await response.json()) as Verdict;
    },
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

export interface AdminUnderTest {
  /** The file's server; started by the time any later hook or test runs. */
  readonly admin: Admin;
  readonly browser: Browser;
  /** A fresh page (see openPage) signed in as `user`. */
  userPage(user: Credentials, viewport?: Viewport): Promise<Opened>;
  /** A fresh page (see openPage) signed in as the owner. */
  ownerPage(viewport?: Viewport): Promise<Opened>;
}

/**
 * Starts a server and a browser for the calling test file (beforeAll) and stops both afterwards
 * (afterAll). Hooks run in the order they are registered, so a file's own beforeAll registered after
 * this call (seeding data, say) runs once both are up; `env` may be a function, called in the hook,
 * when it depends on something an earlier hook starts.
 */
export function setUpAdmin(
  env: Record<string, string> | (() => Record<string, string>) = {},
): AdminUnderTest {
  let admin: Admin | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    // Each is kept as soon as it is up, so that afterAll closes it even when the other failed to start.
    await Promise.all([
      startAdmin(typeof env === "function" ? env() : env).then((started) => {
        admin = started;
      }),
      launchBrowser().then((launched) => {
        browser = launched;
      }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await admin?.stop();
  });
  const self: AdminUnderTest = {
    get admin(): Admin {
      if (!admin) throw new Error("setUpAdmin: no server yet (use it in a hook or a test)");
      return admin;
    },
    get browser(): Browser {
      if (!browser) throw new Error("setUpAdmin: no browser yet (use it in a hook or a test)");
      return browser;
    },
    async userPage(user: Credentials, viewport?: Viewport) {
      const opened = await openPage(self.browser, viewport ? { viewport } : {});
      await signIn(opened.page, self.admin.url, user.email, user.password);
      return opened;
    },
    ownerPage(viewport?: Viewport) {
      return self.userPage(self.admin.owner, viewport);
    },
  };
  return self;
}

export interface Problems {
  console: string[];
  page: string[];
  /** Requests the server answered with 4xx/5xx, as "STATUS METHOD path". */
  failed: string[];
}

const problems = new WeakMap<Page, Problems>();

export interface Opened {
  context: BrowserContext;
  page: Page;
}

/** A fresh context (own cookies) and page, watched for console errors and failed requests. */
export async function openPage(
  browser: Browser,
  options: { viewport?: Viewport; acceptDownloads?: boolean } = {},
): Promise<Opened> {
  const context = await browser.newContext({
    viewport: options.viewport ?? DESKTOP,
    acceptDownloads: options.acceptDownloads ?? true,
    permissions: ["clipboard-read", "clipboard-write"],
  });
  const page = await context.newPage();
  const seen: Problems = { console: [], page: [], failed: [] };
  problems.set(page, seen);
  page.on("console", (message) => {
    if (message.type() === "error") seen.console.push(message.text());
  });
  page.on("pageerror", (error) => seen.page.push(error.message));
  page.on("response", (response) => {
    if (response.status() >= 400) {
      const url = new URL(response.url());
      seen.failed.push(`${response.status()} ${response.request().method()} ${url.pathname}`);
    }
  });
  return { context, page };
}

export function problemsOf(page: Page): Problems {
  const seen = problems.get(page);
  if (!seen) throw new Error("page was not opened with openPage");
  return seen;
}

/**
 * No console error and no uncaught exception. Console errors that Chromium logs for a failed
 * request are allowed only when that request's status is listed (a test that provokes a 403 on
 * purpose passes [403]).
 */
export function expectNoConsoleErrors(page: Page, allowedStatuses: number[] = []): void {
  const seen = problemsOf(page);
  expect(seen.page, "uncaught exceptions").toEqual([]);
  const unexpected = seen.console.filter((text) => {
    const status = /status of (\d{3})/.exec(text)?.[1];
    return !(status && allowedStatuses.includes(Number(status)));
  });
  expect(unexpected, "console errors").toEqual([]);
}

export async function signIn(page: Page, url: string, email: string, password: string): Promise<void> {
  await page.goto(`${url}/admin/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Main" }).waitFor();
}

/** The Generated tab's row of the key named `name`. */
export function keyRow(page: Page, name: string) {
  return page.locator("tbody tr").filter({ has: page.getByRole("link", { name, exact: true }) });
}

/** The bodies of the PATCH calls the page makes from now on. */
export function patchBodies(page: Page): Record<string, unknown>[] {
  const bodies: Record<string, unknown>[] = [];
  page.on("request", (request) => {
    if (request.method() === "PATCH") bodies.push(request.postDataJSON() as Record<string, unknown>);
  });
  return bodies;
}

/** Opens the Edit dialog of the key named `name` from its row menu, once its controls are shown. */
export async function openKeyEdit(page: Page, name: string) {
  await keyRow(page, name).waitFor();
  await page.getByRole("button", { name: `Actions for ${name}`, exact: true }).click();
  await page.getByRole("menu").getByRole("menuitem", { name: "Edit", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: `Edit “${name}”` });
  await dialog.getByLabel("IP allowlist").waitFor();
  return dialog;
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core on the current page; returns serious and critical violations only. */
export async function axeSerious(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, so the page's CSP does not apply to the injection.
  await page.evaluate(axeSource);
  // The callback runs in the page; the test project has no DOM types, so its globals are typed here.
  const violations = await page.evaluate(async () => {
    const { axe, document } = globalThis as unknown as {
      axe: { run: (context: unknown) => Promise<{ violations: AxeViolation[] }> };
      document: unknown;
    };
    const result = await axe.run(document);
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Saves a screenshot under test-artifacts/screenshots (kept by CI as an artifact). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** No horizontal scrolling: the document is no wider than the viewport. */
export async function expectNoHorizontalScroll(page: Page): Promise<void> {
  const { scroll, client } = await page.evaluate(() => {
    const root = (
      globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }
    ).document.documentElement;
    return { scroll: root.scrollWidth, client: root.clientWidth };
  });
  expect(scroll, "page scrolls sideways").toBeLessThanOrEqual(client);
}
