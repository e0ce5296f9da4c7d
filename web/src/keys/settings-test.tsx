/**
 * "Send test": one message to every saved recipient, now, with each one's outcome shown; and the
 * dialog that shows, once, the signing secrets the server made for new webhooks.
 */

import { useState } from "react";
import { type ApiKeySettings, client, ok, type TestNotificationResult } from "../api";
import { lacking, useAccount } from "../session";
import { Badge, Button, InlineError, SecretValue } from "../ui/controls";
import { Dialog } from "../ui/dialog";
import { plural } from "../ui/format";
import { useAction } from "../ui/hooks";

export function TestNotification({ saved, dirty }: { saved: ApiKeySettings; dirty: boolean }) {
  const { account, can } = useAccount();
  const [results, setResults] = useState<TestNotificationResult[]>();
  const { emails, webhooks } = saved.notifications;
  const count = emails.length + webhooks.length;
  const send = useAction(async () => {
    setResults(undefined);
    const answer = await ok(
      client.POST("/v1/accounts/{account}/settings/api-keys/test", { params: { path: { account } } }),
    );
    setResults(answer.results);
  });
  const reason = !can("EditApiKeysSettings")
    ? lacking("EditApiKeysSettings")
    : count === 0
      ? "Save at least one email address or webhook first"
      : undefined;
  const failed = results?.filter((result) => !result.ok).length ?? 0;

  return (
    <section className="card section settings-test" aria-labelledby="settings-test">
      <h2 id="settings-test">Test the notifications</h2>
      <p className="hint settings-lead">
        Sends a test message now to the saved recipients (
        {plural(emails.length, "email address", "email addresses")}, {plural(webhooks.length, "webhook")}),
        webhooks signed like real alerts.
        {dirty ? " Save your changes first to include them." : ""}
      </p>
      <Button onClick={() => void send.run()} busy={send.busy} disabledReason={reason}>
        Send test
      </Button>
      {reason && can("EditApiKeysSettings") ? <p className="hint">{reason}.</p> : null}
      <InlineError error={send.error} />
      <div aria-live="polite">
        {results ? (
          <>
            <p className="settings-test-summary">
              {failed === 0
                ? `Sent to all ${plural(results.length, "recipient")}.`
                : `${plural(failed, "recipient")} of ${results.length} failed.`}
            </p>
            <ul className="settings-results">
              {results.map((result) => (
                <li key={`${result.channel} ${result.to}`}>
                  {result.ok ? <Badge tone="success">Sent</Badge> : <Badge tone="danger">Failed</Badge>}
                  <span className="muted">{result.channel === "email" ? "Email" : "Webhook"}</span>
                  <span className="settings-value">{result.to}</span>
                  {result.error ? <span className="settings-result-error">{result.error}</span> : null}
                </li>
              ))}
            </ul>
          </>
        ) : null}
      </div>
    </section>
  );
}

export interface ShownSecret {
  url: string;
  secret: string;
}

export function NewSecretsDialog({ secrets, onClose }: { secrets: ShownSecret[]; onClose: () => void }) {
  return (
    <Dialog
      title={secrets.length === 1 ? "The new webhook's signing secret" : "The new webhooks' signing secrets"}
      open
      onClose={onClose}
      size="wide"
      footer={
        <Button variant="primary" onClick={onClose}>
          I have stored it
        </Button>
      }
    >
      <p className="warning-box">
        Copy each secret into the receiver now: it is shown only this once. The receiver checks the
        X-Latchkey-Signature header with it.
      </p>
      {secrets.map((shown) => (
        <SecretValue key={shown.url} label={`Secret for ${shown.url}`} value={shown.secret} />
      ))}
    </Dialog>
  );
}
