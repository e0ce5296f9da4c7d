import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCatalogFile } from "../src/catalog/load.js";
import { defaultCatalogFile } from "../src/config.js";
import { BUILTIN_RESOURCES, buildCatalog, type Catalog, CatalogError } from "../src/core/catalog.js";

const dir = mkdtempSync(join(tmpdir(), "latchkey-catalog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fixture(name: string, content: string): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** 1-based line of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.split("\n").findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`fixture has no ${needle}`);
  return index + 1;
}

function loadError(file: string): CatalogError {
  try {
    loadCatalogFile(file);
  } catch (error) {
    if (error instanceof CatalogError) return error;
    throw error;
  }
  throw new Error(`${file} loaded without error`);
}

const noLocation = { file: "inline", locate: () => undefined };
const keys = (catalog: Catalog, method: string, target: string) => [
  ...catalog.resourceKeysForRoute(method, target),
];

describe("built-ins", () => {
  const catalog = buildCatalog({}, noLocation);

  it.each([
    ["ViewApiKeys", 2042457, "API keys"],
    ["EditApiKeys", 2042458, "API keys"],
    ["RenewApiToken", 2042467, "API keys"],
    ["EditApiKeysSettings", 2042466, "API keys"],
    ["ViewAdminUsers", 2099311, "Admin users"],
    ["EditAdminUsers", 2099310, "Admin users"],
    ["ViewAuditLog", 2042470, "Audit"],
  ])("%s has id %d in License Manager / %s", (key, id, category) => {
    expect(catalog.resourceByKey(key)).toMatchObject({ key, id, category, product: "License Manager" });
  });

  it("has the two built-in predefined roles", () => {
    expect(catalog.roleById(1)).toMatchObject({ name: "Owner (Admin Super)", allResources: true });
    expect(catalog.roleById(1)?.resources).toEqual(BUILTIN_RESOURCES.map((r) => r.key));
    expect(catalog.roleById(2)).toMatchObject({
      name: "User Administrator - RESTRICTED",
      allResources: false,
      resources: [
        "ViewApiKeys",
        "EditApiKeys",
        "RenewApiToken",
        "EditApiKeysSettings",
        "ViewAdminUsers",
        "EditAdminUsers",
      ],
    });
    expect(catalog.roleById(3)).toBeUndefined();
  });

  it("is frozen", () => {
    expect(Object.isFrozen(catalog.resources)).toBe(true);
    expect(Object.isFrozen(catalog.roleById(1)?.resources)).toBe(true);
  });
});

describe("the shipped commerce catalog", () => {
  const catalog = loadCatalogFile(defaultCatalogFile());

  it("has the commerce predefined roles by their exact names", () => {
    expect(catalog.roles.map((r) => r.name)).toEqual([
      "Owner (Admin Super)",
      "User Administrator - RESTRICTED",
      "OMS - Read only",
      "OMS - Full access",
      "Catalog - Full access",
      "Logistics - Read only",
      "Logistics - Full access",
      "Pricing - Full access",
      "Customers - Read only",
    ]);
    expect(catalog.roles.find((r) => r.name === "OMS - Read only")?.resources).toEqual(["ViewOrders"]);
    expect(catalog.roles.find((r) => r.name === "OMS - Full access")?.resources).toEqual([
      "ViewOrders",
      "EditOrders",
    ]);
  });

  it("adds the commerce resources under their products, and gives them to the Owner", () => {
    expect(catalog.resourceByKey("ViewOrders")).toMatchObject({ product: "OMS", category: "Orders" });
    const products = new Set(catalog.resources.map((r) => r.product));
    expect([...products]).toEqual(["License Manager", "OMS", "Catalog", "Logistics", "Pricing", "Customers"]);
    expect(catalog.roleById(1)?.resources).toContain("EditCustomers");
    expect(catalog.roleById(1)?.resources).toHaveLength(catalog.resources.length);
  });

  it.each([
    ["GET", "/api/oms/pvt/orders", ["ViewOrders"]],
    ["GET", "/api/oms/pvt/orders/123", ["ViewOrders"]],
    ["GET", "/api/oms/pvt/orders/123/items/4?x=1", ["ViewOrders"]],
    ["POST", "/api/oms/pvt/orders", ["EditOrders"]],
    ["DELETE", "/api/oms/pvt/orders/123", ["EditOrders"]],
    ["get", "//api//oms/pvt/orders/", ["ViewOrders"]],
    ["HEAD", "/api/catalog/pvt/product/1", ["ViewProducts"]],
    ["HEAD", "/api/oms/pvt/orders", []],
    ["PATCH", "/api/logistics/pvt/inventory/skus/1", ["EditInventory"]],
    ["GET", "/api/pricing/pvt/prices/1", ["ViewPrices"]],
    ["PUT", "/api/dataentities/pvt/CL/documents", ["EditCustomers"]],
    ["GET", "/api/oms/pvt/ordersX", []],
    ["GET", "/api/oms/pub/orders", []],
    ["GET", "/", []],
  ])("%s %s → %j", (method, target, expected) => {
    expect(keys(catalog, method, target)).toEqual(expected);
  });
});

describe("route matching", () => {
  const route = (methods: string[], path: string) => ({ methods, path });
  const resource = (key: string, id: number, routes: ReturnType<typeof route>[]) => ({
    key,
    id,
    name: key,
    routes,
  });
  const catalog = buildCatalog(
    {
      products: [
        {
          name: "Test",
          categories: [
            {
              name: "All",
              resources: [
                resource("ExactOnly", 10, [route(["GET"], "/a/b")]),
                resource("OneSegment", 11, [route(["GET"], "/a/*/c")]),
                resource("Subtree", 12, [route(["*"], "/t/**")]),
                resource("Everything", 13, [route(["OPTIONS"], "/**")]),
              ],
            },
          ],
        },
      ],
    },
    noLocation,
  );

  it("matches exact patterns only exactly", () => {
    expect(keys(catalog, "GET", "/a/b")).toEqual(["ExactOnly"]);
    expect(keys(catalog, "GET", "/a/b/c/d")).toEqual([]);
    expect(keys(catalog, "GET", "/a")).toEqual([]);
  });

  it("matches * against exactly one segment", () => {
    expect(keys(catalog, "GET", "/a/x/c")).toEqual(["OneSegment"]);
    expect(keys(catalog, "GET", "/a/b/c")).toEqual(["OneSegment"]);
    expect(keys(catalog, "GET", "/a/c")).toEqual([]);
    expect(keys(catalog, "GET", "/a/x/y/c")).toEqual([]);
  });

  it("matches a trailing ** against zero or many segments", () => {
    expect(keys(catalog, "GET", "/t")).toEqual(["Subtree"]);
    expect(keys(catalog, "GET", "/t/1")).toEqual(["Subtree"]);
    expect(keys(catalog, "GET", "/t/1/2/3/4/5")).toEqual(["Subtree"]);
    expect(keys(catalog, "GET", "/tt")).toEqual([]);
  });

  it("filters by method, with * for any method, and returns every covering resource", () => {
    expect(keys(catalog, "POST", "/a/b")).toEqual([]);
    expect(keys(catalog, "PURGE", "/t/x")).toEqual(["Subtree"]);
    expect(keys(catalog, "OPTIONS", "/t/x")).toEqual(["Subtree", "Everything"]);
    expect(keys(catalog, "options", "/")).toEqual(["Everything"]);
  });

  it("ignores the query string and fragment", () => {
    expect(keys(catalog, "GET", "/a/b?x=1&y=/../")).toEqual(["ExactOnly"]);
    expect(keys(catalog, "GET", "/a/b#frag")).toEqual(["ExactOnly"]);
  });

  it("matches percent-decoded segments", () => {
    expect(keys(catalog, "GET", "/a/%62")).toEqual(["ExactOnly"]);
  });

  it.each([
    "/t/../a/b",
    "/t/x/..",
    "/t/./x",
    "/t/%2e%2e/a/b",
    "/t/%2E%2E/a/b",
    "/t/..;x/a/b",
    "/t/x%2fy",
    "/t/x%2Fy",
    "/t/x%5cy",
    "/t/x\\..\\y",
    "/t/%252e%252e/a",
    "/t/%zz",
    "t/x",
    "",
  ])("denies the unsafe or malformed target %j", (target) => {
    expect(keys(catalog, "GET", target)).toEqual([]);
    expect(keys(catalog, "OPTIONS", target)).toEqual([]);
  });
});

const GOOD_RESOURCE = `products:
  - name: OMS
    categories:
      - name: Orders
        resources:
          - key: ViewOrders
            id: 3000001
            name: View orders
            routes:
              - { methods: [GET], path: "/api/oms/pvt/orders/**" }
`;

describe("bad catalog files", () => {
  const role = (line: string) => `${GOOD_RESOURCE}roles:\n${line}\n`;
  it.each([
    {
      name: "duplicate key",
      text: `${GOOD_RESOURCE}          - key: ViewOrders # again\n            id: 3000002\n            name: Again\n`,
      at: "# again",
      problem: 'products[0].categories[0].resources[1].key: duplicate resource key "ViewOrders"',
    },
    {
      name: "key clashing with a built-in",
      text: GOOD_RESOURCE.replace("key: ViewOrders", "key: ViewApiKeys"),
      at: "ViewApiKeys",
      problem: 'duplicate resource key "ViewApiKeys"',
    },
    {
      name: "id clashing with a built-in",
      text: GOOD_RESOURCE.replace("id: 3000001", "id: 2042457"),
      at: "2042457",
      problem: "duplicate resource id 2042457",
    },
    {
      name: "fractional resource id",
      text: GOOD_RESOURCE.replace("id: 3000001", "id: 3000001.5"),
      at: "3000001.5",
      problem: "products[0].categories[0].resources[0].id: resource ids must be positive integers",
    },
    {
      name: "bad resource key",
      text: GOOD_RESOURCE.replace("key: ViewOrders", "key: View-Orders"),
      at: "View-Orders",
      problem: 'resource key must match ^[A-Za-z][A-Za-z0-9]{1,63}$, got "View-Orders"',
    },
    {
      name: "bad method",
      text: GOOD_RESOURCE.replace("methods: [GET]", "methods: [GET, FETCH]"),
      at: "FETCH",
      problem: 'method must be one of GET HEAD POST PUT PATCH DELETE OPTIONS *, got "FETCH"',
    },
    {
      name: "bad path pattern",
      text: GOOD_RESOURCE.replace("/api/oms/pvt/orders/**", "/api/**/orders"),
      at: "/api/**/orders",
      problem: '"**" is only allowed as the last segment',
    },
    {
      name: "placeholder in a path",
      text: GOOD_RESOURCE.replace("/api/oms/pvt/orders/**", "/api/orders/{id}"),
      at: "{id}",
      problem: 'bad segment "{id}"',
    },
    {
      name: "unknown field",
      text: GOOD_RESOURCE.replace("name: View orders", "name: View orders\n            route: []"),
      at: "route:",
      problem: 'unknown field "route"',
    },
    {
      name: "unknown resource in a role",
      text: role("  - id: 10\n    name: Readers\n    resources: [ViewOrders, ViewOrdres]"),
      at: "ViewOrdres",
      problem: 'roles[0].resources[1]: unknown resource "ViewOrdres"',
    },
    {
      name: "clashing role id",
      text: role(
        "  - { id: 10, name: A, resources: [ViewOrders] }\n  - { id: 10, name: B, resources: [ViewOrders] }",
      ),
      at: "name: B",
      problem: "roles[1].id: duplicate role id 10",
    },
    {
      name: "reserved role id",
      text: role("  - { id: 2, name: A, resources: [ViewOrders] }"),
      at: "id: 2,",
      problem: "roles[0].id: predefined role ids must be integers 3-99999",
    },
    {
      name: "role name clashing with a built-in, case-insensitively",
      text: role("  - { id: 3, name: owner (admin super), resources: [ViewOrders] }"),
      at: "owner (admin super)",
      problem: 'duplicate role name "owner (admin super)"',
    },
    {
      name: "YAML syntax error",
      text: GOOD_RESOURCE.replace("name: View orders", "name: View: orders"),
      at: "View: orders",
      problem: "Nested mappings are not allowed",
    },
  ])("$name", ({ name, text, at, problem }) => {
    const file = fixture(`${name.replaceAll(" ", "-")}.yaml`, text);
    const error = loadError(file);
    expect(error.message).toMatch(new RegExp(`^${file}:${lineOf(text, at)}:\\d+: `));
    expect(error.message).toContain(problem);
  });

  it("reports problems in JSON files by line too", () => {
    const text = JSON.stringify({ roles: [{ id: 5, name: "A", resources: ["Nope"] }] }, null, 2);
    const file = fixture("bad.json", text);
    expect(loadError(file).message).toBe(
      `${file}:${lineOf(text, '"Nope"')}:9: roles[0].resources[0]: unknown resource "Nope"`,
    );
  });

  it("reports JSON syntax errors with a position", () => {
    const file = fixture("broken.json", '{\n  "roles": [\n    { "id": 5, }\n  ]\n}\n');
    expect(loadError(file).message).toMatch(new RegExp(`^${file}:3:\\d+: `));
  });

  it("names a missing file clearly", () => {
    const file = join(dir, "nope.yaml");
    expect(loadError(file).message).toBe(`${file}: catalog file not found (check CATALOG_FILE)`);
  });

  it("refuses other file types", () => {
    expect(loadError(fixture("catalog.toml", "")).message).toContain('unsupported catalog file type ".toml"');
  });

  it("lets catalog roles hold built-in resources", () => {
    const text = `${GOOD_RESOURCE}roles:\n  - { id: 99999, name: Auditors, resources: [ViewAuditLog, ViewOrders] }\n`;
    const catalog = loadCatalogFile(fixture("auditors.yml", text));
    expect(catalog.roleById(99999)).toEqual({
      id: 99999,
      name: "Auditors",
      resources: ["ViewAuditLog", "ViewOrders"],
      allResources: false,
    });
  });

  it("accepts an empty file as no additions", () => {
    expect(loadCatalogFile(fixture("empty.yaml", "")).resources).toHaveLength(BUILTIN_RESOURCES.length);
  });
});
