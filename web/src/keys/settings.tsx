/**
 * The Settings tab (SPEC §2.3): renewal period, who is told about alerts (emails, signed webhooks),
 * and the two optional deactivation policies. PUT replaces the whole document, so the form always
 * sends everything, with If-Match set to the ETag of what it loaded (or last saved): when someone
 * else saved in between the server refuses (412 SETTINGS_CHANGED) and the form says so, keeping the
 * edits until the user reloads. Webhook secrets are write-only: a saved webhook shows "secret set";
 * a secret the server makes for a new webhook is shown once, in a dialog, and is gone when it closes.
 */
import { type FormEvent, useState } from "react";
import { ApiError, type ApiKeySettings, client } from "../api";
import { lacking, useAccount } from "../session";
import { Button, ErrorMessage, InlineError, Loading } from "../ui/controls";
import { formatDateTime } from "../ui/format";
import { useAction, useLoad } from "../ui/hooks";
import { useToast } from "../ui/toast";
import {
  bodyOf,
  checkDays,
  checkEmail,
  checkWebhook,
  type Draft,
  draftOf,
  ifMatchOf,
} from "./settings-draft";
import {
  EmailList,
  type PendingWebhook,
  Policies,
  RenewalPeriod,
  type WebhookErrors,
  WebhookList,
} from "./settings-sections";
import { NewSecretsDialog, type ShownSecret, TestNotification } from "./settings-test";
import "./settings.css";

export function SettingsTab() {
  const { account } = useAccount();
  const { data, error, loading, reload } = useLoad(async () => {
    const { data, response } = await client.GET("/v1/accounts/{account}/settings/api-keys", {
      params: { path: { account } },
    });
    return { settings: data as ApiKeySettings, etag: response.headers.get("etag") ?? undefined };
  }, [account]);
  if (loading && !data) return <Loading label="Loading settings…" />;
  if (error) return <ErrorMessage error={error} onRetry={reload} />;
  if (!data) return null;
  // A reload that finds another version starts the form afresh from it.
  return (
    <SettingsForm
      key={`${account} ${data.etag}`}
      initial={data.settings}
      etag={data.etag}
      reload={reload}
      reloading={loading}
    />
  );
}

interface FormProps {
  initial: ApiKeySettings;
  etag: string | undefined;
  reload: () => void;
  reloading: boolean;
}

