/**
 * The Generated tab's bulk actions on the selected rows: Activate, Deactivate (confirmed) and Delete
 * (confirmed, with the same "cannot be undone" tick as one key). One request to …/keys/bulk; the
 * server judges each key as it would alone, so a key the caller may not act on is listed with its
 * reason after the run instead of being skipped silently.
 */
import { useState } from "react";
import { type BulkKeyResults, client, type Key, ok } from "../api";
import { useAccount } from "../session";
import { Button, Checkbox, InlineError } from "../ui/controls";
import { ConfirmDialog, Dialog } from "../ui/dialog";
import { plural } from "../ui/format";
import { useAction } from "../ui/hooks";
import { useToast } from "../ui/toast";

type BulkAction = BulkKeyResults["action"];

const DONE: Record<BulkAction, string> = {
  activate: "activated",
  deactivate: "deactivated",
  delete: "deleted",
};

function summary(results: BulkKeyResults): string {
  const total = results.results.length;
  if (results.failed === 0) return `${plural(total, "key")} ${DONE[results.action]}`;
  return `${results.succeeded} of ${plural(total, "key")} ${DONE[results.action]}; ${results.failed} could not be`;
}

/** The keys a run could not change, each with the server's reason. */
function FailuresDialog({
  results,
  keys,
  onClose,
}: {
  results: BulkKeyResults;
  keys: Key[];
  onClose: () => void;
}) {
  const names = new Map(keys.map((key) => [key.appKey, key.name]));
  return (
    <Dialog
      title={`Not ${DONE[results.action]}: ${plural(results.failed, "key")}`}
      open
      onClose={onClose}
      footer={
        <Button variant="primary" onClick={onClose}>
          Close
        </Button>
      }
    >
      <p>{summary(results)}. These were left as they were:</p>
      <ul className="bulk-failures">
        {results.results.map((result) =>
          result.ok ? null : (
            <li key={result.appKey}>
              <strong>{names.get(result.appKey) ?? result.appKey}</strong>{" "}
              <span className="mono muted">{result.appKey}</span>
              <br />
              {result.error.detail}
            </li>
          ),
        )}
      </ul>
    </Dialog>
  );
}

function ConfirmBulk({
  action,
  keys,
  busy,
  error,
  onConfirm,
  onClose,
}: {
  action: "deactivate" | "delete";
  keys: Key[];
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const [understood, setUnderstood] = useState(false);
  const count = plural(keys.length, "key");
  const del = action === "delete";
  return (
    <ConfirmDialog
      title={del ? `Delete ${count}?` : `Deactivate ${count}?`}
      confirmLabel={del ? `Delete ${count}` : `Deactivate ${count}`}
      busy={busy}
      disabledReason={del && !understood ? "Tick “I understand this cannot be undone” first" : undefined}
      onConfirm={onConfirm}
      onClose={onClose}
    >
      <p className="danger-box">
        {del
          ? "These keys and their tokens are deleted for good. Integrations using them stop working at once, and they cannot be restored."
          : "Integrations using these keys will stop working at once: every call made with them is refused until you activate them again."}
      </p>
      <ul className="bulk-names">
        {keys.map((key) => (
          <li key={key.appKey}>
            {key.name} <span className="mono muted">{key.appKey}</span>
          </li>
        ))}
      </ul>
      {del ? (
        <Checkbox
          label="I understand this cannot be undone"
          checked={understood}
          onChange={(event) => setUnderstood(event.target.checked)}
        />
      ) : null}
      <InlineError error={error} />
    </ConfirmDialog>
  );
}

/** The toolbar over the table while rows are selected. */
export function BulkBar({
  keys,
  onClear,
  onDone,
}: {
  /** The selected keys (on this page). */
  keys: Key[];
  onClear: () => void;
  onDone: () => void;
}) {
  const { account } = useAccount();
  const toast = useToast();
  const [confirming, setConfirming] = useState<"deactivate" | "delete" | null>(null);
  const [failures, setFailures] = useState<{ results: BulkKeyResults; keys: Key[] } | null>(null);
  const run = useAction(async (action: BulkAction) => {
    const results = await ok(
      client.POST("/v1/accounts/{account}/keys/bulk", {
        params: { path: { account } },
        body: { action, appKeys: keys.map((key) => key.appKey) },
      }),
    );
    toast(summary(results), results.failed === 0 ? "success" : "error");
    if (results.failed > 0) setFailures({ results, keys });
    setConfirming(null);
    onClear();
    onDone();
  });

  return (
    <>
      {keys.length > 0 ? (
        <div className="bulk-bar" role="toolbar" aria-label="Selected keys">
          <p aria-live="polite">{plural(keys.length, "key")} selected</p>
          <Button busy={run.busy && confirming === null} onClick={() => void run.run("activate")}>
            Activate
          </Button>
          <Button disabled={run.busy} onClick={() => setConfirming("deactivate")}>
            Deactivate
          </Button>
          <Button variant="danger" disabled={run.busy} onClick={() => setConfirming("delete")}>
            Delete
          </Button>
          <Button variant="ghost" onClick={onClear}>
            Clear selection
          </Button>
          {confirming === null ? <InlineError error={run.error} /> : null}
        </div>
      ) : null}
      {confirming ? (
        <ConfirmBulk
          action={confirming}
          keys={keys}
          busy={run.busy}
          error={run.error}
          onConfirm={() => void run.run(confirming)}
          onClose={() => {
            run.clearError();
            setConfirming(null);
          }}
        />
      ) : null}
      {failures ? (
        <FailuresDialog results={failures.results} keys={failures.keys} onClose={() => setFailures(null)} />
      ) : null}
    </>
  );
}
