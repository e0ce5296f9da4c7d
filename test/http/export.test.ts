import { randomUUID } from "node:crypto";
import ExcelJS from "exceljs";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { hashToken } from "../../src/crypto/token-hash.js";
import {
  CSV_COLUMNS,
  EXTERNAL_COLUMNS,
  GENERATED_COLUMNS,
  XLSX_DATE_FORMAT,
} from "../../src/services/export.js";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";

const EXPORT = "/v1/accounts/acme/keys/export";
const DAY = 24 * 3600 * 1000;

/** GET through the app, reading the body as bytes (xlsx is binary). */
async function download(harness: Harness, query: string, as: Credentials = harness.owner) {
  const res = await harness.app.request(`${EXPORT}${query}`, {
    headers: { "x-api-appkey": as.appKey, "x-api-apptoken": as.appToken },
  });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks; lines end in CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") {
      row.push(field);
      field = "";
    } else if (char === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += char;
  }
  expect(field, "the file ends with CRLF").toBe("");
  return rows;
}

function toCell(value: unknown): string | null {
  if (value instanceof Date) return value.toISOString();
  return value === undefined || value === null || value === "" ? null : String(value);
}

async function readXlsx(bytes: Buffer) {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  return Object.fromEntries(
    workbook.worksheets.map((sheet) => {
      const rows: (string | null)[][] = [];
      sheet.eachRow({ includeEmpty: false }, (row) => {
        const values = row.values as unknown[];
        // Empty cells read back as holes: compare them as null.
        rows.push(Array.from({ length: sheet.columnCount }, (_, i) => toCell(values[i + 1])));
      });
      return [sheet.name, rows];
    }),
  );
}

