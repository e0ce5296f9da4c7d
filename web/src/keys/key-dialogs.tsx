/**
 * Dialogs of the Generated tab that hand out or change credentials: generate a key, edit it, renew
 * its token. A fresh token (or its share link) lives only in the state of the dialog that shows it:
 * closing the dialog unmounts it and the secret is gone from memory and from the page.
 */
import { type ChangeEvent, type ReactNode, useState } from "react";
import { ApiError, client, type IssuedKey, type Key, ok } from "../api";
import { useAccount } from "../session";
import { InlineError, Loading, TextField } from "../ui/controls";
import { ConfirmDialog, Dialog, FormDialog, ShownOnceDialog } from "../ui/dialog";
import { useAction } from "../ui/hooks";
import { RolePicker } from "../ui/role-picker";
import { useToast } from "../ui/toast";
import { type ControlPolicies, changedBody, createBody } from "./key-controls-draft";
import { KeyControlsFields, useControlPolicies, useControlsForm } from "./key-controls-fields";
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

/**
 * The name field and submit of a dialog that saves a key name: the name is checked here first (its
 * error shows once the user has tried to submit), then the action runs; a server error about the name
 * goes under the field, and clears as the user edits it.
 */
function useNameForm(
  name: string,
  setName: (name: string) => void,
  action: { run: () => Promise<unknown>; error: unknown; clearError: () => void },
  controls: { refusedField: boolean; check: () => boolean },
) {
  const [checked, setChecked] = useState(false);
  const { nameError, otherError } = controls.refusedField
    ? { nameError: undefined, otherError: undefined }
    : splitNameError(action.error);
  return {
    otherError,
    submit: () => {
      setChecked(true);
      const controlsOk = controls.check();
      if (!checkName(name) && controlsOk) void action.run();
    },
    field: {
      label: "Name",
      value: name,
      maxLength: NAME_MAX + 20,
      autoComplete: "off",
      required: true,
      error: (checked ? checkName(name) : undefined) ?? nameError,
      onChange: (event: ChangeEvent<HTMLInputElement>) => {
        setName(event.target.value);
        if (nameError) action.clearError();
      },
    },
  };
}

/** The dialogs' controls need the account's policies first; a failed load leaves the server to judge. */
function WithPolicies({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: (policies: ControlPolicies) => ReactNode;
}) {
  const policies = useControlPolicies();
  if (policies.loading && !policies.data)
    return (
      <Dialog title={title} open onClose={onClose}>
        <Loading label="Loading the account's policies…" />
      </Dialog>
    );
  return <>{children(policies.data ?? UNKNOWN_POLICIES)}</>;
}

/** When the settings cannot be read: nothing is refused here, the server still applies the policies. */
const UNKNOWN_POLICIES: ControlPolicies = { maxKeyLifetimeDays: null, allowBrowserKeys: true };

export function GenerateDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const [issued, setIssued] = useState<IssuedKey>();
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
    <WithPolicies title="Generate key" onClose={onClose}>
      {(policies) => (
        <GenerateForm policies={policies} onClose={onClose} onDone={onDone} onIssued={setIssued} />
      )}
    </WithPolicies>
  );
}

function GenerateForm({
  policies,
  onClose,
  onDone,
  onIssued,
}: {
  policies: ControlPolicies;
  onClose: () => void;
  onDone: () => void;
  onIssued: (issued: IssuedKey) => void;
}) {
  const { account } = useAccount();
  const toast = useToast();
  const [name, setName] = useState("");
  const [roles, setRoles] = useState<number[]>([]);
  const [delivery, setDelivery] = useState<Delivery>("inline");
  const [now] = useState(() => Date.now());
  const create = useAction(async () => {
    const result = await ok(
      client.POST("/v1/accounts/{account}/keys", {
        params: { path: { account } },
        body: { name: name.trim(), roles, delivery, ...createBody(controls.draft) },
      }),
    );
    toast(`Key “${result.key.name}” generated`);
    onIssued(result);
    onDone();
  });
  const controls = useControlsForm({ key: undefined, policies, now }, create);
  const form = useNameForm(name, setName, create, controls);

  return (
    <FormDialog
      title="Generate key"
      size="wide"
      submitLabel="Generate key"
      busy={create.busy}
      onSubmit={form.submit}
      onClose={onClose}
    >
      <TextField
        {...form.field}
        hint="What the integration is, e.g. “ERP sync”. Unique in the account; up to 100 characters."
      />
      <RolePicker legend="Roles" selected={roles} onChange={setRoles} />
      <KeyControlsFields {...controls.props} />
      <DeliveryChoice value={delivery} onChange={setDelivery} />
      <InlineError error={form.otherError} />
    </FormDialog>
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
  return (
    <WithPolicies title={`Edit “${apiKey.name}”`} onClose={onClose}>
      {(policies) => <EditForm apiKey={apiKey} policies={policies} onClose={onClose} onDone={onDone} />}
    </WithPolicies>
  );
}

function EditForm({
  apiKey,
  policies,
  onClose,
  onDone,
}: {
  apiKey: Key;
  policies: ControlPolicies;
  onClose: () => void;
  onDone: () => void;
}) {
  const { account } = useAccount();
  const toast = useToast();
  const [name, setName] = useState(apiKey.name);
  const [roles, setRoles] = useState<number[]>(() => apiKey.roles.map((role) => role.id));
  const [now] = useState(() => Date.now());
  const save = useAction(async () => {
    const path = { account, appKey: apiKey.appKey };
    const renamed = name.trim() !== apiKey.name;
    const before = apiKey.roles.map((role) => role.id).sort();
    const rolesChanged = before.join(",") !== [...roles].sort().join(",");
    // One PATCH with only what changed: the name and the controls, written together or not at all.
    const patch = { ...(renamed ? { name: name.trim() } : {}), ...changedBody(controls.draft, apiKey) };
    const patched = Object.keys(patch).length > 0;
    // Each step reloads the list, so a change that went through shows even if the roles are refused.
    if (patched) {
      await client.PATCH("/v1/accounts/{account}/keys/{appKey}", { params: { path }, body: patch });
      onDone();
    }
    if (rolesChanged) {
      await client.PUT("/v1/accounts/{account}/keys/{appKey}/roles", { params: { path }, body: { roles } });
      onDone();
    }
    toast(patched || rolesChanged ? `Key “${name.trim()}” updated` : "Nothing changed");
    onClose();
  });
  const controls = useControlsForm({ key: apiKey, policies, now }, save);
  const form = useNameForm(name, setName, save, controls);

  return (
    <FormDialog
      title={`Edit “${apiKey.name}”`}
      size="wide"
      submitLabel="Save"
      busy={save.busy}
      onSubmit={form.submit}
      onClose={onClose}
    >
      <p className="muted mono">{apiKey.appKey}</p>
      <TextField {...form.field} />
      <RolePicker legend="Roles" selected={roles} onChange={setRoles} current={apiKey.roles} />
      <KeyControlsFields {...controls.props} />
      <InlineError error={form.otherError} />
    </FormDialog>
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
    const result = await ok(
      client.POST("/v1/accounts/{account}/keys/{appKey}/renewal", {
        params: { path: { account, appKey: apiKey.appKey } },
        body: { deleteOldToken, delivery },
      }),
    );
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
    <ConfirmDialog
      title={`Renew the token of “${apiKey.name}”`}
      variant="primary"
      confirmLabel="Renew token"
      busy={renew.busy}
      onConfirm={() => void renew.run()}
      onClose={onClose}
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
    </ConfirmDialog>
  );
}
