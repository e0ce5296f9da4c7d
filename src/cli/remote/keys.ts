/**
 * `latchkey keys …`: the account's generated keys through /v1/accounts/{account}/keys. A token (or
 * a share link to it) is printed once, by create and renew, with a warning on stderr; list, show
 * and export never carry one (the API does not return it).
 */
import type { Command } from "commander";
import type { IssuedKey, Key } from "../../client/client.js";
import {
  type ControlFilter,
  EXPIRY_FILTERS,
  type ExpiryFilter,
  formatRateLimit,
  formatRefill,
} from "../../core/key-controls.js";
import { compact, ok } from "../client.js";
import { UsageError } from "../output.js";
import { formatDate, renderFields, renderTable, roleNames } from "../table.js";
import { type Registry, type Remote, remote } from "./context.js";
import { addControlOptions, type ControlFlags, controlsBody } from "./key-controls.js";
import { registerKeysBulk } from "./keys-bulk.js";
import { registerKeysExport } from "./keys-export.js";
import { registerKeysImport } from "./keys-import.js";
import { choice, chosenRoles, integer, noneOption, roleOption } from "./options.js";
import { confirmOrRefuse } from "./prompt.js";
import { registerReview } from "./review.js";

const MAX_PAGE = 200;

export function keyTable(keys: readonly Key[]): string {
  return renderTable(keys, [
    { header: "appKey", value: (key) => key.appKey },
    { header: "name", value: (key) => key.name },
    {
      header: "status",
      value: (key) => (key.pendingRenewal ? `${keyStatus(key)} (renewing)` : keyStatus(key)),
    },
    { header: "roles", value: (key) => roleNames(key.roles) },
    { header: "alert", value: (key) => (key.alert === "none" ? "-" : key.alert) },
    { header: "last used", value: (key) => formatDate(key.lastUsedAt) },
  ]);
}

/** What each inactive reason says after "inactive"; keys deactivated before reasons were kept say nothing more. */
const INACTIVE_REASON_TEXT: Record<NonNullable<Key["inactiveReason"]>, string> = {
  leak_reported: "token reported leaked",
  unused: "unused, by policy",
  token_too_old: "token too old, by policy",
  deactivated: "deactivated by a person or key",
};

function keyStatus(key: Key): string {
  return key.inactiveReason === null
    ? key.status
    : `${key.status} (${INACTIVE_REASON_TEXT[key.inactiveReason]})`;
}

export function keyFields(key: Key): string {
  return renderFields([
    ["appKey", key.appKey],
    ["name", key.name],
    ["status", keyStatus(key)],
    ["roles", key.roles.map((role) => `${role.name} (${role.id})`).join(", ") || "none"],
    ["alert", key.alert],
    ["created", formatDate(key.creationDate)],
    ["token created", formatDate(key.creationDateToken)],
    [
      "new token",
      key.pendingRenewal ? `${formatDate(key.creationDateNewToken)} (old token still works)` : "-",
    ],
    ["last used", formatDate(key.lastUsedAt)],
    ...tokenUses(key),
    [
      "expires",
      key.expiresAt === null
        ? "never"
        : `${formatDate(key.expiresAt)}${key.expiry === "ok" ? "" : ` (${key.expiry})`}`,
    ],
    ["IP allowlist", key.ipAllowlist === null ? "any address" : key.ipAllowlist.join(", ")],
    ["metadata", key.metadata === null ? "-" : JSON.stringify(key.metadata)],
    ["browser use", key.allowBrowser ? "allowed" : "refused"],
    ["rate limit", key.rateLimit === null ? "none" : `${formatRateLimit(key.rateLimit)} (calls per window)`],
    ["quota", quotaText(key.quota)],
  ]);
}

/** Calls left (as last written, a few seconds behind), and how it refills. */
function quotaText(quota: Key["quota"]): string {
  if (quota === null) return "none";
  if (quota.refill === null) return `${quota.remaining} calls left, no refill`;
  return `${quota.remaining} calls left, refilled to ${formatRefill(quota.refill)} (next ${formatDate(quota.refillsAt)})`;
}

/** While a renewal is pending: the last use of each token, so one can tell whether the new one is in use. */
function tokenUses(key: Key): [string, string][] {
  if (!key.pendingRenewal) return [];
  return [
    ["old token last used", formatDate(key.lastUsedAtToken)],
    ["new token last used", formatDate(key.lastUsedAtNewToken)],
  ];
}

/**
 * Before a renewal step that removes one of `appKey`'s tokens: when the CLI itself calls with that
 * token (LATCHKEY_APPTOKEN), this command would succeed and every later one get 401. Say so first,
 * and go on only with --yes (or a yes on a terminal).
 */
