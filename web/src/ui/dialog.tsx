/**
 * Modal dialogs on the native <dialog> element: the browser traps focus, makes the page behind inert
 * and closes on Escape; focus returns to what opened it.
 */
import { type FormEvent, type ReactNode, useEffect, useId, useRef } from "react";
import { Button, type ButtonProps } from "./controls";

/** Dispatched on document when a modal opens, so that toasts can rise above it. */
export const DIALOG_OPENED = "latchkey:dialog-opened";

const FIRST_FOCUS = [
  ".dialog-content input:not([type=hidden]):not(:disabled)",
  ".dialog-content select:not(:disabled)",
  ".dialog-content textarea:not(:disabled)",
  ".dialog-footer button:not(:disabled)",
].join(", ");

export interface DialogProps {
  title: string;
  open: boolean;
  onClose: () => void;
  children: ReactNode;
  footer?: ReactNode;
  /** Wide dialogs hold pickers and tables. */
  size?: "normal" | "wide";
}

export function Dialog({ title, open, onClose, children, footer, size = "normal" }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const opener = useRef<Element | null>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      opener.current = document.activeElement;
      dialog.showModal();
      // The browser would focus the first focusable element, the header's close button; the first
      // field (or, in a confirmation, the first footer button) is where the user wants to be.
      dialog.querySelector<HTMLElement>(FIRST_FOCUS)?.focus();
      document.dispatchEvent(new Event(DIALOG_OPENED));
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open]);

  useEffect(
    () => () => {
      if (opener.current instanceof HTMLElement && opener.current.isConnected) opener.current.focus();
    },
    [],
  );

  return (
    <dialog
      ref={ref}
      className={`dialog dialog-${size}`}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
      onClose={() => {
        if (open) onClose();
        if (opener.current instanceof HTMLElement && opener.current.isConnected) opener.current.focus();
      }}
    >
      {open ? (
        <div className="dialog-body">
          <header className="dialog-header">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
              ×
            </button>
          </header>
          <div className="dialog-content">{children}</div>
          {footer ? <footer className="dialog-footer">{footer}</footer> : null}
        </div>
      ) : null}
    </dialog>
  );
}

/** What follows a step that produced a secret: the secret (shown once) and a single Done. */
export function ShownOnceDialog({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  return (
    <Dialog
      title={title}
      open
      onClose={onClose}
      footer={
        <Button variant="primary" onClick={onClose}>
          Done
        </Button>
      }
    >
      {children}
    </Dialog>
  );
}

interface ActionDialogProps {
  title: string;
  onClose: () => void;
  busy: boolean;
  children: ReactNode;
  size?: DialogProps["size"];
  /** Set when the action cannot be taken yet: the button is disabled and says why. */
  disabledReason?: string | undefined;
}

/** Cancel, and the one button that does what the dialog is for. */
function ActionDialog({
  title,
  onClose,
  size = "normal",
  action,
  children,
}: Pick<ActionDialogProps, "title" | "onClose" | "size" | "children"> & { action: ButtonProps }) {
  return (
    <Dialog
      title={title}
      open
      size={size}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button {...action} />
        </>
      }
    >
      {children}
    </Dialog>
  );
}

/** A form in a dialog: Cancel, and a primary button that submits it (Enter in a field does too). */
export function FormDialog({
  submitLabel,
  busy,
  onSubmit,
  disabledReason,
  children,
  ...dialog
}: ActionDialogProps & { submitLabel: string; onSubmit: () => void }) {
  const formId = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit();
  };
  return (
    <ActionDialog
      {...dialog}
      action={{
        variant: "primary",
        type: "submit",
        form: formId,
        busy,
        disabledReason,
        children: submitLabel,
      }}
    >
      <form id={formId} onSubmit={submit} noValidate>
        {children}
      </form>
    </ActionDialog>
  );
}

/** A confirmation, or a dialog whose one action is a button: Cancel, and the button that does it. */
export function ConfirmDialog({
  confirmLabel,
  busy,
  onConfirm,
  variant = "danger",
  disabledReason,
  ...dialog
}: ActionDialogProps & { confirmLabel: ReactNode; onConfirm: () => void; variant?: "primary" | "danger" }) {
  return (
    <ActionDialog
      {...dialog}
      action={{ variant, busy, disabledReason, onClick: onConfirm, children: confirmLabel }}
    />
  );
}
