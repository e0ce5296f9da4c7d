/** The parts of the Settings form: renewal period, alert emails, webhooks, policies. */
import { type KeyboardEvent, useId } from "react";
import { Badge, Button, Checkbox, TextField } from "../ui/controls";
import {
  checkDays,
  checkEmail,
  checkWebhook,
  type Draft,
  MAX_DAYS,
  MIN_SECRET,
  type WebhookDraft,
} from "./settings-draft";

type Change = (patch: Partial<Draft>) => void;

/** Enter in an "add" field adds, instead of submitting the whole settings form. */
function onEnter(action: () => void) {
  return (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    action();
  };
}

export function RenewalPeriod({ value, onChange }: { value: 3 | 6; onChange: Change }) {
  const name = useId();
  const options = [
    { months: 3 as const, label: "3 months", hint: "The default, and what VTEX uses." },
    { months: 6 as const, label: "6 months", hint: "For integrations that are hard to update." },
  ];
  return (
    <fieldset className="settings-radios">
      <legend>Renewal period</legend>
      <p className="hint">
        A generated key whose token is older than this gets an orange alert; 3 months later, red. Alerts never
        disable a key.
      </p>
      {options.map((option) => (
        <div key={option.months} className="settings-radio">
          <input
            type="radio"
            id={`${name}-${option.months}`}
            name={name}
            checked={value === option.months}
            onChange={() => onChange({ renewalPeriodMonths: option.months })}
            aria-describedby={`${name}-${option.months}-hint`}
          />
          <label htmlFor={`${name}-${option.months}`}>{option.label}</label>
          <span className="hint" id={`${name}-${option.months}-hint`}>
            {option.hint}
          </span>
        </div>
      ))}
    </fieldset>
  );
}

export function EmailList({
  emails,
  onChange,
  pending,
  setPending,
  error,
  setError,
}: {
  emails: string[];
  onChange: Change;
  pending: string;
  setPending: (value: string) => void;
  error: string | undefined;
  setError: (value: string | undefined) => void;
}) {
  const add = () => {
    const checked = checkEmail(pending, emails);
    if (checked.error || !checked.email) return setError(checked.error);
    onChange({ emails: [...emails, checked.email] });
    setPending("");
    setError(undefined);
  };
  return (
    <section className="settings-group" aria-labelledby="settings-emails">
      <h3 id="settings-emails">Email addresses</h3>
      {emails.length === 0 ? (
        <p className="hint">No email address: alerts go to the webhooks only, if any.</p>
      ) : (
        <ul className="settings-list">
          {emails.map((email) => (
            <li key={email}>
              <span className="settings-value">{email}</span>
              <Button
                variant="ghost"
                aria-label={`Remove ${email}`}
                onClick={() => onChange({ emails: emails.filter((other) => other !== email) })}
              >
                Remove
              </Button>
            </li>
          ))}
        </ul>
      )}
      <div className="settings-add">
        <TextField
          label="Add an email address"
          type="email"
          autoComplete="off"
          value={pending}
          error={error}
          onChange={(event) => {
            setPending(event.target.value);
            setError(undefined);
          }}
          onKeyDown={onEnter(add)}
        />
        <Button onClick={add} disabled={!pending.trim()}>
          Add email
        </Button>
      </div>
    </section>
  );
}

export interface PendingWebhook {
  url: string;
  secret: string;
}
export type WebhookErrors = { url?: string; secret?: string };