describe("key export", () => {
  let h: Harness;
  const tokens: string[] = [];
  let external: { appKey: string; id: string };

  beforeAll(async () => {
    h = await createHarness();
    // One second apart, so that creation order is the order of this list.
    h.advance(1000);
    const erp = await h.createKey('ERP, the "main" one', [10, 2]);
    h.advance(1000);
    await h.createKey('=HYPERLINK("http://evil.test","click")');
    h.advance(1000);
    const off = await h.createKey("@retired");
    await h.request("PATCH", `/v1/accounts/acme/keys/${off.appKey}`, { body: { active: false } });
    h.advance(DAY - 3000);
    const renewed = await h.request("POST", `/v1/accounts/acme/keys/${erp.appKey}/renewal`, { body: {} });
    expect(renewed.status, renewed.text).toBe(201);
    const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
    const betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
    const partner = await h.createKey("partner", [], "beta", betaOwner);
    const added = await h.request("POST", "/v1/accounts/acme/external-keys", {
      body: { appKey: partner.appKey, roles: [10] },
    });
    expect(added.status).toBe(201);
    external = { appKey: partner.appKey, id: added.body.id };
    tokens.push(
      h.owner.appToken,
      erp.appToken,
      off.appToken,
      renewed.body.appToken,
      beta.appToken,
      partner.appToken,
    );
  });
  afterAll(() => h.close());

  it("csv: one file, a header, a type column, RFC 4180 quoting and formula protection", async () => {
    const res = await download(h, "?format=csv");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers.get("content-disposition")).toBe(
      'attachment; filename="latchkey-acme-keys-2026-11-27.csv"',
    );
    const [header, ...rows] = parseCsv(res.bytes.toString("utf8"));
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(rows.map((row) => row[0])).toEqual([
      "generated",
      "generated",
      "generated",
      "generated",
      "external",
    ]);
    const byLabel = new Map(
      rows.map((row) => [row[3], Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, row[i]]))]),
    );
    const erp = byLabel.get('ERP, the "main" one');
    expect(erp).toMatchObject({
      roles: "User Administrator - RESTRICTED; OMS - Read only",
      creationDate: "2026-11-26T10:00:01.000Z",
      creationDateToken: "2026-11-26T10:00:01.000Z",
      creationDateNewToken: "2026-11-27T10:00:00.000Z",
      status: "active",
      alert: "none",
      lastUsedAt: "",
      account: "",
      addedDate: "",
    });
    expect(byLabel.has('\'=HYPERLINK("http://evil.test","click")')).toBe(true);
    expect(byLabel.get("'@retired")).toMatchObject({ status: "inactive", inactiveReason: "deactivated" });
    expect(erp).toMatchObject({ inactiveReason: "" });
    expect(rows.at(-1)).toEqual([
      "external",
      external.id,
      external.appKey,
      "",
      "OMS - Read only",
      "",
      "",
      "",
      "active",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      // rateLimit, quotaRemaining, quotaRefill: an external key has no controls of its own.
      "",
      "",
      "",
      "beta",
      "2026-11-27T10:00:00.000Z",
    ]);
  });

  it("json: {generated, external} with exactly the spec's columns, in creation order", async () => {
    const res = await download(h, "?format=json");
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("content-disposition")).toContain('filename="latchkey-acme-keys-2026-11-27.json"');
    const body = JSON.parse(res.bytes.toString("utf8"));
    expect(Object.keys(body)).toEqual(["generated", "external"]);
    for (const row of body.generated) expect(Object.keys(row)).toEqual([...GENERATED_COLUMNS]);
    expect(body.generated.map((row: { label: string }) => row.label)).toEqual([
      "Bootstrap key",
      'ERP, the "main" one',
      '=HYPERLINK("http://evil.test","click")',
      "@retired",
    ]);
    expect(body.generated[1]).toMatchObject({
      lastUsedAt: null,
      creationDateNewToken: "2026-11-27T10:00:00.000Z",
    });
    expect(body.generated[2].creationDateNewToken).toBeNull();
    expect(body.external).toEqual([
      {
        id: external.id,
        keyName: external.appKey,
        roles: "OMS - Read only",
        account: "beta",
        addedDate: "2026-11-27T10:00:00.000Z",
        status: "active",
        lastUsedAt: null,
      },
    ]);
  });

  it("xlsx: sheets Generated and External with the same rows as json", async () => {
    const res = await download(h, "?format=xlsx");
    expect(res.headers.get("content-type")).toBe(
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    );
    expect(res.headers.get("content-disposition")).toContain('filename="latchkey-acme-keys-2026-11-27.xlsx"');
    const sheets = await readXlsx(res.bytes);
    expect(Object.keys(sheets)).toEqual(["Generated", "External"]);
    const json = JSON.parse((await download(h, "?format=json")).bytes.toString("utf8"));
    const asRows = (items: Record<string, string | null>[], columns: readonly string[]) =>
      items.map((item) => columns.map((column) => toCell(item[column])));
    expect(sheets.Generated).toEqual([[...GENERATED_COLUMNS], ...asRows(json.generated, GENERATED_COLUMNS)]);
    expect(sheets.External).toEqual([[...EXTERNAL_COLUMNS], ...asRows(json.external, EXTERNAL_COLUMNS)]);
  });

  it("xlsx: instants are date cells shown to the second, text stays text", async () => {
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load((await download(h, "?format=xlsx")).bytes as unknown as ArrayBuffer);
    for (const [name, columns] of [
      ["Generated", GENERATED_COLUMNS],
      ["External", EXTERNAL_COLUMNS],
    ] as const) {
      const sheet = workbook.getWorksheet(name);
      const row = sheet?.getRow(2);
      const dateColumn =
        (columns as readonly string[]).indexOf(name === "Generated" ? "creationDate" : "addedDate") + 1;
      expect(row?.getCell(dateColumn).type).toBe(ExcelJS.ValueType.Date);
      expect(row?.getCell(dateColumn).numFmt).toBe(XLSX_DATE_FORMAT);
      expect(row?.getCell(columns.indexOf("keyName") + 1).type).toBe(ExcelJS.ValueType.String);
    }
  });

  it("never contains a token or a token hash, in any format", async () => {
    const texts = [
      (await download(h, "?format=csv")).bytes.toString("utf8"),
      (await download(h, "?format=json")).bytes.toString("utf8"),
      JSON.stringify(await readXlsx((await download(h, "?format=xlsx")).bytes)),
    ];
    expect(tokens).toHaveLength(6);
    for (const text of texts) {
      for (const token of tokens) {
        expect(text).not.toContain(token);
        expect(text).not.toContain(hashToken(token));
      }
      expect(text).not.toContain("lkt_");
    }
  });

  it("defaults to csv and refuses bad queries and callers without ViewApiKeys", async () => {
    const plain = await download(h, "");
    expect([plain.status, plain.headers.get("content-type")?.startsWith("text/csv")]).toEqual([200, true]);
    for (const query of ["?format=pdf", "?format=CSV", "?format=csv&limit=5", "?format="]) {
      const res = await h.request("GET", `${EXPORT}${query}`);
      expect([res.status, res.body.code], query).toEqual([400, "VALIDATION_FAILED"]);
    }
    const noRoles = await h.createKey("no roles");
    expect((await h.request("GET", EXPORT, { as: noRoles })).body.code).toBe("FORBIDDEN");
    expect((await h.request("GET", "/v1/accounts/beta/keys/export")).status).toBe(403);
    expect((await h.request("GET", EXPORT, { as: null })).status).toBe(401);
  });

  it("authenticates each request once: the /keys/{appKey} guard never runs for the export", async () => {
    // Signed in as the owner: each authentication of the session cookie reads the session once.
    const login = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "owner@acme.test", password: OWNER_PASSWORD },
    });
    expect(login.status).toBe(200);
    const cookie = login.headers
      .getSetCookie()
      .map((line) => line.split(";")[0])
      .join("; ");
    const sessionReads = vi.spyOn(h.store.sessions, "get");
    try {
      for (const format of ["csv", "json", "xlsx"]) {
        const res = await h.app.request(`${EXPORT}?format=${format}`, { headers: { cookie } });
        expect([res.status, res.headers.get("content-disposition")]).toEqual([
          200,
          `attachment; filename="latchkey-acme-keys-2026-11-27.${format}"`,
        ]);
        await res.arrayBuffer();
        expect(sessionReads, format).toHaveBeenCalledTimes(1);
        sessionReads.mockClear();
      }
      // Refusals stop at the export's own guard too.
      expect((await h.app.request(`${EXPORT}?format=pdf`, { headers: { cookie } })).status).toBe(400);
      expect((await h.app.request("/v1/accounts/beta/keys/export", { headers: { cookie } })).status).toBe(
        403,
      );
      expect(sessionReads).toHaveBeenCalledTimes(2);
      // The count sees a key route's guard as well: one authentication there too.
      sessionReads.mockClear();
      const one = await h.app.request(`/v1/accounts/acme/keys/${h.owner.appKey}`, { headers: { cookie } });
      expect([one.status, sessionReads.mock.calls.length]).toEqual([200, 1]);
    } finally {
      sessionReads.mockRestore();
    }
  });
});

