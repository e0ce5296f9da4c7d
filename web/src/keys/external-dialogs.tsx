/** Dialogs of the External tab: add a key by its appKey, change its roles here, remove it from here. */
import { useState } from "react";
import { client, type ExternalKey, ok } from "../api";
import { useAccount } from "../session";
import { InlineError, TextField } from "../ui/controls";
import { ConfirmDialog, FormDialog } from "../ui/dialog";
import { useAction } from "../ui/hooks";
import { RolePicker } from "../ui/role-picker";
import { useToast } from "../ui/toast";

interface DialogProps {
  onClose: () => void;
  onDone: () => void;
}

export function AddExternalDialog({ onClose, onDone }: DialogProps) {
  const { account } = useAccount();
  const toast = useToast();
  const [appKey, setAppKey] = useState("");
  const [roles, setRoles] = useState<number[]>([]);
  const [missing, setMissing] = useState(false);
  const add = useAction(async () => {
    const added = await ok(
      client.POST("/v1/accounts/{account}/external-keys", {
        params: { path: { account } },
        body: { appKey: appKey.trim(), roles },
      }),
    );
    toast(
      added.status === "pending"
        ? `Requested ${added.appKey}: it grants nothing until someone else approves it (Approvals tab)`
        : `Added ${added.appKey} from ${added.account}`,
    );
    onDone();
  });
  const submit = () => {
    if (!appKey.trim()) {
      setMissing(true);
      return;
    }
    void add.run();
  };
  return (
    <FormDialog
      title="Add an external key"
      size="wide"
      submitLabel="Add key"
      busy={add.busy}
      onSubmit={submit}
      onClose={onClose}
    >
      <p className="hint external-intro">
        The key stays its owner's: they keep its token and can deactivate or delete it. Here you give it roles
        in {account} only.
      </p>
      <TextField
        label="appKey"
        className="input mono"
        value={appKey}
        autoComplete="off"
        spellCheck={false}
        placeholder="appkey-partner-QWERTY"
        hint="The public part of the other account's key. Never ask for its token."
        error={missing ? "Enter the appKey of the key to add" : undefined}
        onChange={(event) => {
          setAppKey(event.target.value);
          setMissing(false);
          add.clearError();
        }}
        required
      />
      <RolePicker legend={`Roles in ${account}`} selected={roles} onChange={setRoles} />
      <InlineError error={add.error} />
    </FormDialog>
  );
}

export function EditExternalRolesDialog({
  externalKey,
  onClose,
  onDone,
}: DialogProps & { externalKey: ExternalKey }) {
  const { account } = useAccount();
  const toast = useToast();
  const [roles, setRoles] = useState(() => externalKey.roles.map((role) => role.id));
  const save = useAction(async () => {
    await client.PUT("/v1/accounts/{account}/external-keys/{appKey}/roles", {
      params: { path: { account, appKey: externalKey.appKey } },
      body: { roles },
    });
    toast(`Roles of ${externalKey.appKey} saved`);
    onDone();
  });
  return (
    <ConfirmDialog
      title={`Roles of ${externalKey.appKey} in ${account}`}
      size="wide"
      variant="primary"
      confirmLabel="Save roles"
      busy={save.busy}
      onConfirm={() => void save.run()}
      onClose={onClose}
    >
      <p className="hint external-intro">
        These roles apply to calls this key makes to {account}. Its owner, {externalKey.account}, decides what
        it may do there.
      </p>
      <RolePicker legend="Roles" selected={roles} onChange={setRoles} current={externalKey.roles} />
      <InlineError error={save.error} />
    </ConfirmDialog>
  );
}

export function RemoveExternalDialog({
  externalKey,
  onClose,
  onDone,
}: DialogProps & { externalKey: ExternalKey }) {
  const { account } = useAccount();
  const toast = useToast();
  const remove = useAction(async () => {
    await client.DELETE("/v1/accounts/{account}/external-keys/{appKey}", {
      params: { path: { account, appKey: externalKey.appKey } },
    });
    toast(`Removed ${externalKey.appKey} from ${account}`);
    onDone();
  });
  return (
    <ConfirmDialog
      title="Remove this external key?"
      confirmLabel={`Remove from ${account}`}
      busy={remove.busy}
      onConfirm={() => void remove.run()}
      onClose={onClose}
    >
      <p>
        <span className="mono">{externalKey.appKey}</span> stays a key of{" "}
        <strong>{externalKey.account}</strong>: it is not deleted and its token keeps working there. It only
        loses its access to {account}, and its roles here are dropped.
      </p>
      <p className="hint">To let it call {account} again, add it again.</p>
      <InlineError error={remove.error} />
    </ConfirmDialog>
  );
}
