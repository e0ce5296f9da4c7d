/**
 * Dialogs of the Generated tab that hand out or change credentials: generate a key, edit it, renew
 * its token. A fresh token (or its share link) lives only in the state of the dialog that shows it:
 * closing the dialog unmounts it and the secret is gone from memory and from the page.
 */
import { type FormEvent, useId, useState } from "react";
import { ApiError, accountPath, api } from "../api";
import { useAccount } from "../session";
import type { IssuedKey, Key } from "../types";
import { Button, InlineError, TextField } from "../ui/controls";
import { Dialog, ShownOnceDialog } from "../ui/dialog";
import { useAction } from "../ui/hooks";
import { RolePicker } from "../ui/role-picker";
import { useToast } from "../ui/toast";
import { type Delivery, DeliveryChoice, IssuedSecret, RadioGroup } from "./key-dialogs-parts";

const NAME_MAX = 100;

/** The client's copy of the server's rule for key names (SPEC §2): 1–100 characters after trimming. */
export function checkName(name: string): string | undefined {
  const trimmed = name.trim();
  if (!trimmed) return "Enter a name for the key";
  if (trimmed.length > NAME_MAX) return `The name can have at most ${NAME_MAX} characters`;
  return undefined;
}

/** A server error about the name belongs under the name field; anything else under the form. */
function splitNameError(error: unknown): { nameError: string | undefined; otherError: unknown } {
  if (!(error instanceof ApiError)) return { nameError: undefined, otherError: error };
  if (error.code === "KEY_NAME_TAKEN" || (error.status === 400 && /\bname\b/i.test(error.message)))
    return { nameError: error.message, otherError: undefined };
  return { nameError: undefined, otherError: error };
}

export function GenerateDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const { account } = useAccount();
  const toast = useToast();
  const formId = useId();
  const [name, setName] = useState("");
  const [roles, setRoles] = useState<number[]>([]);
  const [delivery, setDelivery] = useState<Delivery>("inline");
  const [checked, setChecked] = useState(false);
  const [issued, setIssued] = useState<IssuedKey>();
  const create = useAction(async () => {
    const result = await api.post<IssuedKey>(accountPath(account, "keys"), {
      name: name.trim(),
      roles,
      delivery,
    });
    setIssued(result);
    toast(`Key “${result.key.name}” generated`);
    onDone();
  });
  const clientError = checked ? checkName(name) : undefined;
  const { nameError, otherError } = splitNameError(create.error);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setChecked(true);
    if (checkName(name)) return;
    void create.run();
  };

  if (issued)
    return (
      <ShownOnceDialog title="Key generated" onClose={onClose}>
        <p>
          The key <strong>{issued.key.name}</strong> is active.
        </p>
        <IssuedSecret issued={issued} />
      </ShownOnceDialog>
    );

  return (
    <Dialog
      title="Generate key"
      open
      size="wide"
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" type="submit" form={formId} busy={create.busy}>
            Generate key
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={submit} noValidate>
        <TextField
          label="Name"
          hint="What the integration is, e.g. “ERP sync”. Unique in the account; up to 100 characters."
          value={name}
          maxLength={NAME_MAX + 20}
          autoComplete="off"
          required
          error={clientError ?? nameError}
          onChange={(event) => {
            setName(event.target.value);
            if (nameError) create.clearError();
          }}
        />
        <RolePicker legend="Roles" selected={roles} onChange={setRoles} />
        <DeliveryChoice value={delivery} onChange={setDelivery} />
        <InlineError error={otherError} />
      </form>
    </Dialog>
  );
}

export function EditDialog({
  apiKey,
  onClose,
  onDone,
}: {
  apiKey: Key;
  onClose: () => void;
  onDone: () => void;
}) {
  const { account } = useAccount();
  const toast = useToast();
  const formId = useId();
  const [name, setName] = useState(apiKey.name);
  const [roles, setRoles] = useState<number[]>(() => apiKey.roles.map((role) => role.id));
  const [checked, setChecked] = useState(false);
  const save = useAction(async () => {
    const path = accountPath(account, "keys", apiKey.appKey);
    const renamed = name.trim() !== apiKey.name;
    const before = apiKey.roles.map((role) => role.id).sort();
    const rolesChanged = before.join(",") !== [...roles].sort().join(",");
    // Each step reloads the list, so a rename that went through shows even if the roles are refused.
    if (renamed) {
      await api.patch<Key>(path, { name: name.trim() });
      onDone();
    }
    if (rolesChanged) {
      await api.put<Key>(`${path}/roles`, { roles });
      onDone();
    }
    toast(renamed || rolesChanged ? `Key “${name.trim()}” updated` : "Nothing changed");
    onClose();
  });
  const clientError = checked ? checkName(name) : undefined;
  const { nameError, otherError } = splitNameError(save.error);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setChecked(true);
    if (checkName(name)) return;
    void save.run();
  };

  return (
    <Dialog
      title={`Edit “${apiKey.name}”`}
      open
      size="wide"
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" type="submit" form={formId} busy={save.busy}>
            Save
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={submit} noValidate>
        <p className="muted mono">{apiKey.appKey}</p>
        <TextField
          label="Name"
          value={name}
          maxLength={NAME_MAX + 20}
          autoComplete="off"
          required
          error={clientError ?? nameError}
          onChange={(event) => {
            setName(event.target.value);
            if (nameError) save.clearError();
          }}
        />
        <RolePicker legend="Roles" selected={roles} onChange={setRoles} current={apiKey.roles} />
        <InlineError error={otherError} />
      </form>
    </Dialog>
  );
}

export function RenewDialog({
  apiKey,
  onClose,
  onDone,
}: {
  apiKey: Key;
  onClose: () => void;
  onDone: () => void;
}) {
  const { account } = useAccount();
  const toast = useToast();
  const [deleteOldToken, setDeleteOldToken] = useState<"later" | "now">("later");
  const [delivery, setDelivery] = useState<Delivery>("inline");
  const [issued, setIssued] = useState<IssuedKey>();
  const renew = useAction(async () => {
    const result = await api.post<IssuedKey>(accountPath(account, "keys", apiKey.appKey, "renewal"), {
      deleteOldToken,
      delivery,
    });
    setIssued(result);
    toast(`Token of “${apiKey.name}” renewed`);
    onDone();
  });

  if (issued)
    return (
      <ShownOnceDialog title="Token renewed" onClose={onClose}>
        <p>
          {deleteOldToken === "now"
            ? "The old token no longer works. Only the new token does."
            : "The old token keeps working until you choose Delete old token in the key's menu."}
        </p>
        <IssuedSecret issued={issued} />
      </ShownOnceDialog>
    );

  return (
    <Dialog
      title={`Renew the token of “${apiKey.name}”`}
      open
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" busy={renew.busy} onClick={() => void renew.run()}>
            Renew token
          </Button>
        </>
      }
    >
      <RadioGroup
        legend="The old token"
        name="old-token"
        value={deleteOldToken}
        onChange={setDeleteOldToken}
        options={[
          {
            value: "later",
            label: "Keep the old token working until I delete it",
            hint: "Both tokens work meanwhile, so integrations can switch without downtime.",
          },
          {
            value: "now",
            label: "Delete the old token now",
            hint: "Integrations still using the old token stop working at once.",
          },
        ]}
      />
      <DeliveryChoice value={delivery} onChange={setDelivery} />
      <InlineError error={renew.error} />
    </Dialog>
  );
}
