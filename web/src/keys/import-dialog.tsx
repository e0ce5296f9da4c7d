/**
 * Import keys by the SHA-256 of their tokens (docs/import.md): the user picks a CSV or JSON file,
 * the file is read here (src/client/import-file.ts, the reader the CLI uses) and sent as a dry run,
 * whose result per key is the preview; only a preview with no problem can be imported, all or
 * nothing. The file holds token hashes, never tokens, and neither is shown.
 */
import { useState } from "react";
import { type ImportFileEntry, parseImportFile } from "../../../src/client/import-file";
import { client, type KeyImportResult, ok } from "../api";
import { useAccount } from "../session";
import { Field, InlineError } from "../ui/controls";
import { FormDialog } from "../ui/dialog";
import { plural } from "../ui/format";
import { useAction } from "../ui/hooks";
import { useToast } from "../ui/toast";

/** Rows of the preview drawn at most; the summary counts them all. */
const PREVIEW_ROWS = 200;

function Preview({ result }: { result: KeyImportResult }) {
  const total = result.results.length;
  // Problems first: they are what the user has to fix.
  const shown = [...result.results].sort((a, b) => Number(a.ok) - Number(b.ok) || a.index - b.index);
  return (
    <div className="import-preview">
      <p aria-live="polite" className={result.failed > 0 ? "field-error" : undefined}>
        {result.failed > 0
          ? `${result.failed} of ${plural(total, "key")} cannot be imported. Fix the file and choose it again: nothing is imported while any key has a problem.`
          : `All ${plural(total, "key")} can be imported.`}
      </p>
      <table className="import-table">
        <caption className="visually-hidden">Preview of the import</caption>
        <thead>
          <tr>
            <th scope="col">Line</th>
            <th scope="col">Name</th>
            <th scope="col">appKey</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          {shown.slice(0, PREVIEW_ROWS).map((entry) => (
            <tr key={entry.index} className={entry.ok ? undefined : "import-problem"}>
              <td>{entry.index + 1}</td>
              <td>{entry.name}</td>
              <td className="mono">{entry.appKey ?? "—"}</td>
              <td>
                {entry.ok ? (entry.appKey ? "Ready" : "Ready (appKey made on import)") : entry.error.detail}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {total > PREVIEW_ROWS ? <p className="muted">and {plural(total - PREVIEW_ROWS, "more key")}</p> : null}
    </div>
  );
}

export function ImportDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const { account } = useAccount();
  const toast = useToast();
  const [fileError, setFileError] = useState<string>();
  const [keys, setKeys] = useState<ImportFileEntry[] | null>(null);
  const [preview, setPreview] = useState<KeyImportResult | null>(null);

  const send = (entries: ImportFileEntry[], dryRun: boolean) =>
    ok(
      client.POST("/v1/accounts/{account}/keys/import", {
        params: { path: { account } },
        body: { keys: entries, dryRun },
      }),
    );

  const check = useAction(async (file: File) => {
    setPreview(null);
    setKeys(null);
    const parsed = parseImportFile(await file.text());
    if (!parsed.ok) return setFileError(parsed.error);
    if (parsed.keys.length === 0) return setFileError("The file holds no keys");
    setFileError(undefined);
    setPreview(await send(parsed.keys, true));
    setKeys(parsed.keys);
  });
  const importAll = useAction(async () => {
    if (!keys) return;
    const result = await send(keys, false);
    toast(`${plural(result.imported, "key")} imported`);
    onDone();
    onClose();
  });

  const ready = preview !== null && preview.failed === 0 && keys !== null;
  return (
    <FormDialog
      title="Import keys"
      size="wide"
      submitLabel={ready ? `Import ${plural(keys.length, "key")}` : "Import"}
      busy={importAll.busy}
      disabledReason={
        check.busy ? "Checking the file…" : ready ? undefined : "Choose a file whose keys can all be imported"
      }
      onSubmit={() => void importAll.run()}
      onClose={onClose}
    >
      <p>
        Move keys from another system without issuing new tokens: each key is given by the SHA-256 of its
        token, never the token.
      </p>
      <Field
        label="CSV or JSON file"
        error={fileError}
        hint={
          <>
            CSV columns: <span className="mono">name, tokenHash</span> (required),{" "}
            <span className="mono">appKey, roles, createdAt, expiresAt</span>; roles are role ids separated by
            “;”. JSON: an array of the same fields. Nothing is imported until you confirm the preview.
          </>
        }
      >
        {(props) => (
          <input
            {...props}
            type="file"
            accept=".csv,.json,text/csv,application/json"
            onChange={(event) => {
              const file = event.target.files?.[0];
              if (file) void check.run(file);
            }}
          />
        )}
      </Field>
      {check.busy ? <p className="muted">Checking every key…</p> : null}
      <InlineError error={check.error ?? importAll.error} />
      {preview ? <Preview result={preview} /> : null}
    </FormDialog>
  );
}
