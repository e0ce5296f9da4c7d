/**
 * The rate limit and quota groups of the Generate and Edit dialogs' Controls section
 * (key-controls-fields.tsx). Counts are typed as text with a numeric keyboard, not as number inputs:
 * a number input reads a mistyped value as empty, which here would mean "none" and clear a limit.
 */
import type { ChangeEvent } from "react";
import { MAX_QUOTA, MAX_RATE_WINDOW_SECONDS } from "../../../src/core/key-controls";
import { Field } from "../ui/controls";
import { formatDateTime } from "../ui/format";
import type { ControlGroupProps } from "./key-controls-fields";
import { type LimitsDraft, limitsValues, rateLimitText } from "./key-limits-draft";

function CountInput({
  ids,
  value,
  disabled,
  onChange,
}: {
  ids: object;
  value: string;
  disabled?: boolean;
  onChange: (value: string) => void;
}) {
  return (
    <input
      className="input key-control-count"
      type="text"
      inputMode="numeric"
      autoComplete="off"
      value={value}
      disabled={disabled}
      onChange={(event: ChangeEvent<HTMLInputElement>) => onChange(event.target.value)}
      {...ids}
    />
  );
}

export function RateLimitGroup({ draft, onChange, errors }: ControlGroupProps) {
  const { rateLimit } = limitsValues(draft);
  const off = !draft.rateLimit.trim();
  const readable =
    rateLimit && Number.isSafeInteger(rateLimit.limit) && Number.isSafeInteger(rateLimit.windowSeconds);
  const summary = readable ? `${rateLimitText(rateLimit)}.` : "Empty: no rate limit.";
  return (
    <fieldset className="key-control">
      <legend>Rate limit</legend>
      <p className="hint">
        Past the limit, calls get 429 KEY_RATE_LIMITED until the window ends. Windows are aligned to the
        clock: a 60-second window starts on each whole minute (UTC).
      </p>
      <div className="key-control-pair">
        <Field label="Calls per window" hint={summary} error={errors["rateLimit.limit"]}>
          {(ids) => (
            <CountInput ids={ids} value={draft.rateLimit} onChange={(rateLimit) => onChange({ rateLimit })} />
          )}
        </Field>
        <Field
          label="Window (seconds)"
          hint={`1 to ${MAX_RATE_WINDOW_SECONDS.toLocaleString("en-US")} (a day); 60 is a minute, 3,600 an hour.`}
          error={errors["rateLimit.windowSeconds"]}
        >
          {(ids) => (
            <CountInput
              ids={ids}
              value={draft.rateWindow}
              disabled={off}
              onChange={(rateWindow) => onChange({ rateWindow })}
            />
          )}
        </Field>
      </div>
    </fieldset>
  );
}

const REFILLS: { value: LimitsDraft["refillEvery"]; label: string }[] = [
  { value: "never", label: "Never" },
  { value: "day", label: "Every day" },
  { value: "month", label: "Every month" },
];

export function QuotaGroup({ draft, onChange, errors, target }: ControlGroupProps) {
  const current = target.key?.quota ?? null;
  const off = !draft.quota.trim();
  const refillOff = off || draft.refillEvery === "never";
  const known = current
    ? ` The key has ${current.remaining.toLocaleString("en-US")} calls left as last counted (a few seconds behind its calls)${current.refillsAt ? `; it refills ${formatDateTime(current.refillsAt)}` : ""}. Saving a changed quota sets the calls left to this number now.`
    : "";
  return (
    <fieldset className="key-control">
      <legend>Quota</legend>
      <p className="hint">
        Each allowed call spends one; at 0, calls get 429 QUOTA_EXHAUSTED. Empty: no quota.{known}
      </p>
      <div className="key-control-pair">
        <Field
          label="Calls left"
          hint={`0 to ${MAX_QUOTA.toLocaleString("en-US")}.`}
          error={errors["quota.remaining"]}
        >
          {(ids) => <CountInput ids={ids} value={draft.quota} onChange={(quota) => onChange({ quota })} />}
        </Field>
        <Field label="Refill" error={errors["quota.refill.every"]}>
          {(ids) => (
            <select
              className="input"
              value={draft.refillEvery}
              disabled={off}
              onChange={(event) => {
                const refillEvery = event.target.value as LimitsDraft["refillEvery"];
                // A first refill starts from the calls left, the usual plan ("10,000 a month").
                const refillAmount = draft.refillAmount.trim() ? draft.refillAmount : draft.quota;
                onChange({ refillEvery, refillAmount });
              }}
              {...ids}
            >
              {REFILLS.map((refill) => (
                <option key={refill.value} value={refill.value}>
                  {refill.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field
          label="Refill to (calls)"
          hint="At 00:00 UTC each day, or on the 1st of each month, the calls left are set back to this; what was left is not carried over."
          error={errors["quota.refill.amount"]}
        >
          {(ids) => (
            <CountInput
              ids={ids}
              value={draft.refillAmount}
              disabled={refillOff}
              onChange={(refillAmount) => onChange({ refillAmount })}
            />
          )}
        </Field>
      </div>
    </fieldset>
  );
}
