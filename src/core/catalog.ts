/**
 * The resource catalog: built-in License Manager resources and roles, merged with the platform's
 * catalog file (already parsed), validated, with route patterns compiled into a segment trie for
 * the forward-auth hot path. Pure: the file is read and located by src/catalog/load.ts.
 */
import { z } from "zod";

export interface RouteRule {
  readonly methods: readonly string[];
  readonly path: string;
}

export interface ResourceDef {
  readonly key: string;
  readonly id: number;
  readonly name: string;
  readonly description: string;
  readonly product: string;
  readonly category: string;
  readonly routes: readonly RouteRule[];
}

export interface PredefinedRole {
  readonly id: number;
  readonly name: string;
  readonly resources: readonly string[];
  /** True for the Owner: holds every resource, present and future. */
  readonly allResources: boolean;
}

export interface Catalog {
  readonly resources: readonly ResourceDef[];
  resourceByKey(key: string): ResourceDef | undefined;
  readonly roles: readonly PredefinedRole[];
  roleById(id: number): PredefinedRole | undefined;
  /**
   * Keys of the resources whose routes cover this request, in catalog order; none for unmapped or
   * unsafe paths. The list is frozen and may be the same one for every request it answers.
   */
  resourceKeysForRoute(method: string, target: string): readonly string[];
}

export type NodePath = readonly (string | number)[];

export interface CatalogSource {
  readonly file: string;
  locate(path: NodePath): { line: number; col: number } | undefined;
}

export class CatalogError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly position?: { line: number; col: number },
  ) {
    super(position ? `${file}:${position.line}:${position.col}: ${problem}` : `${file}: ${problem}`);
    this.name = "CatalogError";
  }
}

type BuiltinRow = [key: string, id: number, name: string, category: string, description: string];

/** SPEC §1.1. Ids are public and stable (VTEX-compatible paths expose them): never renumber them. */
const BUILTINS: readonly BuiltinRow[] = [
  ["ViewApiKeys", 2042457, "View API keys", "API keys", "List, read and export API keys, settings, usage"],
  ["EditApiKeys", 2042458, "Edit API keys", "API keys", "Create, delete, (de)activate keys; set roles"],
  ["RenewApiToken", 2042467, "Renew API token", "API keys", "Start, complete and undo token renewals"],
  ["EditApiKeysSettings", 2042466, "Edit API keys settings", "API keys", "Change API key settings"],
  ["ViewAdminUsers", 2099311, "View admin users", "Admin users", "List users, their roles and roles"],
  ["EditAdminUsers", 2099310, "Edit admin users", "Admin users", "Manage users and custom roles"],
  ["ViewAuditLog", 2042470, "View audit log", "Audit", "Read, search and export the audit log"],
];

function builtinResource([key, id, name, category, description]: BuiltinRow): ResourceDef {
  return { key, id, name, description, product: "License Manager", category, routes: [] };
}

export const BUILTIN_RESOURCES: readonly ResourceDef[] = BUILTINS.map(builtinResource);

export const OWNER_ROLE = { id: 1, name: "Owner (Admin Super)" } as const;
export const USER_ADMIN_ROLE = {
  id: 2,
  name: "User Administrator - RESTRICTED",
  resources: [
    "ViewApiKeys",
    "EditApiKeys",
    "RenewApiToken",
    "EditApiKeysSettings",
    "ViewAdminUsers",
    "EditAdminUsers",
  ],
} as const;

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"] as const;
const KEY = /^[A-Za-z][A-Za-z0-9]{1,63}$/;
const text = (max: number) => z.string().trim().min(1).max(max);

const routeSchema = z.strictObject({
  methods: z
    .array(
      z.enum(METHODS, { error: (i) => `method must be one of ${METHODS.join(" ")}, got ${show(i.input)}` }),
    )
    .min(1),
  path: z.string().superRefine((path, ctx) => {
    const problem = patternProblem(path);
    if (problem) ctx.addIssue({ code: "custom", message: `path pattern ${show(path)}: ${problem}` });
  }),
});

const RESOURCE_ID = "resource ids must be positive integers";
const resourceSchema = z.strictObject({
  key: z.string().regex(KEY, { error: (i) => `resource key must match ${KEY.source}, got ${show(i.input)}` }),
  id: z.int({ error: RESOURCE_ID }).positive({ error: RESOURCE_ID }),
  name: text(100),
  description: z.string().trim().max(500).default(""),
  routes: z.array(routeSchema).default([]),
});

const ROLE_ID = "predefined role ids must be integers 3-99999 (1 and 2 are built in)";
const roleSchema = z.strictObject({
  id: z.int({ error: ROLE_ID }).min(3, { error: ROLE_ID }).max(99999, { error: ROLE_ID }),
  name: text(100),
  resources: z.array(z.string()).min(1),
});

