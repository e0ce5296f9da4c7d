/** Pieces shared by the key dialogs: radio choices, and the one showing of a fresh secret. */
import { useId } from "react";
import type { IssuedKey } from "../api";
import { SecretValue } from "../ui/controls";
import { formatDateTime } from "../ui/format";

export type Delivery = "inline" | "link";

export function RadioGroup<T extends string>({
  legend,
  name,
  value,
  onChange,
  options,
}: {
  legend: string;
  name: string;
  value: T;
  onChange: (value: T) => void;
  options: { value: T; label: string; hint: string }[];
}) {
  const id = useId();
  return (
    <fieldset className="key-choice">
      <legend>{legend}</legend>
      {options.map((option) => (
        <div key={option.value} className="key-choice-option">
          <input
            type="radio"
            id={`${id}-${option.value}`}
            name={`${id}-${name}`}
            value={option.value}
            checked={value === option.value}
            onChange={() => onChange(option.value)}
            aria-describedby={`${id}-${option.value}-hint`}
          />
          <label htmlFor={`${id}-${option.value}`}>{option.label}</label>
          <p className="hint" id={`${id}-${option.value}-hint`}>
            {option.hint}
          </p>
        </div>
      ))}
    </fieldset>
  );
}

export function DeliveryChoice({
  value,
  onChange,
}: {
  value: Delivery;
  onChange: (value: Delivery) => void;
}) {
  return (
    <RadioGroup
      legend="Hand the token over"
      name="delivery"
      value={value}
      onChange={onChange}
      options={[
        {
          value: "inline",
          label: "Show the token here",
          hint: "You copy it from this dialog; it is shown once.",
        },
        {
          value: "link",
          label: "Create a share link",
          hint: "A single-use link that reveals the token once; it expires after 24 hours if unused.",
        },
      ]}
    />
  );
}

/** The one and only showing of a fresh token or of the share link that reveals it. */
export function IssuedSecret({ issued }: { issued: IssuedKey }) {
  if ("appToken" in issued)
    return (
      <div className="issued">
        <p className="warning-box" role="note">
          <strong>Copy the token now.</strong> It will not be shown again: latchkey keeps only a hash of it.
          Store it in the integration's secret store.
        </p>
        <SecretValue label="appKey" value={issued.key.appKey} />
        <SecretValue label="appToken" value={issued.appToken} />
      </div>
    );
  return (
    <div className="issued">
      <p className="warning-box" role="note">
        <strong>Copy the link now.</strong> It will not be shown again. Send it to whoever sets up the
        integration: it reveals the token once, and expires on {formatDateTime(issued.shareExpiresAt)} if
        unused.
      </p>
      <SecretValue label="appKey" value={issued.key.appKey} />
      <SecretValue label="Share link" value={issued.shareUrl} />
    </div>
  );
}