function SettingsForm({ initial, etag: loadedEtag, reload, reloading }: FormProps) {
  const { account, can } = useAccount();
  const toast = useToast();
  const readOnly = can("EditApiKeysSettings") ? undefined : lacking("EditApiKeysSettings");
  const [saved, setSaved] = useState(initial);
  /** The version `saved` is: what a save is based on. */
  const [etag, setEtag] = useState(loadedEtag);
  const [draft, setDraft] = useState<Draft>(() => draftOf(initial));
  const [pendingEmail, setPendingEmail] = useState("");
  const [emailError, setEmailError] = useState<string>();
  const [pendingHook, setPendingHook] = useState<PendingWebhook>({ url: "", secret: "" });
  const [hookErrors, setHookErrors] = useState<WebhookErrors>({});
  const [showErrors, setShowErrors] = useState(false);
  const [secrets, setSecrets] = useState<ShownSecret[]>([]);
  const change = (patch: Partial<Draft>) => setDraft((current) => ({ ...current, ...patch }));

  const save = useAction(async (next: Draft) => {
    const { data, response } = await client.PUT("/v1/accounts/{account}/settings/api-keys", {
      params: { path: { account }, header: ifMatchOf(etag) },
      body: bodyOf(next),
    });
    setEtag(response.headers.get("etag") ?? undefined);
    // `send` threw for an error status: the answer is the saved settings.
    const { webhookSecrets, ...settings } = data as NonNullable<typeof data>;
    // The answer lists the webhooks in the order sent; show only the secrets the server made.
    setSecrets(
      settings.notifications.webhooks.flatMap((hook, index) => {
        const secret = webhookSecrets[hook.id];
        return secret && !next.webhooks[index]?.secret ? [{ url: hook.url, secret }] : [];
      }),
    );
    setSaved(settings);
    setDraft(draftOf(settings));
    setShowErrors(false);
    toast("Settings saved");
  });

  /** Text typed in an "add" field counts: it is added (if valid) rather than silently dropped. */
  const withPending = (): Draft | undefined => {
    let next = draft;
    if (pendingEmail.trim()) {
      const checked = checkEmail(pendingEmail, next.emails);
      if (!checked.email) {
        setEmailError(checked.error);
        return undefined;
      }
      next = { ...next, emails: [...next.emails, checked.email] };
      setPendingEmail("");
    }
    if (pendingHook.url.trim() || pendingHook.secret) {
      const found = checkWebhook(pendingHook.url, pendingHook.secret, next.webhooks.length);
      if (found.url || found.secret) {
        setHookErrors(found);
        return undefined;
      }
      const hook = { key: `new-${Date.now()}`, url: pendingHook.url.trim(), secret: pendingHook.secret };
      next = { ...next, webhooks: [...next.webhooks, hook] };
      setPendingHook({ url: "", secret: "" });
    }
    return next;
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (readOnly) return;
    setShowErrors(true);
    if (
      checkDays(draft.unusedOn, draft.unusedDays) ||
      checkDays(draft.maxAgeOn, draft.maxAgeDays) ||
      checkDays(draft.lifetimeOn, draft.lifetimeDays)
    )
      return;
    const next = withPending();
    if (!next) return;
    setDraft(next);
    void save.run(next);
  };

  const dirty =
    JSON.stringify(bodyOf(draft)) !== JSON.stringify(bodyOf(draftOf(saved))) ||
    Boolean(pendingEmail.trim() || pendingHook.url.trim());

  return (
    <>
      {readOnly ? (
        <p className="notice settings-readonly" role="note">
          Read only. {readOnly}: ask an account administrator to change these settings.
        </p>
      ) : null}
      <form onSubmit={submit} noValidate aria-label="API key settings">
        <fieldset className="settings-fieldset" disabled={Boolean(readOnly)}>
          <legend className="visually-hidden">API key settings</legend>
          <section className="card section" aria-labelledby="settings-renewal">
            <h2 id="settings-renewal">Token renewal</h2>
            <RenewalPeriod value={draft.renewalPeriodMonths} onChange={change} />
          </section>
          <section className="card section" aria-labelledby="settings-notifications">
            <h2 id="settings-notifications">Alert notifications</h2>
            <p className="hint settings-lead">
              When a key enters orange or red, or a policy deactivates one, these recipients are told once.
            </p>
            <EmailList
              emails={draft.emails}
              onChange={change}
              pending={pendingEmail}
              setPending={setPendingEmail}
              error={emailError}
              setError={setEmailError}
            />
            <WebhookList
              webhooks={draft.webhooks}
              onChange={change}
              pending={pendingHook}
              setPending={setPendingHook}
              errors={hookErrors}
              setErrors={setHookErrors}
            />
          </section>
          <section className="card section" aria-labelledby="settings-policies">
            <h2 id="settings-policies">Policies</h2>
            <p className="hint settings-lead">Off by default. A deactivated key can be activated again.</p>
            <Policies draft={draft} onChange={change} showErrors={showErrors} />
          </section>
        </fieldset>
        <div className="settings-save">
          <Button variant="primary" type="submit" busy={save.busy} disabledReason={readOnly}>
            Save settings
          </Button>
          <span className="hint" aria-live="polite">
            {dirty ? "Unsaved changes" : `Last saved: ${formatDateTime(saved.updatedAt, "never (defaults)")}`}
          </span>
        </div>
        {save.error instanceof ApiError && save.error.code === "SETTINGS_CHANGED" ? (
          <div className="settings-conflict" role="alert">
            <p>
              These settings were changed by someone else after you opened them, so your changes were not
              saved. Reload to see them; your edits are kept until you reload.
            </p>
            <Button onClick={reload} busy={reloading}>
              Reload settings
            </Button>
          </div>
        ) : (
          <InlineError error={save.error} />
        )}
      </form>
      <TestNotification saved={saved} dirty={dirty} />
      {secrets.length > 0 ? <NewSecretsDialog secrets={secrets} onClose={() => setSecrets([])} /> : null}
    </>
  );
}
