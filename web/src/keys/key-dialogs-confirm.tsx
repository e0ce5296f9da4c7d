/**
 * Confirmations of the Generated tab's actions that break integrations at once: deactivate, delete
 * the old token, undo a renewal, delete the key. A refusal from the server stays in the dialog.
 */
import { type ReactNode, useState } from "react";
import { client, type Key } from "../api";
import { useAccount } from "../session";
import { Checkbox, InlineError } from "../ui/controls";
import { ConfirmDialog as BaseConfirmDialog } from "../ui/dialog";
import { formatDateTime } from "../ui/format";
import { useAction } from "../ui/hooks";
import { useToast } from "../ui/toast";

export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  danger = true,
  disabledReason,
  action,
  done,
  onClose,
  onDone,
}: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  disabledReason?: string | undefined;
  action: () => Promise<unknown>;
  /** The toast once the action went through. */
  done: string;
  onClose: () => void;
  onDone: () => void;
}) {
  const toast = useToast();
  const confirm = useAction(async () => {
    await action();
    toast(done);
    onDone();
    onClose();
  });
  return (
    <BaseConfirmDialog
      title={title}
      variant={danger ? "danger" : "primary"}
      confirmLabel={confirmLabel}
      busy={confirm.busy}
      disabledReason={disabledReason}
      onConfirm={() => void confirm.run()}
      onClose={onClose}
    >
      {children}
      <InlineError error={confirm.error} />
    </BaseConfirmDialog>
  );
}

interface KeyDialogProps {
  apiKey: Key;
  onClose: () => void;
  onDone: () => void;
}

/** The path parameters of the key's own routes. */
function useKeyPath(apiKey: Key) {
  const { account } = useAccount();
  return { path: { account, appKey: apiKey.appKey } };
}

export function DeactivateDialog({ apiKey, onClose, onDone }: KeyDialogProps) {
  const path = useKeyPath(apiKey);
  return (
    <ConfirmDialog
      title={`Deactivate “${apiKey.name}”?`}
      confirmLabel="Deactivate"
      done={`Key “${apiKey.name}” deactivated`}
      action={() =>
        client.PATCH("/v1/accounts/{account}/keys/{appKey}", { params: path, body: { active: false } })
      }
      onClose={onClose}
      onDone={onDone}
    >
      <p className="danger-box">
        Integrations using this key will stop working at once: every call made with it is refused until you
        activate it again.
      </p>
      <p className="mono muted">{apiKey.appKey}</p>
    </ConfirmDialog>
  );
}

export function CompleteRenewalDialog({ apiKey, onClose, onDone }: KeyDialogProps) {
  const path = useKeyPath(apiKey);
  return (
    <ConfirmDialog
      title={`Delete the old token of “${apiKey.name}”?`}
      confirmLabel="Delete old token"
      done={`Old token of “${apiKey.name}” deleted`}
      action={() =>
        client.POST("/v1/accounts/{account}/keys/{appKey}/renewal/complete", { params: path, body: {} })
      }
      onClose={onClose}
      onDone={onDone}
    >
      <p className="danger-box">
        Integrations still using the old token will stop working at once. Only the new token will work.
      </p>
      <dl className="facts">
        <dt>Old token last used</dt>
        <dd>{formatDateTime(apiKey.lastUsedAtToken, "Not used since it was recorded")}</dd>
        <dt>New token last used</dt>
        <dd>{formatDateTime(apiKey.lastUsedAtNewToken, "Not used yet")}</dd>
      </dl>
    </ConfirmDialog>
  );
}

export function UndoRenewalDialog({ apiKey, onClose, onDone }: KeyDialogProps) {
  const path = useKeyPath(apiKey);
  return (
    <ConfirmDialog
      title={`Undo the renewal of “${apiKey.name}”?`}
      confirmLabel="Undo renewal"
      done={`Renewal of “${apiKey.name}” undone`}
      action={() => client.DELETE("/v1/accounts/{account}/keys/{appKey}/renewal", { params: path })}
      onClose={onClose}
      onDone={onDone}
    >
      <p className="warning-box">
        The new token stops working at once and is discarded. The old token stays the key's only token.
      </p>
    </ConfirmDialog>
  );
}

export function DeleteKeyDialog({ apiKey, onClose, onDone }: KeyDialogProps) {
  const path = useKeyPath(apiKey);
  const [understood, setUnderstood] = useState(false);
  return (
    <ConfirmDialog
      title={`Delete “${apiKey.name}”?`}
      confirmLabel="Delete key"
      done={`Key “${apiKey.name}” deleted`}
      disabledReason={understood ? undefined : "Tick “I understand this cannot be undone” first"}
      action={() => client.DELETE("/v1/accounts/{account}/keys/{appKey}", { params: path })}
      onClose={onClose}
      onDone={onDone}
    >
      <p className="danger-box">
        The key and its tokens are deleted for good. Integrations using it stop working at once, and it cannot
        be restored.
      </p>
      <p className="mono muted">{apiKey.appKey}</p>
      <Checkbox
        label="I understand this cannot be undone"
        checked={understood}
        onChange={(event) => setUnderstood(event.target.checked)}
      />
    </ConfirmDialog>
  );
}
