/** The Generated tab's table: one row per key, with its badges and the row menu. */

import type { ReactNode } from "react";
import type { Key, Role } from "../api";
import { adminPath, Link, navigate } from "../router";
import { useAccount } from "../session";
import { Badge } from "../ui/controls";
import { formatDate } from "../ui/format";
import type { MenuItem } from "../ui/menu";
import { Menu } from "../ui/menu";
import { RoleList } from "../ui/role-picker";
import { type Column, DataTable, type Selection, type SortState } from "../ui/table";
import { StatusBadge } from "./inactive-reason";
import { type KeyAction, useKeyActionItems } from "./key-actions";
import { expiryBadge } from "./key-controls-draft";
import { rateLimitText } from "./key-limits-draft";

export function KeyBadges({ apiKey }: { apiKey: Key }) {
  const badges = [];
  if (apiKey.alert === "orange")
    badges.push(
      <Badge key="alert" tone="warning" title="The token is older than the account's renewal period">
        Renewal due
      </Badge>,
    );
  if (apiKey.alert === "red")
    badges.push(
      <Badge key="alert" tone="danger" title="The token is 3 months or more past the renewal period">
        Renewal overdue
      </Badge>,
    );
  if (apiKey.pendingRenewal)
    badges.push(
      <Badge key="pending" tone="info" title="A renewal is pending: the old and the new token both work">
        Pending deletion – old token
      </Badge>,
    );
  badges.push(...controlBadges(apiKey));
  return badges.length ? <span className="badges">{badges}</span> : null;
}

/**
 * The key's controls at a glance: its expiry when near ("Expires in N days", within 14 days) or
 * past ("Expired"), and a small marker for each other control it carries.
 */
export function controlBadges(apiKey: Key, now = Date.now()): ReactNode[] {
  const badges: ReactNode[] = [];
  const expiry = expiryBadge(apiKey, now);
  if (expiry)
    badges.push(
      <Badge key="expiry" tone={apiKey.expiry === "expired" ? "danger" : "warning"} title={expiry.title}>
        {expiry.text}
      </Badge>,
    );
  if (apiKey.ipAllowlist)
    badges.push(
      <Badge key="ip" title={`Only from ${apiKey.ipAllowlist.join(", ")}`}>
        IP allowlist
      </Badge>,
    );
  if (apiKey.metadata)
    badges.push(
      <Badge key="metadata" title="Carries metadata, returned on verification">
        Metadata
      </Badge>,
    );
  if (apiKey.allowBrowser)
    badges.push(
      <Badge key="browser" tone="warning" title="May be used from browser pages">
        Browser allowed
      </Badge>,
    );
  if (apiKey.rateLimit)
    badges.push(
      <Badge key="rate" title={`At most ${rateLimitText(apiKey.rateLimit)}`}>
        Rate limit
      </Badge>,
    );
  if (apiKey.quota)
    badges.push(
      apiKey.quota.remaining === 0 ? (
        <Badge key="quota" tone="danger" title="No calls left: calls get QUOTA_EXHAUSTED until it refills">
          Quota used up
        </Badge>
      ) : (
        <Badge key="quota" title={`${apiKey.quota.remaining.toLocaleString("en-US")} calls left`}>
          Quota
        </Badge>
      ),
    );
  return badges;
}

function RowMenu({
  apiKey,
  roles,
  onAction,
}: {
  apiKey: Key;
  roles: Role[] | undefined;
  onAction: (action: KeyAction, key: Key) => void;
}) {
  const { account } = useAccount();
  const items: MenuItem[] = [
    { label: "View details", onSelect: () => navigate(adminPath(account, "key", apiKey.appKey)) },
    ...useKeyActionItems(apiKey, roles).map(({ action, label, danger, disabledReason }) => ({
      label,
      onSelect: () => onAction(action, apiKey),
      ...(danger ? { danger } : {}),
      disabledReason,
    })),
  ];
  return <Menu label={`Actions for ${apiKey.name}`} items={items} />;
}

export function KeyTable({
  keys,
  sort,
  onSort,
  onAction,
  roles,
  selection,
}: {
  keys: Key[];
  sort: SortState;
  onSort: (field: string) => void;
  onAction: (action: KeyAction, key: Key) => void;
  /** The account's roles with their resources, when readable (see `exceeds`). */
  roles: Role[] | undefined;
  /** Row checkboxes for the bulk actions (generated-bulk.tsx), for callers that may edit keys. */
  selection?: Selection<Key> | undefined;
}) {
  const { account } = useAccount();
  const columns: Column<Key>[] = [
    {
      key: "name",
      header: "Key / Name",
      label: "Key / Name",
      sort: "name",
      className: "key-cell",
      // One wrapper per cell: on a phone each cell is a two-column grid (label, content).
      cell: (key) => (
        <div>
          <Link href={adminPath(account, "key", key.appKey)} className="key-name">
            {key.name}
          </Link>
          <span className="key-id">{key.appKey}</span>
          <KeyBadges apiKey={key} />
        </div>
      ),
    },
    { key: "roles", header: "Roles", label: "Roles", cell: (key) => <RoleList roles={key.roles} /> },
    {
      key: "created",
      header: "Created",
      label: "Created",
      sort: "createdAt",
      cell: (key) => (
        <div>
          {formatDate(key.creationDate)}
          <span className="generated-token-date">
            Token {formatDate(key.creationDateNewToken ?? key.creationDateToken)}
          </span>
        </div>
      ),
    },
    {
      key: "lastUsed",
      header: "Last used",
      label: "Last used",
      sort: "lastUsedAt",
      cell: (key) => formatDate(key.lastUsedAt),
    },
    {
      key: "status",
      header: "Status",
      label: "Status",
      cell: (key) => (
        <div>
          <StatusBadge apiKey={key} />
        </div>
      ),
    },
    {
      key: "actions",
      header: <span className="visually-hidden">Actions</span>,
      label: "Actions",
      className: "actions",
      cell: (key) => <RowMenu apiKey={key} roles={roles} onAction={onAction} />,
    },
  ];
  return (
    <DataTable
      caption="Generated API keys"
      columns={columns}
      rows={keys}
      rowKey={(key) => key.id}
      sort={sort}
      onSort={onSort}
      selection={selection}
    />
  );
}
