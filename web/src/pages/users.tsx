/**
 * Users of the account and their roles. Seeing them needs ViewAdminUsers; adding, changing roles and
 * removing need EditAdminUsers (and, as everywhere, no giving what one does not hold).
 */
import { useState } from "react";
import { client, ok, type User } from "../api";
import { exceeds, lacking, useAccount, useSession } from "../session";
import { Badge, Button, EmptyState, ErrorMessage, Loading, PageHeader } from "../ui/controls";
import { formatDate } from "../ui/format";
import { useLoad } from "../ui/hooks";
import { RoleList, useRoleOptions } from "../ui/role-picker";
import { DataTable } from "../ui/table";
import { useToast } from "../ui/toast";
import { NoAccess } from "./roles-users-common";
import { AddUserDialog, RemoveUserDialog, ResetPasswordDialog, SetRolesDialog } from "./users-dialogs";
import "./users.css";

type Open = { kind: "add" } | { kind: "roles" | "remove" | "reset"; user: User } | null;

export function UsersPage() {
  const { can } = useAccount();
  if (!can("ViewAdminUsers"))
    return <NoAccess title="Users" what="this account's users" resource="ViewAdminUsers" />;
  return <Users />;
}

function Users() {
  const access = useAccount();
  const { account, me, can } = access;
  const session = useSession();
  const toast = useToast();
  const users = useLoad(
    () => ok(client.GET("/v1/accounts/{account}/users", { params: { path: { account } } })),
    [account],
  );
  const [open, setOpen] = useState<Open>(null);
  const editReason = can("EditAdminUsers") ? undefined : lacking("EditAdminUsers");
  const myId = me.principal.type === "user" ? me.principal.id : null;
  // What each user holds (see `exceeds`); one acting on themselves always covers it.
  const roles = useRoleOptions().data?.roles;
  const rowReason = (user: User) =>
    editReason ?? (user.id === myId ? undefined : exceeds(access, "user", user.roles, roles));
  const close = () => setOpen(null);
  const rows = [...(users.data?.items ?? [])].sort((a, b) => a.email.localeCompare(b.email));

  return (
    <>
      <PageHeader
        title="Users"
        actions={
          <>
            <Button onClick={users.reload} busy={users.loading && Boolean(users.data)}>
              Refresh
            </Button>
            <Button variant="primary" disabledReason={editReason} onClick={() => setOpen({ kind: "add" })}>
              Add user
            </Button>
          </>
        }
      >
        <p className="subtitle">
          People who sign in to this account's admin, and the roles they hold here. Someone who already had a
          sign-in is invited, and holds nothing here until they accept with the link you send them.
        </p>
      </PageHeader>
      {editReason ? <p className="notice users-notice">{editReason}: you can look, not change.</p> : null}
      {users.error ? (
        <ErrorMessage error={users.error} onRetry={users.reload} />
      ) : !users.data ? (
        <Loading label="Loading users…" />
      ) : rows.length === 0 ? (
        <EmptyState title="No users yet" />
      ) : (
        <DataTable
          caption="Users of the account"
          rows={rows}
          rowKey={(user) => user.id}
          columns={[
            {
              key: "email",
              header: "Email",
              label: "Email",
              cell: (user) => (
                <span className="user-email">
                  {user.email}
                  {user.id === myId ? <Badge tone="info">You</Badge> : null}
                  {user.status === "invited" ? (
                    <Badge tone="warning" title="The roles apply once this person accepts the invitation">
                      Invited
                    </Badge>
                  ) : null}
                </span>
              ),
            },
            {
              key: "roles",
              header: "Roles",
              label: "Roles",
              cell: (user) => <RoleList roles={user.roles} />,
            },
            { key: "added", header: "Added", label: "Added", cell: (user) => formatDate(user.addedAt) },
            {
              key: "actions",
              header: <span className="visually-hidden">Actions</span>,
              label: "Actions",
              className: "actions",
              cell: (user) => (
                <div className="row-actions">
                  <Button
                    aria-label={`Set roles of ${user.email}`}
                    disabledReason={rowReason(user)}
                    onClick={() => setOpen({ kind: "roles", user })}
                  >
                    Set roles
                  </Button>
                  {user.id === myId || user.status === "invited" ? null : (
                    <Button
                      aria-label={`Reset password of ${user.email}`}
                      disabledReason={rowReason(user)}
                      onClick={() => setOpen({ kind: "reset", user })}
                    >
                      Reset password
                    </Button>
                  )}
                  <Button
                    variant="danger"
                    aria-label={`Remove ${user.email}`}
                    disabledReason={rowReason(user)}
                    onClick={() => setOpen({ kind: "remove", user })}
                  >
                    Remove
                  </Button>
                </div>
              ),
            },
          ]}
        />
      )}
      {open?.kind === "add" ? (
        <AddUserDialog
          onClose={close}
          onAdded={(user) => {
            toast(
              user.status === "invited"
                ? `${user.email} invited: the roles apply once they accept`
                : `${user.email} added`,
            );
            users.reload();
          }}
        />
      ) : null}
      {open?.kind === "roles" ? (
        <SetRolesDialog
          user={open.user}
          self={open.user.id === myId}
          onClose={close}
          onSaved={(user) => {
            close();
            toast(`Roles of ${user.email} saved`);
            users.reload();
            // One's own roles changed: what the UI offers must follow.
            if (user.id === myId) void session.refresh();
          }}
        />
      ) : null}
      {open?.kind === "reset" ? <ResetPasswordDialog user={open.user} onClose={close} /> : null}
      {open?.kind === "remove" ? (
        <RemoveUserDialog
          user={open.user}
          self={open.user.id === myId}
          onClose={close}
          onRemoved={() => {
            close();
            toast(`${open.user.email} removed`);
            if (open.user.id === myId) void session.refresh();
            else users.reload();
          }}
        />
      ) : null}
    </>
  );
}