async function guardOwnToken(
  r: Remote,
  appKey: string,
  doomed: "old" | "new",
  yes: boolean | undefined,
): Promise<void> {
  const me = await ok(r.client.api.GET("/v1/me", {}));
  const caller = me.principal;
  if (caller.type !== "key" || caller.appKey !== appKey || caller.token !== doomed) return;
  const step = doomed === "old" ? "complete-renewal" : "undo-renewal";
  const fix =
    doomed === "old"
      ? "Set LATCHKEY_APPTOKEN to the new token (printed by `latchkey keys renew`, or revealed by its share link) and run this again"
      : "Set LATCHKEY_APPTOKEN to the old token and run this again, or complete the renewal instead";
  r.note(
    `warning: you are calling with the ${doomed} token of ${appKey} (LATCHKEY_APPTOKEN or --app-token), ` +
      `the one \`keys ${step}\` removes: it stops working at once, and so does every later command that uses it. ${fix}.`,
  );
  await confirmOrRefuse(
    r.io,
    yes,
    `Remove the ${doomed} token you are calling with anyway?`,
    `\`keys ${step}\` with the token it removes`,
  );
}

async function showShareLink(r: Remote, appKey: string, cancel: boolean): Promise<void> {
  const params = keyPath(r, appKey);
  const status = await ok(
    cancel
      ? r.client.api.DELETE("/v1/accounts/{account}/keys/{appKey}/share-link", { params })
      : r.client.api.GET("/v1/accounts/{account}/keys/{appKey}/share-link", { params }),
  );
  r.result(status, () => {
    const link = status.shareLink;
    if (!link) return `Key ${appKey} has no share link.`;
    const headline = cancel
      ? `Share link of ${appKey} cancelled: it no longer blocks renewal.`
      : `Share link of ${appKey}:`;
    return `${headline}\n${renderFields([
      ["state", link.state],
      ["created", formatDate(link.createdAt)],
      ["expires", formatDate(link.expiresAt)],
      ["revealed", formatDate(link.revealedAt)],
      ["cancelled", formatDate(link.cancelledAt)],
      ["blocks renewal", status.blocksRenewal ? "yes" : "no"],
    ])}`;
  });
}

/** Prints a fresh token or share link once, with the warning that it is not shown again. */
function printIssued(remote: Remote, issued: IssuedKey, headline: string): void {
  remote.result(issued, () => {
    const secret: [string, string][] =
      "appToken" in issued
        ? [["appToken", issued.appToken]]
        : [
            ["share link", issued.shareUrl],
            ["link expires", issued.shareExpiresAt],
          ];
    return `${headline}\n${renderFields([["appKey", issued.key.appKey], ["name", issued.key.name], ...secret])}`;
  });
  remote.note(
    "appToken" in issued
      ? "warning: this is the only time the appToken is shown; store it now, in a secrets manager."
      : "warning: the link reveals the token once and expires in 24 hours; it is not shown again.",
  );
}

/** The path parameters of one key's routes. */
const keyPath = (remote: Remote, appKey: string) => ({ path: { account: remote.account, appKey } });

async function listKeys(remote: Remote, opts: ListOptions): Promise<void> {
  const query = compact({
    q: opts.q,
    status: opts.status,
    role: opts.role,
    alert: opts.alert,
    expiry: opts.expiry,
    control: opts.control === undefined ? undefined : CONTROL_NAMES[opts.control],
    sort: opts.sort,
    order: opts.order,
    limit: opts.limit ?? (opts.all ? MAX_PAGE : undefined),
    cursor: opts.cursor,
  });
  const page = (cursor: string | undefined) =>
    ok(
      remote.client.api.GET("/v1/accounts/{account}/keys", {
        params: { path: { account: remote.account }, query: cursor ? { ...query, cursor } : query },
      }),
    );
  let last = await page(undefined);
  const items = [...last.items];
  while (opts.all && last.nextCursor) {
    last = await page(last.nextCursor);
    items.push(...last.items);
  }
  // Every page read (--all from the first page): the keys themselves are the exact total, however
  // broad the filter. From a --cursor they are only the rest, and the server's total stands.
  const whole = opts.all === true && opts.cursor === undefined && last.nextCursor === null;
  const result = {
    items,
    nextCursor: last.nextCursor,
    total: whole ? items.length : last.total,
    totalExact: whole || last.totalExact,
  };
  remote.result(result, () => {
    if (items.length === 0) return "No keys.";
    const footer = `${items.length} of ${result.total}${result.totalExact ? "" : "+"} key(s)`;
    const more = result.nextCursor ? `; more with --cursor ${result.nextCursor} (or --all)` : "";
    return `${keyTable(items)}\n${footer}${more}`;
  });
}