const fileSchema = z.strictObject({
  products: z
    .array(
      z.strictObject({
        name: text(100),
        categories: z.array(z.strictObject({ name: text(100), resources: z.array(resourceSchema) })),
      }),
    )
    .default([]),
  roles: z.array(roleSchema).default([]),
});

type CatalogFile = z.infer<typeof fileSchema>;
type Fail = (path: NodePath, problem: string) => never;

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function formatPath(path: NodePath): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function failer(source: CatalogSource): Fail {
  return (path, problem) => {
    let position: { line: number; col: number } | undefined;
    for (let n = path.length; n >= 0 && !position; n--) position = source.locate(path.slice(0, n));
    const where = formatPath(path);
    throw new CatalogError(
      source.file,
      where ? `${where}: ${problem}` : problem,
      position ?? { line: 1, col: 1 },
    );
  };
}

function parseFile(content: unknown, fail: Fail): CatalogFile {
  const result = fileSchema.safeParse(content ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) return fail([], "invalid catalog");
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) {
    return fail([...path, issue.keys[0]], `unknown field ${show(issue.keys[0])}`);
  }
  return fail(path, issue.message);
}

function collectResources(file: CatalogFile, fail: Fail): ResourceDef[] {
  const resources = [...BUILTIN_RESOURCES];
  const keys = new Set(resources.map((r) => r.key));
  const ids = new Set(resources.map((r) => r.id));
  file.products.forEach((product, p) => {
    product.categories.forEach((category, c) => {
      category.resources.forEach((r, i) => {
        const at = ["products", p, "categories", c, "resources", i];
        if (keys.has(r.key)) fail([...at, "key"], `duplicate resource key ${show(r.key)}`);
        if (ids.has(r.id)) fail([...at, "id"], `duplicate resource id ${r.id}`);
        keys.add(r.key);
        ids.add(r.id);
        resources.push({ ...r, product: product.name, category: category.name });
      });
    });
  });
  return resources;
}

function collectRoles(file: CatalogFile, resources: readonly ResourceDef[], fail: Fail): PredefinedRole[] {
  const owner = { ...OWNER_ROLE, resources: resources.map((r) => r.key), allResources: true };
  const roles: PredefinedRole[] = [owner, { ...USER_ADMIN_ROLE, allResources: false }];
  const known = new Set(owner.resources);
  const names = new Set(roles.map((r) => r.name.toLowerCase()));
  const ids = new Set(roles.map((r) => r.id));
  file.roles.forEach((role, i) => {
    if (ids.has(role.id)) fail(["roles", i, "id"], `duplicate role id ${role.id}`);
    if (names.has(role.name.toLowerCase()))
      fail(["roles", i, "name"], `duplicate role name ${show(role.name)}`);
    role.resources.forEach((key, k) => {
      if (!known.has(key)) fail(["roles", i, "resources", k], `unknown resource ${show(key)}`);
    });
    ids.add(role.id);
    names.add(role.name.toLowerCase());
    roles.push({ ...role, resources: [...new Set(role.resources)], allResources: false });
  });
  return roles;
}

/**
 * Route patterns compile into a segment trie: a request walks it once, branching only where a
 * literal and a `*` child both exist, so matching costs O(request segments × pattern depth).
 */
interface TrieNode {
  readonly literal: Map<string, TrieNode>;
  star: TrieNode | undefined;
  /** Routes ending exactly here. */
  readonly end: RouteEntry[];
  /** Routes ending here with `/**`: they match here and everywhere below. */
  readonly rest: RouteEntry[];
}

interface RouteEntry {
  readonly methods: ReadonlySet<string>;
  /** The route's methods include `*`. */
  readonly anyMethod: boolean;
  readonly index: number;
}

const SEGMENT = /^[A-Za-z0-9._~!$&'()+,;=:@-]+$/;

function patternProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return 'must start with "/"';
  const segments = path === "/" ? [] : path.slice(1).split("/");
  for (const [i, segment] of segments.entries()) {
    if (segment === "**" && i < segments.length - 1) return '"**" is only allowed as the last segment';
    if (segment === "**" || segment === "*") continue;
    if (segment === "") return "has an empty segment (repeated or trailing slash)";
    if (segment === "." || segment === ".." || !SEGMENT.test(segment)) {
      return `bad segment ${show(segment)}: use literal text, "*" for one segment or a final "**"`;
    }
  }
  return undefined;
}

const newNode = (): TrieNode => ({ literal: new Map(), star: undefined, end: [], rest: [] });

function insert(root: TrieNode, pattern: string, entry: RouteEntry): void {
  let node = root;
  for (const segment of pattern.split("/").filter((s) => s !== "")) {
    if (segment === "**") {
      node.rest.push(entry);
      return;
    }
    const next = segment === "*" ? node.star : node.literal.get(segment);
    const child = next ?? newNode();
    if (segment === "*") node.star = child;
    else node.literal.set(segment, child);
    node = child;
  }
  node.end.push(entry);
}

