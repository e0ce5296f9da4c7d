/**
 * What can be done to one generated key, in one place for the Generated tab's row menu and the key's
 * page: which actions there are and why one may be unusable (the caller's permissions, roles the key
 * holds that the caller lacks, a pending renewal), and the dialog each opens. Activating breaks
 * nothing, so it runs at once; a refusal is reported in a toast.
 */
import { type ReactNode, useState } from "react";
import { client, describeError, type Key, type Role } from "../api";
import { exceeds, lacking, useAccount } from "../session";
import { useToast } from "../ui/toast";
import { EditDialog, RenewDialog } from "./key-dialogs";
import {
  CompleteRenewalDialog,
  DeactivateDialog,
  DeleteKeyDialog,
  UndoRenewalDialog,
} from "./key-dialogs-confirm";

export type KeyAction = "edit" | "activate" | "deactivate" | "renew" | "undo" | "complete" | "delete";

export interface KeyActionItem {
  action: KeyAction;
  label: string;
  danger?: boolean;
  /** Why the user cannot use it; undefined when they can. */
  disabledReason?: string | undefined;
}

/** The key's actions in menu order, each with why it is unusable, if it is. */
export function useKeyActionItems(apiKey: Key, roles: readonly Role[] | undefined): KeyActionItem[] {
  const access = useAccount();
  const { can } = access;
  // Every action acts on the key: the caller must cover what it holds.
  const stronger = exceeds(access, "key", apiKey.roles, roles);
  const editReason = can("EditApiKeys") ? stronger : lacking("EditApiKeys");
  const renewReason = can("RenewApiToken") ? stronger : lacking("RenewApiToken");
  const items: KeyActionItem[] = [
    { action: "edit", label: "Edit", disabledReason: editReason },
    apiKey.active
      ? { action: "deactivate", label: "Deactivate", disabledReason: editReason }
      : { action: "activate", label: "Activate", disabledReason: editReason },
    {
      action: "renew",
      label: "Renew token",
      disabledReason:
        renewReason ??
        (apiKey.pendingRenewal ? "A renewal is pending: delete the old token or undo it first" : undefined),
    },
  ];
  if (apiKey.pendingRenewal)
    items.push(
      { action: "undo", label: "Undo renewal", disabledReason: renewReason },
      { action: "complete", label: "Delete old token", danger: true, disabledReason: renewReason },
    );
  items.push({ action: "delete", label: "Delete key", danger: true, disabledReason: editReason });
  return items;
}

type Open = { action: Exclude<KeyAction, "activate">; key: Key };

function ActionDialog({ open, onClose, onDone }: { open: Open; onClose: () => void; onDone: () => void }) {
  const props = { apiKey: open.key, onClose, onDone };
  switch (open.action) {
    case "edit":
      return <EditDialog {...props} />;
    case "renew":
      return <RenewDialog {...props} />;
    case "deactivate":
      return <DeactivateDialog {...props} />;
    case "undo":
      return <UndoRenewalDialog {...props} />;
    case "complete":
      return <CompleteRenewalDialog {...props} />;
    case "delete":
      return <DeleteKeyDialog {...props} />;
  }
}

/**
 * Runs a key action: `run` opens its dialog (or activates at once), `dialog` is to be rendered where
 * the dialog belongs. `onDone(action)` follows every change, so the caller reloads (or, after a
 * delete, leaves a page about the key).
 */
export function useKeyActions(onDone: (action: KeyAction) => void): {
  run: (action: KeyAction, key: Key) => void;
  dialog: ReactNode;
} {
  const { account } = useAccount();
  const toast = useToast();
  const [open, setOpen] = useState<Open | null>(null);
  const run = (action: KeyAction, key: Key) => {
    if (action !== "activate") return setOpen({ action, key });
    client
      .PATCH("/v1/accounts/{account}/keys/{appKey}", {
        params: { path: { account, appKey: key.appKey } },
        body: { active: true },
      })
      .then(
        () => toast(`Key “${key.name}” activated`),
        (error: unknown) => toast(`Could not activate “${key.name}”: ${describeError(error)}`, "error"),
      )
      .finally(() => onDone("activate"));
  };
  const dialog = open ? (
    <ActionDialog open={open} onClose={() => setOpen(null)} onDone={() => onDone(open.action)} />
  ) : null;
  return { run, dialog };
}
