/**
 * The audit log (ViewAuditLog): filterable, newest first, paged by cursor; export with the same
 * filters; and the check of the account's hash chain. Events never carry a secret (docs/audit.md).
 */
import { useState } from "react";
import {
  type AuditChainCheck,
  type AuditEvent,
  type AuditListQuery,
  accountPath,
  client,
  ok,
  withQuery,
} from "../api";
import { useLocation } from "../router";
import { useAccount } from "../session";
import { Button, EmptyState, ErrorMessage, InlineError, Loading, PageHeader } from "../ui/controls";
import { download } from "../ui/download";
import { plural } from "../ui/format";
import { useAction, useLoad } from "../ui/hooks";
import { Menu } from "../ui/menu";
import { AuditFilters, apiQuery, filtersOf } from "./audit-filters";
import { AuditTable } from "./audit-table";
import { NoAccess } from "./roles-users-common";
import "./audit.css";

const PAGE_SIZE = 50;

export function AuditPage() {
  const { can } = useAccount();
  if (!can("ViewAuditLog"))
    return <NoAccess title="Audit log" what="this account's audit log" resource="ViewAuditLog" />;
  return <AuditLog />;
}

function AuditLog() {
  const { account } = useAccount();
  const location = useLocation();
  const filters = filtersOf(location.searchParams);
  const query = apiQuery(filters);
  const events = useAuditEvents(account, query);
  const [check, setCheck] = useState<AuditChainCheck | null>(null);
  const verify = useAction(async () => {
    setCheck(null);
    setCheck(await ok(client.GET("/v1/accounts/{account}/audit/verify", { params: { path: { account } } })));
  });
  const exportAs = (format: "csv" | "json") =>
    download(withQuery(accountPath(account, "audit", "export"), { format, ...query }));

  return (
    <>
      <PageHeader
        title="Audit log"
        actions={
          <>
            <Button onClick={events.reload}>Refresh</Button>
            <Button busy={verify.busy} onClick={() => void verify.run()}>
              Verify chain
            </Button>
            <Menu
              label="Export audit log"
              buttonText="Export ▾"
              items={[
                { label: "CSV (.csv)", onSelect: () => exportAs("csv") },
                { label: "JSON (.json)", onSelect: () => exportAs("json") },
              ]}
            />
          </>
        }
      >
        <p className="subtitle">
          Who changed what in this account, and from where. Times are UTC; exports use the filters below.
        </p>
      </PageHeader>
      <ChainResult check={check} error={verify.error} />
      <AuditFilters key={location.search} filters={filters} />
      <Events events={events} filtered={Object.keys(filters).length > 0} />
    </>
  );
}

function ChainResult({ check, error }: { check: AuditChainCheck | null; error: unknown }) {
  if (error) return <InlineError error={error} />;
  if (!check) return null;
  if (check.ok)
    return (
      <p className="notice audit-chain audit-chain-ok" role="status">
        <strong>Chain intact.</strong> {plural(check.checked, "event")} of this account checked
        {check.head ? `; the newest is #${check.head.seq}` : ""}. No event was changed, inserted or removed.
        {check.head && check.head.seq > check.checked
          ? " Event numbers are counted across every account of this server, so the numbers that other accounts' events took are not in this chain."
          : ""}
      </p>
    );
  const broken = check.firstBroken;
  return (
    <div className="danger-box audit-chain" role="alert">
      <p>
        <strong>Chain broken</strong>
        {broken?.seq !== null && broken?.seq !== undefined ? ` at event #${broken.seq}` : ""}
        {broken?.id ? ` (${broken.id})` : ""}: {broken?.reason.replaceAll("_", " ")}.
      </p>
      {broken?.detail ? <p>{broken.detail}</p> : null}
      <p>{plural(check.checked, "event")} checked before the break.</p>
    </div>
  );
}

function Events({ events, filtered }: { events: ReturnType<typeof useAuditEvents>; filtered: boolean }) {
  if (events.error) return <ErrorMessage error={events.error} onRetry={events.reload} />;
  if (events.loading) return <Loading label="Loading events…" />;
  if (events.items.length === 0)
    return (
      <EmptyState title={filtered ? "No event matches these filters" : "No event yet"}>
        {filtered ? <p>Change or clear the filters to see more.</p> : null}
      </EmptyState>
    );
  return (
    <>
      <AuditTable events={events.items} />
      <div className="pager">
        <p className="hint" aria-live="polite">
          {plural(events.items.length, "event")} shown{events.hasMore ? ", more are older" : ""}.
        </p>
        {events.hasMore ? (
          <Button busy={events.loadingMore} onClick={() => void events.loadMore()}>
            Load more
          </Button>
        ) : null}
      </div>
      <InlineError error={events.moreError} />
    </>
  );
}

/** The first page follows the filters; "Load more" appends older pages by cursor. */
function useAuditEvents(account: string, query: AuditListQuery) {
  const key = JSON.stringify(query);
  const list = (cursor?: string) =>
    ok(
      client.GET("/v1/accounts/{account}/audit", {
        params: { path: { account }, query: { ...query, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } },
      }),
    );
  const first = useLoad(() => list(), [account, key]);
  const [more, setMore] = useState<{ key: string; items: AuditEvent[]; next: string | null } | null>(null);
  const extra = more?.key === key ? more : null;
  const next = extra ? extra.next : (first.data?.nextCursor ?? null);
  const loader = useAction(async () => {
    if (!next) return;
    const page = await list(next);
    setMore((current) => ({
      key,
      items: [...(current?.key === key ? current.items : []), ...page.items],
      next: page.nextCursor,
    }));
  });
  return {
    items: [...(first.data?.items ?? []), ...(extra?.items ?? [])],
    error: first.error,
    loading: first.loading,
    hasMore: next !== null,
    loadMore: loader.run,
    loadingMore: loader.busy,
    moreError: loader.error,
    reload: () => {
      setMore(null);
      first.reload();
    },
  };
}
