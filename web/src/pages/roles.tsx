/**
 * Roles: the catalog's predefined roles (read-only) and the account's custom roles, which users
 * with EditAdminUsers create, edit and delete. Seeing the page needs ViewAdminUsers.
 */
import { useState } from "react";
import { client, ok, type Role } from "../api";
import { exceeds, lacking, useAccount } from "../session";
import { Badge, Button, ErrorMessage, Loading, PageHeader } from "../ui/controls";
import { useAction, useLoad } from "../ui/hooks";
import { DataTable } from "../ui/table";
import { useToast } from "../ui/toast";
import { RoleDialog, RoleViewDialog } from "./roles-dialog";
import { ConfirmDialog, NoAccess } from "./roles-users-common";
import "./roles.css";

type Open = { kind: "create" } | { kind: "edit" | "view" | "delete"; role: Role } | null;

export function RolesPage() {
  const { can } = useAccount();
  if (!can("ViewAdminUsers"))
    return <NoAccess title="Roles" what="this account's roles" resource="ViewAdminUsers" />;
  return <Roles />;
}

function Roles() {
  const { account, can } = useAccount();
  const toast = useToast();
  const roles = useLoad(
    () => ok(client.GET("/v1/accounts/{account}/roles", { params: { path: { account } } })),
    [account],
  );
  const catalog = useLoad(() => ok(client.GET("/v1/resources")), []);
  const [open, setOpen] = useState<Open>(null);
  const editReason = can("EditAdminUsers") ? undefined : lacking("EditAdminUsers");
  const close = () => setOpen(null);

  const reload = () => {
    roles.reload();
    catalog.reload();
  };

  return (
    <>
      <PageHeader
        title="Roles"
        actions={
          <>
            <Button onClick={reload} busy={roles.loading && Boolean(roles.data)}>
              Refresh
            </Button>
            <Button
              variant="primary"
              disabledReason={editReason ?? (catalog.data ? undefined : "Loading the resource catalog…")}
              onClick={() => setOpen({ kind: "create" })}
            >
              Create role
            </Button>
          </>
        }
      >
        <p className="subtitle">
          Predefined roles come with the catalog; custom roles are this account's own.
        </p>
      </PageHeader>
      {editReason ? <p className="notice roles-notice">{editReason}: you can look, not change.</p> : null}
      {roles.error ? (
        <ErrorMessage error={roles.error} onRetry={roles.reload} />
      ) : !roles.data ? (
        <Loading label="Loading roles…" />
      ) : (
        <RolesTable roles={roles.data.items} editReason={editReason} onOpen={setOpen} />
      )}
      {catalog.error && open ? <ErrorMessage error={catalog.error} onRetry={catalog.reload} /> : null}
      {open?.kind === "create" && catalog.data ? (
        <RoleDialog
          resources={catalog.data.items}
          onClose={close}
          onSaved={(role) => {
            close();
            toast(`Role “${role.name}” created`);
            roles.reload();
          }}
        />
      ) : null}
      {open?.kind === "edit" && catalog.data ? (
        <RoleDialog
          role={open.role}
          resources={catalog.data.items}
          onClose={close}
          onSaved={(role) => {
            close();
            toast(`Role “${role.name}” saved`);
            roles.reload();
          }}
        />
      ) : null}
      {open?.kind === "view" && catalog.data ? (
        <RoleViewDialog role={open.role} resources={catalog.data.items} onClose={close} />
      ) : null}
      {open?.kind === "delete" ? (
        <DeleteRole
          role={open.role}
          onClose={close}
          onDeleted={() => {
            close();
            toast(`Role “${open.role.name}” deleted`);
            roles.reload();
          }}
        />
      ) : null}
    </>
  );
}

function RolesTable({
  roles,
  editReason,
  onOpen,
}: {
  roles: Role[];
  editReason: string | undefined;
  onOpen: (open: Open) => void;
}) {
  const access = useAccount();
  const custom = roles.filter((role) => role.type === "custom").length;
  return (
    <>
      <p className="hint roles-count">
        {roles.length} roles: {roles.length - custom} predefined, {custom} custom.
      </p>
      <DataTable
        caption="Roles of the account"
        rows={roles}
        rowKey={(role) => String(role.id)}
        columns={[
          {
            key: "name",
            header: "Name",
            label: "Name",
            cell: (role) => <span className="role-name">{role.name}</span>,
          },
          {
            key: "type",
            header: "Type",
            label: "Type",
            cell: (role) => (
              <span>
                {role.type === "predefined" ? <Badge>Predefined</Badge> : <Badge tone="info">Custom</Badge>}
              </span>
            ),
          },
          {
            key: "products",
            header: "Products",
            label: "Products",
            cell: (role) =>
              role.products.length ? (
                <ul className="chips">
                  {role.products.map((product) => (
                    <li key={product} className="chip">
                      {product}
                    </li>
                  ))}
                </ul>
              ) : (
                <span className="muted">None</span>
              ),
          },
          {
            key: "resources",
            header: "Resources",
            label: "Resources",
            className: "role-resources",
            cell: (role) => role.resources.length,
          },
          {
            key: "actions",
            header: <span className="visually-hidden">Actions</span>,
            label: "Actions",
            className: "actions",
            cell: (role) => (
              <RoleActions
                role={role}
                // Editing or deleting a role acts on what it contains: the caller must cover it.
                editReason={editReason ?? exceeds(access, "role", [role], roles)}
                onOpen={onOpen}
              />
            ),
          },
        ]}
      />
    </>
  );
}

function RoleActions({
  role,
  editReason,
  onOpen,
}: {
  role: Role;
  editReason: string | undefined;
  onOpen: (open: Open) => void;
}) {
  const view = (
    <Button variant="ghost" aria-label={`View ${role.name}`} onClick={() => onOpen({ kind: "view", role })}>
      View
    </Button>
  );
  if (role.type === "predefined") return <div className="row-actions">{view}</div>;
  return (
    <div className="row-actions">
      {editReason ? view : null}
      <Button
        aria-label={`Edit ${role.name}`}
        disabledReason={editReason}
        onClick={() => onOpen({ kind: "edit", role })}
      >
        Edit
      </Button>
      <Button
        variant="danger"
        aria-label={`Delete ${role.name}`}
        disabledReason={editReason}
        onClick={() => onOpen({ kind: "delete", role })}
      >
        Delete
      </Button>
    </div>
  );
}

function DeleteRole({
  role,
  onClose,
  onDeleted,
}: {
  role: Role;
  onClose: () => void;
  onDeleted: () => void;
}) {
  const { account } = useAccount();
  const remove = useAction(async () => {
    await client.DELETE("/v1/accounts/{account}/roles/{id}", { params: { path: { account, id: role.id } } });
    return true;
  });
  return (
    <ConfirmDialog
      title={`Delete role “${role.name}”?`}
      confirmLabel="Delete role"
      busy={remove.busy}
      error={remove.error}
      onClose={onClose}
      onConfirm={() => void remove.run().then((done) => done && onDeleted())}
    >
      <p>
        The role is deleted for good. A role that users or keys still hold cannot be deleted: take it from
        them first.
      </p>
    </ConfirmDialog>
  );
}
