/** A key's audit trail: the account's audit events whose target is this appKey, newest first. */
import { type AuditEvent, client, ok } from "../api";
import { lacking, useAccount } from "../session";
import { EmptyState, ErrorMessage, Loading } from "../ui/controls";
import { formatDateTime } from "../ui/format";
import { useLoad } from "../ui/hooks";
import { type Column, DataTable } from "../ui/table";

const LIMIT = 50;

const ACTIONS: Record<string, string> = {
  "key.created": "Created",
  "key.renamed": "Renamed",
  "key.roles_set": "Roles changed",
  "key.activated": "Activated",
  "key.deactivated": "Deactivated",
  "key.deactivated_by_policy": "Deactivated by policy",
  "key.deactivated_leak": "Deactivated: token reported leaked",
  "key.deleted": "Deleted",
  "key.renewal_started": "Token renewal started",
  "key.renewal_completed": "Old token deleted",
  "key.renewal_undone": "Token renewal undone",
  "key.alert.orange": "Renewal alert: orange",
  "key.alert.red": "Renewal alert: red",
  "share_link.revealed": "Share link opened",
};

const columns: Column<AuditEvent>[] = [
  { key: "at", header: "When", label: "When", cell: (event) => formatDateTime(event.at) },
  {
    key: "action",
    header: "What",
    label: "What",
    cell: (event) => (
      <>
        {ACTIONS[event.action] ?? event.action}
        <span className="key-id">{event.action}</span>
      </>
    ),
  },
  {
    key: "actor",
    header: "By",
    label: "By",
    cell: (event) =>
      event.actor.type === "system" ? <span className="muted">latchkey (system)</span> : event.actor.label,
  },
  { key: "ip", header: "From", label: "From", cell: (event) => event.ip ?? <span className="muted">—</span> },
];

export function KeyAuditTrail({ appKey }: { appKey: string }) {
  const { account, can } = useAccount();
  if (!can("ViewAuditLog"))
    return <p className="hint">{lacking("ViewAuditLog")}: the key's audit trail is hidden from you.</p>;
  return <Trail account={account} appKey={appKey} />;
}

function Trail({ account, appKey }: { account: string; appKey: string }) {
  const { data, error, loading, reload } = useLoad(
    () =>
      ok(
        client.GET("/v1/accounts/{account}/audit", {
          params: { path: { account }, query: { target: appKey, limit: LIMIT } },
        }),
      ),
    [account, appKey],
  );
  if (loading && !data) return <Loading label="Loading the audit trail…" />;
  if (error) return <ErrorMessage error={error} onRetry={reload} />;
  if (!data || data.items.length === 0) return <EmptyState title="No audit events for this key yet" />;
  return (
    <>
      <DataTable
        caption={`Audit trail of ${appKey}, newest first`}
        columns={columns}
        rows={data.items}
        rowKey={(event) => event.id}
      />
      {data.nextCursor ? (
        <p className="hint detail-more">Showing the latest {LIMIT} events; the audit log has them all.</p>
      ) : null}
    </>
  );
}