/** `--control`'s short names, and the API's own, for the control filter. */
const CONTROL_NAMES = {
  ip: "ipAllowlist",
  ipAllowlist: "ipAllowlist",
  metadata: "metadata",
  browser: "allowBrowser",
  allowBrowser: "allowBrowser",
  rate: "rateLimit",
  rateLimit: "rateLimit",
  quota: "quota",
} as const satisfies Record<string, ControlFilter>;

/** As commander hands them over; `choice` options hold one of their choices. */
interface ListOptions {
  q?: string;
  status?: Key["status"];
  role?: number;
  alert?: Key["alert"];
  expiry?: ExpiryFilter;
  control?: keyof typeof CONTROL_NAMES;
  sort?: "name" | "createdAt" | "tokenCreatedAt" | "lastUsedAt";
  order?: "asc" | "desc";
  limit?: number;
  cursor?: string;
  all?: boolean;
}

async function setActive(remote: Remote, appKey: string, active: boolean): Promise<void> {
  const key = await ok(
    remote.client.api.PATCH("/v1/accounts/{account}/keys/{appKey}", {
      params: keyPath(remote, appKey),
      body: { active },
    }),
  );
  remote.result(key, () => `Key ${key.appKey} is ${key.status}.`);
}

export function registerKeys(group: Command, registry: Registry): void {
  group
    .command("list")
    .description("list generated keys (newest first), a page at a time or --all")
    .option("--q <text>", "search in names and appKeys")
    .addOption(choice("--status <status>", "only active or inactive keys", ["active", "inactive"]))
    .option("--role <id>", "only keys holding this role", integer(1, Number.MAX_SAFE_INTEGER))
    .addOption(choice("--alert <level>", "only keys at this renewal alert", ["none", "orange", "red"]))
    .addOption(
      choice(
        "--expiry <when>",
        "only keys without an expiry (none), with one (any), expiring after 14 days (ok), within them (soon), or expired",
        EXPIRY_FILTERS,
      ),
    )
    .addOption(
      choice(
        "--control <control>",
        "only keys with an IP allowlist, metadata, allowed in browsers, a rate limit or a quota",
        Object.keys(CONTROL_NAMES),
      ),
    )
    .addOption(choice("--sort <field>", "sort by", ["name", "createdAt", "tokenCreatedAt", "lastUsedAt"]))
    .addOption(choice("--order <order>", "sort order", ["asc", "desc"]))
    .option("--limit <n>", "keys per page (1-200; default 50, 200 with --all)", integer(1, MAX_PAGE))
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--all", "follow nextCursor and list every matching key")
    .action((opts: ListOptions, command: Command) => remote(registry, command, (r) => listKeys(r, opts)));

  const create = group
    .command("create")
    .description("generate a key; its token is printed once (no roles unless given: least privilege)")
    .argument("<name>", "the key's name, unique in the account")
    .addOption(roleOption("role to give the key"))
    .option("--link", "answer with a single-use share link to the token instead of the token");
  addControlOptions(create).action(
    (name: string, opts: { role?: number[]; link?: boolean } & ControlFlags, command: Command) =>
      remote(registry, command, async (r) => {
        const body = {
          name,
          ...(opts.role ? { roles: opts.role } : {}),
          ...(opts.link ? { delivery: "link" as const } : {}),
          ...controlsBody(opts),
        };
        const issued = await ok(
          r.client.api.POST("/v1/accounts/{account}/keys", {
            params: { path: { account: r.account } },
            body,
          }),
        );
        printIssued(r, issued, `Key created in ${r.account}.`);
        if (issued.key.roles.length === 0)
          r.note("note: the key holds no roles; give some with `latchkey keys roles`.");
      }),
  );

  const update = group
    .command("update")
    .description(
      "rename a key or change its controls (expiry, IP allowlist, metadata, browser use, rate limit, quota)",
    )
    .argument("<appKey>")
    .option("--name <name>", "a new name, unique in the account");
  addControlOptions(update).action(
    (appKey: string, opts: { name?: string } & ControlFlags, command: Command) =>
      remote(registry, command, async (r) => {
        const body = { ...(opts.name === undefined ? {} : { name: opts.name }), ...controlsBody(opts) };
        if (Object.keys(body).length === 0) {
          throw new UsageError(
            "nothing to change: give --name, --expires, --ip, --any-ip, --metadata, … (see --help)",
          );
        }
        const key = await ok(
          r.client.api.PATCH("/v1/accounts/{account}/keys/{appKey}", { params: keyPath(r, appKey), body }),
        );
        r.result(key, () => keyFields(key));
      }),
  );

  group
    .command("show")
    .description("show one key")
    .argument("<appKey>")
    .action((appKey: string, _opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        const key = await ok(
          r.client.api.GET("/v1/accounts/{account}/keys/{appKey}", { params: keyPath(r, appKey) }),
        );
        r.result(key, () => keyFields(key));
      }),
    );

  group
    .command("activate")
    .description("activate a key: its token authenticates again")
    .argument("<appKey>")
    .action((appKey: string, _opts: unknown, command: Command) =>
      remote(registry, command, (r) => setActive(r, appKey, true)),
    );

  group
    .command("deactivate")
    .description("deactivate a key: calls with it fail (401) until it is activated")
    .argument("<appKey>")
    .action((appKey: string, _opts: unknown, command: Command) =>
      remote(registry, command, (r) => setActive(r, appKey, false)),
    );

  group
    .command("roles")
    .description("replace the roles a key holds")
    .argument("<appKey>")
    .addOption(roleOption("role the key will hold"))
    .addOption(noneOption())
    .action((appKey: string, opts: { role?: number[]; none?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        const roles = chosenRoles(opts);
        const key = await ok(
          r.client.api.PUT("/v1/accounts/{account}/keys/{appKey}/roles", {
            params: keyPath(r, appKey),
            body: { roles },
          }),
        );
        r.result(key, () => `Key ${key.appKey} now holds: ${roleNames(key.roles)}.`);
      }),
    );

  group
    .command("renew")
    .description("start a token renewal: a new token, printed once; the old one works until complete-renewal")
    .argument("<appKey>")
    .addOption(
      choice("--delete-old-token <when>", "now: remove the old token at once (default later)", [
        "now",
        "later",
      ]),
    )
    .option("--link", "answer with a single-use share link to the new token")
    .action((appKey: string, opts: { deleteOldToken?: "now" | "later"; link?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        const body = {
          ...(opts.deleteOldToken ? { deleteOldToken: opts.deleteOldToken } : {}),
          ...(opts.link ? { delivery: "link" as const } : {}),
        };
        const issued = await ok(
          r.client.api.POST("/v1/accounts/{account}/keys/{appKey}/renewal", {
            params: keyPath(r, appKey),
            body,
          }),
        );
        printIssued(r, issued, `Token renewed for ${issued.key.appKey}.`);
        if (issued.key.pendingRenewal)
          r.note(
            `note: the old token works until \`latchkey keys complete-renewal ${issued.key.appKey}\` ` +
              `(or \`keys undo-renewal\` to keep it and drop the new one).`,
          );
      }),
    );

  group
    .command("complete-renewal")
    .description("complete a renewal: remove the old token, only the new one works")
    .argument("<appKey>")
    .option("--yes", "complete even when this command calls with the old token it removes")
    .action((appKey: string, opts: { yes?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        await guardOwnToken(r, appKey, "old", opts.yes);
        const key = await ok(
          r.client.api.POST("/v1/accounts/{account}/keys/{appKey}/renewal/complete", {
            params: keyPath(r, appKey),
          }),
        );
        r.result(key, () => `Renewal completed for ${key.appKey}: the old token no longer works.`);
      }),
    );

  group
    .command("undo-renewal")
    .description("undo a renewal: discard the new token, the old one stays")
    .argument("<appKey>")
    .option("--yes", "undo even when this command calls with the new token it discards")
    .action((appKey: string, opts: { yes?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        await guardOwnToken(r, appKey, "new", opts.yes);
        const key = await ok(
          r.client.api.DELETE("/v1/accounts/{account}/keys/{appKey}/renewal", { params: keyPath(r, appKey) }),
        );
        r.result(key, () => `Renewal undone for ${key.appKey}: the new token was discarded.`);
      }),
    );

  group
    .command("share-link")
    .description("show the state of a key's newest share link, and whether it blocks renewal")
    .argument("<appKey>")
    .action((appKey: string, _opts: unknown, command: Command) =>
      remote(registry, command, (r) => showShareLink(r, appKey, false)),
    );

  group
    .command("cancel-share-link")
    .description("cancel a key's unopened share link (it then answers 410), so the key can be renewed")
    .argument("<appKey>")
    .action((appKey: string, _opts: unknown, command: Command) =>
      remote(registry, command, (r) => showShareLink(r, appKey, true)),
    );

  group
    .command("delete")
    .description("delete a key for good (asks on a terminal; needs --yes elsewhere)")
    .argument("<appKey>")
    .option("--yes", "do not ask: the key and its tokens are deleted at once")
    .action((appKey: string, opts: { yes?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        await confirmOrRefuse(
          r.io,
          opts.yes,
          `Delete key ${appKey} for good? Its tokens stop working at once; this cannot be undone.`,
          "deleting a key",
        );
        await r.client.api.DELETE("/v1/accounts/{account}/keys/{appKey}", { params: keyPath(r, appKey) });
        r.result({ appKey, deleted: true }, () => `Key ${appKey} deleted.`);
      }),
    );

  registerKeysBulk(group, registry);
  registerKeysImport(group, registry);
  registerKeysExport(group, registry);
  registerReview(group, registry);
}
