/**
 * Account settings > API keys > Generated: search, filters and sort live in the address (so a reload
 * or a shared link keeps them); paging follows the API's cursors, kept as a stack for Previous.
 */
import { type ReactNode, useState } from "react";
import { client, type Key, type KeyListQuery, type KeyPage, ok } from "../api";
import { setQuery, useLocation } from "../router";
import { lacking, useAccount } from "../session";
import { Button, EmptyState, ErrorMessage, Loading } from "../ui/controls";
import { plural } from "../ui/format";
import { useLoad } from "../ui/hooks";
import { useRoleOptions } from "../ui/role-picker";
import { BulkBar } from "./generated-bulk";
import { KeyTable } from "./generated-table";
import { CLEARED, type Filters, isFiltered, readFilters, Toolbar } from "./generated-toolbar";
import { ImportDialog } from "./import-dialog";
import { useKeyActions } from "./key-actions";
import { GenerateDialog } from "./key-dialogs";
import "./generated.css";

const PAGE_SIZE = 50;

/** One page of keys for the filters; the cursor stack starts over whenever the filters change. */
function useKeyPages(account: string, filters: Filters) {
  const filterKey = JSON.stringify(filters);
  const [paging, setPaging] = useState({ key: filterKey, cursors: [] as string[] });
  const cursors = paging.key === filterKey ? paging.cursors : [];
  const cursor = cursors.at(-1);
  const list = useLoad(async () => {
    const query: KeyListQuery = { sort: filters.sort, order: filters.order, limit: PAGE_SIZE };
    // readFilters kept only values the API accepts; empty ones are unset.
    if (filters.q) query.q = filters.q;
    if (filters.status) query.status = filters.status as Key["status"];
    if (filters.role) query.role = Number(filters.role);
    if (filters.alert) query.alert = filters.alert as Key["alert"];
    if (filters.expiry) query.expiry = filters.expiry as NonNullable<KeyListQuery["expiry"]>;
    if (filters.control) query.control = filters.control as NonNullable<KeyListQuery["control"]>;
    if (cursor) query.cursor = cursor;
    const page = await ok(
      client.GET("/v1/accounts/{account}/keys", { params: { path: { account }, query } }),
    );
    return { page, offset: cursors.length * PAGE_SIZE };
  }, [account, filterKey, cursor]);
  const nextCursor = list.data?.page.nextCursor;
  return {
    list,
    previous: cursors.length ? () => setPaging({ key: filterKey, cursors: cursors.slice(0, -1) }) : undefined,
    next: nextCursor ? () => setPaging({ key: filterKey, cursors: [...cursors, nextCursor] }) : undefined,
  };
}

/**
 * The page's total: "1,000+ keys" when the count stopped there (a broad filter, `totalExact` false),
 * past it the keys shown so far ("1,050+" on the 21st page), and on the last page, whose end is the
 * end of the list, the exact count. `shown`: the keys up to this page's last (0: not known).
 */
function keysText(page: KeyPage, shown = 0): string {
  if (page.totalExact) return plural(page.total, "key");
  if (shown > 0 && page.nextCursor === null) return plural(shown, "key");
  return `${Math.max(page.total, shown).toLocaleString("en")}+ keys`;
}

function summary(page: KeyPage, filtered: boolean): string {
  if (!filtered) return keysText(page);
  return `${keysText(page)} ${page.total === 1 && page.totalExact ? "matches" : "match"}`;
}

function Pager({
  page,
  offset,
  busy,
  previous,
  next,
}: {
  page: KeyPage;
  offset: number;
  busy: boolean;
  previous: (() => void) | undefined;
  next: (() => void) | undefined;
}) {
  const from = (offset + 1).toLocaleString("en");
  const to = (offset + page.items.length).toLocaleString("en");
  return (
    <nav className="pager" aria-label="Pages of keys">
      <p className="muted" aria-live="polite">
        {page.items.length
          ? `Showing ${from}–${to} of ${keysText(page, offset + page.items.length)}`
          : "No keys on this page"}
      </p>
      <div className="generated-pager-buttons">
        <Button disabled={!previous || busy} onClick={previous}>
          Previous
        </Button>
        <Button disabled={!next || busy} onClick={next}>
          Next
        </Button>
      </div>
    </nav>
  );
}