export function WebhookList({
  webhooks,
  onChange,
  pending,
  setPending,
  errors,
  setErrors,
}: {
  webhooks: WebhookDraft[];
  onChange: Change;
  pending: PendingWebhook;
  setPending: (value: PendingWebhook) => void;
  errors: WebhookErrors;
  setErrors: (value: WebhookErrors) => void;
}) {
  const { url, secret } = pending;
  const add = () => {
    const found = checkWebhook(url, secret, webhooks.length);
    setErrors(found);
    if (found.url || found.secret) return;
    onChange({ webhooks: [...webhooks, { key: `new-${Date.now()}`, url: url.trim(), secret }] });
    setPending({ url: "", secret: "" });
  };
  return (
    <section className="settings-group" aria-labelledby="settings-webhooks">
      <h3 id="settings-webhooks">Webhooks</h3>
      <p className="hint">
        Each delivery is a JSON POST signed with the webhook's secret in the X-Latchkey-Signature header.
        Addresses in private networks or on the server itself are refused unless the server runs with
        WEBHOOK_ALLOW_PRIVATE=true; redirects are not followed.
      </p>
      {webhooks.length === 0 ? (
        <p className="hint">No webhook.</p>
      ) : (
        <ul className="settings-list">
          {webhooks.map((hook) => (
            <li key={hook.key}>
              <span className="settings-value mono">{hook.url}</span>
              {hook.id ? (
                <Badge tone="success">secret set</Badge>
              ) : (
                <Badge tone="info">{hook.secret ? "new · your secret" : "new · secret made on save"}</Badge>
              )}
              <Button
                variant="ghost"
                aria-label={`Remove webhook ${hook.url}`}
                onClick={() => onChange({ webhooks: webhooks.filter((other) => other.key !== hook.key) })}
              >
                Remove
              </Button>
            </li>
          ))}
        </ul>
      )}
      <div className="settings-add settings-add-webhook">
        <TextField
          label="Webhook URL"
          type="url"
          autoComplete="off"
          placeholder="https://hooks.example.com/latchkey"
          value={url}
          error={errors.url}
          onChange={(event) => {
            setPending({ url: event.target.value, secret });
            setErrors({});
          }}
          onKeyDown={onEnter(add)}
        />
        <TextField
          label="Signing secret (optional)"
          type="password"
          autoComplete="new-password"
          value={secret}
          hint={`${MIN_SECRET}+ characters. Leave empty to have one made; it is shown once, after saving.`}
          error={errors.secret}
          onChange={(event) => {
            setPending({ url, secret: event.target.value });
            setErrors({});
          }}
          onKeyDown={onEnter(add)}
        />
        <Button onClick={add} disabled={!url.trim()}>
          Add webhook
        </Button>
      </div>
    </section>
  );
}

function Policy({
  label,
  hint,
  daysLabel,
  on,
  days,
  onToggle,
  onDays,
  showError,
}: {
  label: string;
  hint: string;
  daysLabel: string;
  on: boolean;
  days: string;
  onToggle: (on: boolean) => void;
  onDays: (days: string) => void;
  showError: boolean;
}) {
  return (
    <div className="settings-policy">
      <Checkbox label={label} hint={hint} checked={on} onChange={(event) => onToggle(event.target.checked)} />
      <TextField
        label={daysLabel}
        type="number"
        inputMode="numeric"
        min={1}
        max={MAX_DAYS}
        value={days}
        disabled={!on}
        error={showError ? checkDays(on, days) : undefined}
        onChange={(event) => onDays(event.target.value)}
      />
    </div>
  );
}

export function Policies({
  draft,
  onChange,
  showErrors,
}: {
  draft: Draft;
  onChange: Change;
  showErrors: boolean;
}) {
  return (
    <>
      <Policy
        label="Deactivate keys that go unused"
        hint="Active keys neither used, created nor changed in this many days are deactivated, and the recipients above are told."
        daysLabel="Days without use"
        on={draft.unusedOn}
        days={draft.unusedDays}
        onToggle={(unusedOn) => onChange({ unusedOn })}
        onDays={(unusedDays) => onChange({ unusedDays })}
        showError={showErrors}
      />
      <Policy
        label="Deactivate keys whose token is too old"
        hint="Keys whose newest token is older than this are deactivated; only renewing the token keeps them active."
        daysLabel="Maximum token age (days)"
        on={draft.maxAgeOn}
        days={draft.maxAgeDays}
        onToggle={(maxAgeOn) => onChange({ maxAgeOn })}
        onDays={(maxAgeDays) => onChange({ maxAgeDays })}
        showError={showErrors}
      />
      <Policy
        label="Limit how long keys live"
        hint="A key's expiry may be at most this many days after its creation; new keys that name none get the longest allowed. Existing keys keep their expiry until it is changed."
        daysLabel="Maximum key lifetime (days)"
        on={draft.lifetimeOn}
        days={draft.lifetimeDays}
        onToggle={(lifetimeOn) => onChange({ lifetimeOn })}
        onDays={(lifetimeDays) => onChange({ lifetimeDays })}
        showError={showErrors}
      />
      <div className="settings-policy">
        <Checkbox
          label="Allow keys to be used from browser pages"
          hint="Off: key credentials on requests from browser pages are refused, and no key can be marked for browser use. On: a key edited to allow it may run in a web page, where anyone who opens the page can read its token. Turning this off does not clear keys already marked."
          checked={draft.allowBrowserKeys}
          onChange={(event) => onChange({ allowBrowserKeys: event.target.checked })}
        />
      </div>
      <div className="settings-policy">
        <Checkbox
          label="Require approval of external keys"
          hint="Adding an external key makes a request that grants nothing until someone else holding Edit API keys approves it (Approvals tab), within 7 days. Turning this off leaves pending requests pending."
          checked={draft.requireApproval}
          onChange={(event) => onChange({ requireApproval: event.target.checked })}
        />
      </div>
    </>
  );
}