/**
 * A route match's working memory, one per compiled catalog and reused by every match (matching is
 * synchronous: no two run at once). A gateway asks one `/v1/authorize` per API call, so a match
 * allocates nothing but the decoded segments.
 */
interface Walk {
  /** The request's segments are the first `depth` entries (later ones are a previous match's). */
  readonly segments: string[];
  depth: number;
  method: string;
  /** Indexes of the matching resources: the first `found` entries. */
  readonly hits: number[];
  found: number;
}

function collect(entries: readonly RouteEntry[], state: Walk): void {
  for (const entry of entries) {
    if (!entry.anyMethod && !entry.methods.has(state.method)) continue;
    const { hits, found } = state;
    let seen = false;
    for (let h = 0; h < found && !seen; h++) seen = hits[h] === entry.index;
    if (!seen) hits[state.found++] = entry.index;
  }
}

function walk(node: TrieNode, i: number, state: Walk): void {
  if (node.rest.length > 0) collect(node.rest, state);
  if (i === state.depth) {
    collect(node.end, state);
    return;
  }
  const literal = node.literal.get(state.segments[i] as string);
  if (literal) walk(literal, i + 1, state);
  if (node.star) walk(node.star, i + 1, state);
}

/** A character that makes a segment need `decodeSegment`'s checks: `%`, `\`, NUL, or a leading `.`. */
function plainSegment(raw: string): boolean {
  if (raw.charCodeAt(0) === 46) return false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 || c === 92 || c === 0) return false;
  }
  return true;
}

/** One request segment, percent-decoded; undefined when it could smuggle a separator or traversal. */
function decodeSegment(raw: string): string | undefined {
  if (plainSegment(raw)) return raw;
  let segment = raw;
  if (raw.includes("%")) {
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    // A second decoding by the upstream must not turn this into a separator or a dot segment.
    if (segment.includes("/") || /%(2f|5c|2e|00)/i.test(segment)) return undefined;
  }
  if (segment.includes("\\") || segment.includes("\0")) return undefined;
  if (!segment.startsWith(".")) return segment;
  // Path parameters (";…") are stripped by some servers, so "..;x" acts as "..".
  const bare = segment.split(";", 1)[0];
  return bare === "." || bare === ".." ? undefined : segment;
}

/**
 * A request target's path segments into `state` (`segments`, `depth`), query and fragment dropped,
 * empty segments collapsed; false when the target is not a path or a segment is unsafe.
 */
function requestSegments(target: string, state: Walk): boolean {
  state.depth = 0;
  if (target.charCodeAt(0) !== 47) return false;
  let end = target.length;
  const query = target.indexOf("?");
  if (query !== -1) end = query;
  const fragment = target.indexOf("#");
  if (fragment !== -1 && fragment < end) end = fragment;
  let start = 1;
  while (start <= end) {
    let slash = target.indexOf("/", start);
    if (slash === -1 || slash > end) slash = end;
    if (slash > start) {
      const segment = decodeSegment(target.slice(start, slash));
      if (segment === undefined) return false;
      state.segments[state.depth++] = segment;
    }
    start = slash + 1;
  }
  return true;
}

const NO_KEYS: readonly string[] = Object.freeze([]);

/** The keys of the resources whose routes cover a request, in catalog order; frozen, often shared. */
function compileRoutes(
  resources: readonly ResourceDef[],
): (method: string, target: string) => readonly string[] {
  const root = newNode();
  resources.forEach((resource, index) => {
    for (const route of resource.routes) {
      const methods = new Set(route.methods);
      insert(root, route.path, { methods, anyMethod: methods.has("*"), index });
    }
  });
  // A request most often falls under one resource: its answer is made once.
  const alone = resources.map((resource) => Object.freeze([resource.key]));
  const state: Walk = { segments: [], depth: 0, method: "", hits: [], found: 0 };
  return (method, target) => {
    if (!requestSegments(target, state)) return NO_KEYS;
    state.method = method.toUpperCase();
    state.found = 0;
    walk(root, 0, state);
    const { hits, found } = state;
    if (found === 0) return NO_KEYS;
    if (found === 1) return alone[hits[0] as number] as readonly string[];
    const matched = hits.slice(0, found).sort((a, b) => a - b);
    return Object.freeze(matched.map((i) => (resources[i] as ResourceDef).key));
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Validates a parsed catalog file and merges it with the built-ins; throws CatalogError. */
export function buildCatalog(fileContent: unknown, source: CatalogSource): Catalog {
  const fail = failer(source);
  const file = parseFile(fileContent, fail);
  const resources = deepFreeze(collectResources(file, fail));
  const roles = deepFreeze(collectRoles(file, resources, fail));
  const byKey = new Map(resources.map((r) => [r.key, r]));
  const byId = new Map(roles.map((r) => [r.id, r]));
  return Object.freeze({
    resources,
    roles,
    resourceByKey: (key: string) => byKey.get(key),
    roleById: (id: number) => byId.get(id),
    resourceKeysForRoute: compileRoutes(resources),
  });
}
