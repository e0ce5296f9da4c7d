/**
 * The Approvals tab: requests to add external keys, made while the account requires approval
 * (Settings > Policies). A request grants nothing until someone other than its requester, holding
 * Edit API keys and every resource of the roles asked for, approves it; anyone who may edit keys
 * rejects it (the requester so withdraws it). Requests expire after 7 days. The server decides every
 * rule; the buttons only say beforehand what it would refuse.
 */
import { useState } from "react";
import { client, type ExternalKeyRequest, ok } from "../api";
import { exceeds, lacking, useAccount } from "../session";
import { Badge, Button, EmptyState, ErrorMessage, InlineError, Loading } from "../ui/controls";
import { formatDate } from "../ui/format";
import { useAction, useLoad } from "../ui/hooks";
import { RoleList, useRoleOptions } from "../ui/role-picker";
import { type Column, DataTable } from "../ui/table";
import { useToast } from "../ui/toast";
import "./external.css";

const OWN_REQUEST =
  "You made this request (or it was made by you or a key you created): someone else must approve it";

export function ApprovalsTab() {
  const access = useAccount();
  const { account, can } = access;
  const toast = useToast();
  const { data, error, loading, reload } = useLoad(
    () => ok(client.GET("/v1/accounts/{account}/external-keys/requests", { params: { path: { account } } })),
    [account],
  );
  const roles = useRoleOptions().data?.roles;
  const [acting, setActing] = useState<string | null>(null);
  const editReason = can("EditApiKeys") ? undefined : lacking("EditApiKeys");
  const decide = useAction(async (row: ExternalKeyRequest, decision: "approve" | "reject") => {
    setActing(`${decision}:${row.appKey}`);
    const params = { path: { account, appKey: row.appKey } };
    try {
      if (decision === "approve") {
        await ok(client.POST("/v1/accounts/{account}/external-keys/requests/{appKey}/approve", { params }));
        toast(`Approved ${row.appKey}: it now holds its roles in ${account}`);
      } else {
        await ok(client.POST("/v1/accounts/{account}/external-keys/requests/{appKey}/reject", { params }));
        toast(row.byYou ? `Request for ${row.appKey} withdrawn` : `Request for ${row.appKey} rejected`);
      }
    } finally {
      setActing(null);
      reload();
    }
  });
  const approveReason = (row: ExternalKeyRequest) =>
    editReason ?? (row.byYou ? OWN_REQUEST : exceeds(access, "key", row.roles, roles));

  const columns: Column<ExternalKeyRequest>[] = [
    {
      key: "key",
      header: "Key / Owner",
      label: "Key / Owner",
      cell: (row) => (
        <>
          <span className="key-name mono">{row.appKey}</span>
          <span className="external-owner">
            Owner: <strong>{row.account}</strong>
            {row.keyStatus === "inactive" ? <Badge title="Deactivated by its owner">Inactive</Badge> : null}
          </span>
        </>
      ),
    },
    {
      key: "roles",
      header: "Roles asked for",
      label: "Roles asked for",
      cell: (row) => <RoleList roles={row.roles} />,
    },
    {
      key: "by",
      header: "Requested by",
      label: "Requested by",
      cell: (row) => (
        <>
          <span className={row.requestedBy.type === "key" ? "mono" : undefined}>{row.requestedBy.label}</span>{" "}
          {row.byYou ? <Badge tone="info">You</Badge> : null}
        </>
      ),
    },
    { key: "requested", header: "Requested", label: "Requested", cell: (row) => formatDate(row.requestedAt) },
    { key: "expires", header: "Expires", label: "Expires", cell: (row) => formatDate(row.expiresAt) },
    {
      key: "actions",
      header: <span className="visually-hidden">Actions</span>,
      label: "Actions",
      className: "actions",
      cell: (row) => (
        <span className="approval-actions">
          <Button
            variant="primary"
            aria-label={`Approve ${row.appKey}`}
            busy={acting === `approve:${row.appKey}`}
            disabledReason={approveReason(row)}
            onClick={() => void decide.run(row, "approve")}
          >
            Approve
          </Button>
          <Button
            variant="danger"
            aria-label={`${row.byYou ? "Withdraw" : "Reject"} ${row.appKey}`}
            busy={acting === `reject:${row.appKey}`}
            disabledReason={editReason}
            onClick={() => void decide.run(row, "reject")}
          >
            {row.byYou ? "Withdraw" : "Reject"}
          </Button>
        </span>
      ),
    },
  ];

  return (
    <>
      <div className="toolbar external-toolbar">
        <p className="hint grow">
          Requests to add other accounts' keys to {account}. A request grants nothing until someone other than
          its requester approves it; it expires after 7 days.
        </p>
      </div>
      {data?.items.some((row) => row.byYou) ? (
        <p className="hint">
          Requests marked “You” are yours: someone else must approve them; you may withdraw them.
        </p>
      ) : null}
      {decide.error ? <InlineError error={decide.error} /> : null}
      {loading && !data ? (
        <Loading label="Loading requests…" />
      ) : error ? (
        <ErrorMessage error={error} onRetry={reload} />
      ) : data && data.items.length === 0 ? (
        <EmptyState title="No pending requests">
          <p>
            When the account requires approval of external keys (Settings › Policies), adding one makes a
            request that appears here.
          </p>
        </EmptyState>
      ) : data ? (
        <DataTable
          caption={`Pending requests to add external keys to ${account}`}
          columns={columns}
          rows={data.items}
          rowKey={(row) => row.appKey}
        />
      ) : null}
    </>
  );
}
