/**
 * The Controls section of the Generate and Edit dialogs: one field group per control (expiry, IP
 * allowlist, metadata, browser use, rate limit, quota; the last two in key-limits-fields.tsx), each showing the account's policy that bounds it and its
 * error (the client's check, or the server's refusal mapped to it). A new control is one more
 * entry of CONTROL_GROUPS, with its state and rules in key-controls-draft.ts.
 */
import { type ReactNode, useId, useState } from "react";
import { DAY_MS } from "../../../src/core/time";
import { client, ok } from "../api";
import { useAccount } from "../session";
import { Checkbox, Field } from "../ui/controls";
import { formatDateTime } from "../ui/format";
import { type Loaded, useLoad } from "../ui/hooks";
import {
  browserRefused,
  type ControlErrors,
  type ControlPolicies,
  type ControlsDraft,
  type ControlsTarget,
  checkControls,
  controlErrorsOf,
  controlsDraftOf,
  dayOf,
  type ExpiryChoice,
  latestAllowed,
  MAX_METADATA_BYTES,
  metadataBytes,
  neverRefused,
} from "./key-controls-draft";
import { QuotaGroup, RateLimitGroup } from "./key-limits-fields";

export interface ControlGroupProps {
  draft: ControlsDraft;
  onChange: (patch: Partial<ControlsDraft>) => void;
  errors: ControlErrors;
  target: ControlsTarget;
}

const CONTROL_GROUPS: readonly { id: string; Group: (props: ControlGroupProps) => ReactNode }[] = [
  { id: "expiry", Group: ExpiryGroup },
  { id: "ip", Group: IpAllowlistGroup },
  { id: "metadata", Group: MetadataGroup },
  { id: "browser", Group: BrowserGroup },
  { id: "rate", Group: RateLimitGroup },
  { id: "quota", Group: QuotaGroup },
];

export function KeyControlsFields(props: ControlGroupProps) {
  return (
    <fieldset className="key-controls">
      <legend>Controls</legend>
      <p className="hint">
        Optional limits checked on every call with the key. Leave them empty for a key that works from
        anywhere, with no end date and no limit on its calls.
      </p>
      {CONTROL_GROUPS.map(({ id, Group }) => (
        <Group key={id} {...props} />
      ))}
    </fieldset>
  );
}

/** The account's policies that bound the controls (settings, readable with ViewApiKeys). */
export function useControlPolicies(): Loaded<ControlPolicies> {
  const { account } = useAccount();
  return useLoad(async () => {
    const settings = await ok(
      client.GET("/v1/accounts/{account}/settings/api-keys", { params: { path: { account } } }),
    );
    const { maxKeyLifetimeDays, allowBrowserKeys } = settings.policies;
    return { maxKeyLifetimeDays, allowBrowserKeys };
  }, [account]);
}

/**
 * The controls' state in a dialog: the draft, and the errors to show (the client's, once the user
 * tried to submit; else the server's refusal of `action`, until the user edits a control).
 */
export function useControlsForm(target: ControlsTarget, action: { error: unknown; clearError: () => void }) {
  const [draft, setDraft] = useState(() => controlsDraftOf(target));
  const [checked, setChecked] = useState(false);
  const clientErrors = checkControls(draft, target);
  const serverErrors = controlErrorsOf(action.error, draft);
  return {
    draft,
    /** The server's refusal was about a control (shown at the field, not under the form). */
    refusedField: serverErrors !== undefined,
    props: {
      draft,
      target,
      errors: checked ? { ...serverErrors, ...clientErrors } : (serverErrors ?? {}),
      onChange: (patch: Partial<ControlsDraft>) => {
        setDraft((current) => ({ ...current, ...patch }));
        if (serverErrors) action.clearError();
      },
    } satisfies ControlGroupProps,
    /** Marks the form as submitted; true when the controls may be sent. */
    check: () => {
      setChecked(true);
      return Object.keys(clientErrors).length === 0;
    },
  };
}

