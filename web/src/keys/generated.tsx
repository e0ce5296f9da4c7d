/**
 * Account settings > API keys > Generated: search, filters and sort live in the address (so a reload
 * or a shared link keeps them); paging follows the API's cursors, kept as a stack for Previous.
 */
import { type ReactNode, useState } from "react";
import { client, describeError, type Key, type KeyListQuery, type KeyPage, ok } from "../api";
import { setQuery, useLocation } from "../router";
import { lacking, useAccount } from "../session";
import { Button, EmptyState, ErrorMessage, Loading } from "../ui/controls";
import { plural } from "../ui/format";
import { useLoad } from "../ui/hooks";
import { useRoleOptions } from "../ui/role-picker";
import { useToast } from "../ui/toast";
import { BulkBar } from "./generated-bulk";
import { type KeyAction, KeyTable } from "./generated-table";
import { CLEARED, type Filters, isFiltered, readFilters, Toolbar } from "./generated-toolbar";
import { EditDialog, GenerateDialog, RenewDialog } from "./key-dialogs";
import {
  CompleteRenewalDialog,
  DeactivateDialog,
  DeleteKeyDialog,
  UndoRenewalDialog,
} from "./key-dialogs-confirm";
import "./generated.css";

const PAGE_SIZE = 50;

type Open = { kind: "generate" } | { kind: Exclude<KeyAction, "activate">; key: Key };

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

function summary(total: number, filtered: boolean): string {
  if (!filtered) return plural(total, "key");
  return `${plural(total, "key")} ${total === 1 ? "matches" : "match"}`;
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
        {page.items.length ? `Showing ${from}–${to} of ${plural(page.total, "key")}` : "No keys on this page"}
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

function OpenDialog({ open, onClose, onDone }: { open: Open; onClose: () => void; onDone: () => void }) {
  const props = { onClose, onDone };
  if (open.kind === "generate") return <GenerateDialog {...props} />;
  const apiKey = open.key;
  switch (open.kind) {
    case "edit":
      return <EditDialog apiKey={apiKey} {...props} />;
    case "renew":
      return <RenewDialog apiKey={apiKey} {...props} />;
    case "deactivate":
      return <DeactivateDialog apiKey={apiKey} {...props} />;
    case "undo":
      return <UndoRenewalDialog apiKey={apiKey} {...props} />;
    case "complete":
      return <CompleteRenewalDialog apiKey={apiKey} {...props} />;
    case "delete":
      return <DeleteKeyDialog apiKey={apiKey} {...props} />;
  }
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
  const toast = useToast();
  const filters = readFilters(useLocation());
  const filtered = isFiltered(filters);
  const { list, previous, next } = useKeyPages(account, filters);
  // One load of the roles for the Role filter and for what each key holds (see `exceeds`).
  const roles = useRoleOptions();
  const [open, setOpen] = useState<Open | null>(null);
  // Key ids; only the rows of the page shown count (paging or filtering leaves the rest behind).
  const [selectedIds, setSelectedIds] = useState<ReadonlySet<string>>(new Set());

  const generateButton = can("EditApiKeys") ? (
    <Button variant="primary" onClick={() => setOpen({ kind: "generate" })}>
      Generate key
    </Button>
  ) : null;

  const onSort = (field: string) => {
    const flip = filters.order === "asc" ? "desc" : "asc";
    setQuery({ sort: field, order: field === filters.sort ? flip : field === "name" ? "asc" : "desc" });
  };

  // Activating breaks nothing, so it needs no dialog; a refusal is reported in a toast.
  const onAction = (action: KeyAction, key: Key) => {
    if (action !== "activate") return setOpen({ kind: action, key });
    client
      .PATCH("/v1/accounts/{account}/keys/{appKey}", {
        params: { path: { account, appKey: key.appKey } },
        body: { active: true },
      })
      .then(
        () => toast(`Key “${key.name}” activated`),
        (error: unknown) => toast(`Could not activate “${key.name}”: ${describeError(error)}`, "error"),
      )
      .finally(list.reload);
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
          onAction={onAction}
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
          {page ? summary(page.total, filtered) : "\u00a0"}
        </p>
        {generateButton}
      </div>
      <Toolbar filters={filters} filtered={filtered} roles={roles} />
      <BulkBar keys={selectedKeys} onClear={() => setSelectedIds(new Set())} onDone={list.reload} />
      {body}
      {open ? <OpenDialog open={open} onClose={() => setOpen(null)} onDone={list.reload} /> : null}
    </div>
  );
}
