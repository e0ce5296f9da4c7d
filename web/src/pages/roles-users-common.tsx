/** Pieces the Roles, Users and Audit log pages share: the no-access explanation, confirmation, field errors. */
import type { ComponentProps } from "react";
import { ApiError, describeError } from "../api";
import { lacking } from "../session";
import { EmptyState, PageHeader } from "../ui/controls";
import { ConfirmDialog as BaseConfirmDialog } from "../ui/dialog";
import "./roles-users-common.css";

/** What a page shows to someone lacking its view resource: no call is made that would be refused. */
export function NoAccess({ title, what, resource }: { title: string; what: string; resource: string }) {
  return (
    <>
      <PageHeader title={title} />
      <EmptyState title={`You cannot see ${what}`}>
        <p>{lacking(resource)}. Ask an account administrator for a role that includes it.</p>
      </EmptyState>
    </>
  );
}

/**
 * The server's message for one form field, when the error is about it: a validation failure whose
 * detail starts with the field's name ("name: must not be empty", "password must be …"), or one of
 * the given codes (a taken name, an existing user).
 */
export function fieldError(error: unknown, field: string, codes: readonly string[] = []): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  if (codes.includes(error.code)) return error.message;
  if (error.code !== "VALIDATION_FAILED") return undefined;
  const match = new RegExp(`^${field}(?::\\s*|\\s+)(.*)$`, "s").exec(error.message);
  if (!match?.[1]) return undefined;
  const text = match[1];
  return match[0].startsWith(`${field}:`) ? text.charAt(0).toUpperCase() + text.slice(1) : error.message;
}

/** A confirmation whose refusal by the server shows below the question. */
export function ConfirmDialog({
  error,
  children,
  ...props
}: ComponentProps<typeof BaseConfirmDialog> & { error: unknown }) {
  return (
    <BaseConfirmDialog {...props}>
      {children}
      {error ? (
        <p className="danger-box" role="alert">
          {describeError(error)}
        </p>
      ) : null}
    </BaseConfirmDialog>
  );
}