function ExpiryGroup({ draft, onChange, errors, target }: ControlGroupProps) {
  const id = useId();
  const latest = latestAllowed(target);
  const never = neverRefused(target);
  const days = target.policies.maxKeyLifetimeDays;
  const options: { value: ExpiryChoice; label: string; disabledReason?: string | undefined }[] = [
    { value: "never", label: "Never expires", disabledReason: never },
    ...(!target.key && latest !== null
      ? [{ value: "maximum" as const, label: `Longest allowed: until ${formatDateTime(iso(latest))}` }]
      : []),
    { value: "date", label: "Expires on a date" },
  ];
  const policy =
    latest === null
      ? "The account sets no maximum key lifetime."
      : `The account allows keys at most ${days} days from their creation: the latest allowed expiry is ${formatDateTime(iso(latest))}.`;
  return (
    <fieldset className="key-control key-control-expiry">
      <legend>Expiry</legend>
      <p className="hint">{policy}</p>
      {options.map((option) => (
        <div key={option.value} className="key-choice-option">
          <input
            type="radio"
            id={`${id}-${option.value}`}
            name={`${id}-expiry`}
            checked={draft.expiry === option.value}
            disabled={option.disabledReason !== undefined && draft.expiry !== option.value}
            onChange={() => onChange({ expiry: option.value })}
            aria-describedby={option.disabledReason ? `${id}-${option.value}-why` : undefined}
          />
          <label htmlFor={`${id}-${option.value}`}>{option.label}</label>
          {option.disabledReason ? (
            <p className="hint" id={`${id}-${option.value}-why`}>
              {option.disabledReason}
            </p>
          ) : null}
        </div>
      ))}
      <Field
        label="Expiry date"
        hint="The key stops working at 00:00 UTC on that day. It stays listed, and can be given a later date."
        error={errors.expiresAt}
      >
        {(ids) => (
          <input
            className="input key-control-date"
            type="date"
            value={draft.expiresOn}
            min={dayOf(target.now + DAY_MS)}
            max={latest === null ? undefined : dayOf(latest)}
            disabled={draft.expiry !== "date"}
            onChange={(event) => onChange({ expiresOn: event.target.value })}
            {...ids}
          />
        )}
      </Field>
    </fieldset>
  );
}

function IpAllowlistGroup({ draft, onChange, errors }: ControlGroupProps) {
  return (
    <div className="key-control">
      <Field
        label="IP allowlist"
        hint="One IPv4 or IPv6 address or CIDR block per line (at most 100), e.g. 203.0.113.0/24. Empty: any address. Calls from elsewhere fail with IP_NOT_ALLOWED."
        error={errors.ipAllowlist}
      >
        {(ids) => (
          <textarea
            className="input mono"
            rows={3}
            spellCheck={false}
            placeholder={"203.0.113.0/24\n2001:db8::/32"}
            value={draft.ipText}
            onChange={(event) => onChange({ ipText: event.target.value })}
            {...ids}
          />
        )}
      </Field>
    </div>
  );
}

function MetadataGroup({ draft, onChange, errors }: ControlGroupProps) {
  const bytes = metadataBytes(draft.metadataText);
  return (
    <div className="key-control">
      <p className="warning-box" role="note">
        <strong>Metadata is not a secret store.</strong> Everyone who may view keys sees it, and it is written
        in audit events and exports and sent to gateways on every call. Never put tokens, passwords or
        personal data here.
      </p>
      <Field
        label="Metadata (JSON object)"
        hint={`Returned by /v1/verify and to gateways, e.g. {"customerId": "c-1"}. ${bytes.toLocaleString("en")} of ${MAX_METADATA_BYTES.toLocaleString("en")} bytes. Empty: none.`}
        error={errors.metadata}
      >
        {(ids) => (
          <textarea
            className="input mono"
            rows={4}
            spellCheck={false}
            value={draft.metadataText}
            onChange={(event) => onChange({ metadataText: event.target.value })}
            {...ids}
          />
        )}
      </Field>
    </div>
  );
}

function BrowserGroup({ draft, onChange, errors, target }: ControlGroupProps) {
  const refused = browserRefused(target);
  return (
    <div className="key-control">
      <Checkbox
        label="Allow use from browser pages"
        hint={
          refused ??
          "Only for a key that really must run in a web page: a token in a page is readable by anyone who opens it. By default, calls from browser pages are refused (BROWSER_REQUEST_REFUSED)."
        }
        checked={draft.allowBrowser}
        disabled={refused !== undefined && !draft.allowBrowser}
        onChange={(event) => onChange({ allowBrowser: event.target.checked })}
      />
      {errors.allowBrowser ? (
        <p className="field-error" role="alert">
          {errors.allowBrowser}
        </p>
      ) : null}
    </div>
  );
}

function iso(instant: number): string {
  return new Date(instant).toISOString();
}