function NoKeys({ filtered, generateButton }: { filtered: boolean; generateButton: ReactNode }) {
  if (filtered)
    return (
      <EmptyState title="No key matches">
        <p>Try another search, or clear the filters.</p>
        <Button onClick={() => setQuery(CLEARED)}>Clear filters</Button>
      </EmptyState>
    );
  return (
    <EmptyState title="No keys yet">
      <p>Generate a key for each integration that calls this account's APIs.</p>
      {generateButton ?? <p>{lacking("EditApiKeys")}.</p>}
    </EmptyState>
  );
}

export function GeneratedTab() {
  const { account, can } = useAccount();
  const filters = readFilters(useLocation());
  const filtered = isFiltered(filters);
  const { list, previous, next } = useKeyPages(account, filters);
  // One load of the roles for the Role filter and for what each key holds (see `exceeds`).
  const roles = useRoleOptions();
  const [generating, setGenerating] = useState(false);
  const [importing, setImporting] = useState(false);
  const actions = useKeyActions(list.reload);
  // Key ids; only the rows of the page shown count (paging or filtering leaves the rest behind).
  const [selectedIds, setSelectedIds] = useState<ReadonlySet<string>>(new Set());

  const generateButton = can("EditApiKeys") ? (
    <Button variant="primary" onClick={() => setGenerating(true)}>
      Generate key
    </Button>
  ) : null;

  const onSort = (field: string) => {
    const flip = filters.order === "asc" ? "desc" : "asc";
    setQuery({ sort: field, order: field === filters.sort ? flip : field === "name" ? "asc" : "desc" });
  };

  const page = list.data?.page;
  const offset = list.data?.offset ?? 0;
  const selectedKeys = page?.items.filter((key) => selectedIds.has(key.id)) ?? [];
  const selection = can("EditApiKeys")
    ? {
        selected: new Set(selectedKeys.map((key) => key.id)),
        onChange: setSelectedIds,
        label: (key: Key) => `Select ${key.name}`,
        allLabel: "Select every key on this page",
      }
    : undefined;
  let body: ReactNode;
  if (list.error) body = <ErrorMessage error={list.error} onRetry={list.reload} />;
  else if (!page) body = <Loading label="Loading keys…" />;
  else if (page.items.length === 0 && offset === 0)
    body = <NoKeys filtered={filtered} generateButton={generateButton} />;
  else
    body = (
      <div className="generated-list" aria-busy={list.loading || undefined}>
        <KeyTable
          keys={page.items}
          sort={{ field: filters.sort, order: filters.order }}
          onSort={onSort}
          onAction={actions.run}
          roles={roles.data?.roles}
          selection={selection}
        />
        <Pager page={page} offset={offset} busy={list.loading} previous={previous} next={next} />
      </div>
    );

  return (
    <div className="generated">
      <div className="generated-head">
        <p className="muted" aria-live="polite">
          {page ? summary(page, filtered) : "\u00a0"}
        </p>
        <div className="generated-actions">
          {can("EditApiKeys") ? <Button onClick={() => setImporting(true)}>Import keys</Button> : null}
          {generateButton}
        </div>
      </div>
      <Toolbar filters={filters} filtered={filtered} roles={roles} />
      <BulkBar keys={selectedKeys} onClear={() => setSelectedIds(new Set())} onDone={list.reload} />
      {body}
      {generating ? <GenerateDialog onClose={() => setGenerating(false)} onDone={list.reload} /> : null}
      {importing ? <ImportDialog onClose={() => setImporting(false)} onDone={list.reload} /> : null}
      {actions.dialog}
    </div>
  );
}
