/** Creating and editing a custom role (name + resources), and viewing a predefined one. */
import { useState } from "react";
import { ApiError, client, ok, type Resource, type Role } from "../api";
import { useAccount } from "../session";
import { Badge, Button, InlineError, TextField } from "../ui/controls";
import { Dialog, FormDialog } from "../ui/dialog";
import { useAction } from "../ui/hooks";
import { ResourceList, ResourcePicker } from "./resource-picker";
import { fieldError } from "./roles-users-common";

const RESOURCE_CODES = ["ESCALATION_DENIED", "UNKNOWN_RESOURCE"];

export function RoleDialog({
  role,
  resources,
  onClose,
  onSaved,
}: {
  /** The custom role to edit; none to create one. */
  role?: Role | undefined;
  resources: readonly Resource[];
  onClose: () => void;
  onSaved: (role: Role) => void;
}) {
  const { account, resources: held } = useAccount();
  const [name, setName] = useState(role?.name ?? "");
  const [selected, setSelected] = useState<Set<string>>(() => new Set(role?.resources ?? []));
  const [nameMissing, setNameMissing] = useState(false);
  const save = useAction(async () => {
    const body = { name: name.trim(), resources: [...selected].sort() };
    return ok(
      role
        ? client.PUT("/v1/accounts/{account}/roles/{id}", {
            params: { path: { account, id: role.id } },
            body,
          })
        : client.POST("/v1/accounts/{account}/roles", { params: { path: { account } }, body }),
    );
  });

  const submit = async () => {
    if (!name.trim()) {
      setNameMissing(true);
      return;
    }
    const saved = await save.run();
    if (saved) onSaved(saved);
  };

  const nameError = nameMissing
    ? "Give the role a name"
    : fieldError(save.error, "name", ["ROLE_NAME_TAKEN"]);
  const resourceError =
    save.error instanceof ApiError && RESOURCE_CODES.includes(save.error.code)
      ? save.error.message
      : undefined;
  const otherError = save.error && !nameError && !resourceError ? save.error : undefined;
  const notHeld = [...selected].filter((key) => !held.has(key));

  return (
    <FormDialog
      title={role ? `Edit role “${role.name}”` : "Create role"}
      size="wide"
      submitLabel={role ? "Save role" : "Create role"}
      busy={save.busy}
      onSubmit={() => void submit()}
      onClose={onClose}
    >
      <TextField
        label="Name"
        value={name}
        maxLength={100}
        required
        autoComplete="off"
        error={nameError}
        hint="Shown wherever roles are picked, e.g. “Orders – support team”."
        onChange={(event) => {
          setName(event.target.value);
          setNameMissing(false);
        }}
      />
      {notHeld.length ? (
        <p className="warning-box">
          This role holds {notHeld.join(", ")}, which you do not hold. The server refuses to save it until you
          remove {notHeld.length === 1 ? "it" : "them"}.
        </p>
      ) : null}
      <ResourcePicker
        resources={resources}
        selected={selected}
        held={held}
        onChange={setSelected}
        error={resourceError}
      />
      <InlineError error={otherError} />
    </FormDialog>
  );
}

export function RoleViewDialog({
  role,
  resources,
  onClose,
}: {
  role: Role;
  resources: readonly Resource[];
  onClose: () => void;
}) {
  return (
    <Dialog
      title={`Role “${role.name}”`}
      open
      size="wide"
      onClose={onClose}
      footer={<Button onClick={onClose}>Close</Button>}
    >
      <p>
        {role.type === "predefined" ? (
          <>
            <Badge>Predefined</Badge> Defined by the catalog; it cannot be changed or deleted. Create a custom
            role to grant a different set.
          </>
        ) : (
          <Badge tone="info">Custom</Badge>
        )}
      </p>
      <ResourceList keys={role.resources} resources={resources} />
    </Dialog>
  );
}