describe("key export at scale", () => {
  let h: Harness;
  const KEYS = 6000;
  const PAGES = Math.ceil((KEYS + 1) / 200);

  beforeAll(async () => {
    h = await createHarness();
    // Spread over the last 200 days, oldest first: red, then orange, then no alert.
    const start = Date.parse("2026-11-26T10:00:00Z") - 200 * DAY;
    await h.store.transaction(async (tx) => {
      for (let i = 0; i < KEYS; i++) {
        const createdAt = start + Math.floor((i * 190 * DAY) / KEYS);
        await tx.keys.create({
          id: randomUUID(),
          appKey: `appkey-acme-${suffix(i)}`,
          account: "acme",
          name: `bulk ${i}`,
          active: true,
          createdAt,
          token: { id: randomUUID(), hash: hashToken(`token-${i}`), createdAt },
          roleIds: [10],
        });
      }
    });
  });
  afterAll(() => h.close());
  afterEach(() => vi.restoreAllMocks());

  function open(format: string) {
    return h.app.request(`${EXPORT}?format=${format}`, {
      headers: { "x-api-appkey": h.owner.appKey, "x-api-apptoken": h.owner.appToken },
    });
  }

  it("pages through the store 200 at a time, in creation order, without counting", async () => {
    const spy = vi.spyOn(h.store.keys, "list");
    const body = JSON.parse((await download(h, "?format=json")).bytes.toString("utf8"));
    expect(body.generated).toHaveLength(KEYS + 1);
    expect(new Set(body.generated.map((row: { id: string }) => row.id)).size).toBe(KEYS + 1);
    const bulk = body.generated.filter((row: { label: string }) => row.label.startsWith("bulk"));
    expect(bulk.map((row: { label: string }) => row.label)).toEqual(
      Array.from({ length: KEYS }, (_, i) => `bulk ${i}`),
    );
    expect(new Set(bulk.map((row: { alert: string }) => row.alert))).toEqual(
      new Set(["red", "orange", "none"]),
    );
    expect(spy).toHaveBeenCalledTimes(PAGES);
    for (const [query] of spy.mock.calls) {
      expect(query).toMatchObject({ sort: "createdAt", order: "asc", limit: 200, skipTotal: true });
    }
  });

  for (const [format, pageSize] of [
    ["csv", 200],
    ["xlsx", 50],
  ] as const) {
    it(`${format}: reads the store only as fast as the client takes the file`, async () => {
      const spy = vi.spyOn(h.store.keys, "list");
      const reader = ((await open(format)).body as ReadableStream<Uint8Array>).getReader();
      const chunks: Uint8Array[] = [];
      chunks.push((await reader.read()).value as Uint8Array);
      await new Promise((resolve) => setTimeout(resolve, 500));
      // A stalled reader holds the writer a few hundred keys ahead at most.
      const keysRead = () => spy.mock.calls.reduce((sum, [query]) => sum + query.limit, 0);
      expect(keysRead()).toBeLessThan(1600);
      for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
      expect(spy).toHaveBeenCalledTimes(Math.ceil((KEYS + 1) / pageSize));
      for (const [query] of spy.mock.calls) expect(query.limit).toBe(pageSize);
      const bytes = Buffer.concat(chunks);
      const rows =
        format === "csv"
          ? parseCsv(bytes.toString("utf8")).length
          : ((await readXlsx(bytes)).Generated?.length ?? 0);
      expect(rows).toBe(KEYS + 2); // header + owner key + bulk keys
    });

    it(`${format}: a cancelled download stops reading the store, quietly`, async () => {
      const spy = vi.spyOn(h.store.keys, "list");
      const reader = ((await open(format)).body as ReadableStream<Uint8Array>).getReader();
      expect((await reader.read()).done).toBe(false);
      await reader.cancel();
      // Any late write error of an abandoned workbook would surface here as an unhandled error.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(spy.mock.calls.reduce((sum, [query]) => sum + query.limit, 0)).toBeLessThan(1600);
      expect(h.logLines.join("")).not.toContain("unhandled");
    });
  }

  for (const format of ["csv", "json", "xlsx"]) {
    it(`${format}: a store failure mid-stream is logged and aborts the download`, async () => {
      const real = h.store.keys.list.bind(h.store.keys);
      let calls = 0;
      vi.spyOn(h.store.keys, "list").mockImplementation(async (query) => {
        calls += 1;
        if (calls === 2) throw new Error("database went away");
        return real(query);
      });
      const res = await open(format);
      expect(res.status).toBe(200);
      await expect(res.arrayBuffer()).rejects.toThrow("key export aborted");
      const logged = h.logLines.map((line) => JSON.parse(line)).find((line) => line.format === format);
      expect(logged).toMatchObject({
        level: "error",
        account: "acme",
        msg: expect.stringContaining("aborted"),
      });
      expect(JSON.stringify(logged)).toContain("database went away");
    });
  }
});

/** Six letters from a number, for distinct appKeys. */
function suffix(n: number): string {
  let out = "";
  for (let i = 0, rest = n; i < 6; i++, rest = Math.floor(rest / 26)) {
    out = String.fromCharCode(65 + (rest % 26)) + out;
  }
  return out;
}
