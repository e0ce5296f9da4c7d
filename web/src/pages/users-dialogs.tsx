/**
 * Adding a user, setting a user's roles and removing one. A password the server generates, or an
 * invitation's code and URL, is shown once, in the dialog that follows the add, and dropped from
 * memory when that dialog closes.
 */
import { useState } from "react";
import { client, type IssuedInvitation, ok, type User } from "../api";
import { useAccount } from "../session";
import { InlineError, SecretValue, TextField } from "../ui/controls";
import { FormDialog, ShownOnceDialog } from "../ui/dialog";
import { useAction } from "../ui/hooks";
import { RolePicker, USER_HINT } from "../ui/role-picker";
import { ConfirmDialog, fieldError } from "./roles-users-common";

const MIN_PASSWORD = 12;

export function AddUserDialog({ onClose, onAdded }: { onClose: () => void; onAdded: (user: User) => void }) {
  const { account } = useAccount();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [roles, setRoles] = useState<number[]>([]);
  const [problems, setProblems] = useState<{ email?: string; password?: string }>({});
  /** The generated password or the invitation's code: lives only as long as this dialog. */
  const [issued, setIssued] = useState<
    { email: string; password: string } | { email: string; invitation: IssuedInvitation } | null
  >(null);
  const add = useAction((body: { email: string; password?: string; roles: number[] }) =>
    ok(client.POST("/v1/accounts/{account}/users", { params: { path: { account } }, body })),
  );

  const submit = async () => {
    const found: typeof problems = {};
    if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) found.email = "Enter the person's email address";
    if (password && password.length < MIN_PASSWORD)
      found.password = `Use at least ${MIN_PASSWORD} characters, or leave it empty to generate one`;
    setProblems(found);
    if (found.email || found.password) return;
    const result = await add.run({ email: email.trim(), ...(password ? { password } : {}), roles });
    if (!result) return;
    onAdded(result.user);
    if (result.password) setIssued({ email: result.user.email, password: result.password });
    else if (result.invitation) setIssued({ email: result.user.email, invitation: result.invitation });
    else onClose();
  };

  if (issued && "invitation" in issued)
    return (
      <ShownOnceDialog title="User invited" onClose={onClose}>
        <p>
          {issued.email} already has a sign-in, so they are invited: the roles apply once they accept, signed
          in, with this code. Send them the link (or the code) yourself, through a channel you trust. It
          expires on {new Date(issued.invitation.expiresAt).toLocaleString()}.
        </p>
        <p className="warning-box">
          This code is shown only once. Copy it now: it cannot be shown again. To make a new one, withdraw the
          invitation and invite them again.
        </p>
        <SecretValue label="Invitation link" value={issued.invitation.url} />
        <SecretValue label="Invitation code" value={issued.invitation.code} />
      </ShownOnceDialog>
    );

  if (issued)
    return (
      <ShownOnceDialog title="User added" onClose={onClose}>
        <p>
          {issued.email} can now sign in with this password. Give it to them through a safe channel; they
          should keep it in a password manager.
        </p>
        <p className="warning-box">
          This password is shown only once. Copy it now: it cannot be shown again.
        </p>
        <SecretValue label="Generated password" value={issued.password} />
      </ShownOnceDialog>
    );

  const emailError = problems.email ?? fieldError(add.error, "email", ["USER_EXISTS", "USER_ALREADY_MEMBER"]);
  const passwordError = problems.password ?? fieldError(add.error, "password");
  return (
    <FormDialog
      title="Add user"
      size="wide"
      submitLabel="Add user"
      busy={add.busy}
      onSubmit={() => void submit()}
      onClose={onClose}
    >
      <TextField
        label="Email"
        type="email"
        autoComplete="off"
        required
        value={email}
        error={emailError}
        onChange={(event) => setEmail(event.target.value)}
      />
      <TextField
        label="Password (optional)"
        type="password"
        autoComplete="new-password"
        value={password}
        error={passwordError}
        hint={`Leave empty and latchkey generates one, shown once. At least ${MIN_PASSWORD} characters. Someone who already has a sign-in keeps theirs and is invited instead: you get a code to send them, and the roles apply once they accept with it.`}
        onChange={(event) => setPassword(event.target.value)}
      />
      <RolePicker legend="Roles" selected={roles} onChange={setRoles} hint={USER_HINT} />
      <InlineError error={emailError || passwordError ? undefined : add.error} />
    </FormDialog>
  );
}

export function SetRolesDialog({
  user,
  self,
  onClose,
  onSaved,
}: {
  user: User;
  self: boolean;
  onClose: () => void;
  onSaved: (user: User) => void;
}) {
  const { account } = useAccount();
  const [roles, setRoles] = useState<number[]>(() => user.roles.map((role) => role.id));
  const save = useAction(() =>
    ok(
      client.PUT("/v1/accounts/{account}/users/{id}/roles", {
        params: { path: { account, id: user.id } },
        body: { roles: [...roles].sort((a, b) => a - b) },
      }),
    ),
  );
  return (
    <ConfirmDialog
      title={`Roles of ${user.email}`}
      size="wide"
      variant="primary"
      confirmLabel="Save roles"
      busy={save.busy}
      error={save.error}
      onConfirm={() => void save.run().then((saved) => saved && onSaved(saved))}
      onClose={onClose}
    >
      {self ? (
        <p className="warning-box">
          These are your own roles: taking one away takes its permissions from you.
        </p>
      ) : null}
      <RolePicker legend="Roles" selected={roles} onChange={setRoles} current={user.roles} hint={USER_HINT} />
    </ConfirmDialog>
  );
}

export function RemoveUserDialog({
  user,
  self,
  onClose,
  onRemoved,
}: {
  user: User;
  self: boolean;
  onClose: () => void;
  onRemoved: () => void;
}) {
  const { account } = useAccount();
  const remove = useAction(async () => {
    await client.DELETE("/v1/accounts/{account}/users/{id}", { params: { path: { account, id: user.id } } });
    return true;
  });
  return (
    <ConfirmDialog
      title={`Remove ${user.email}?`}
      confirmLabel="Remove user"
      busy={remove.busy}
      error={remove.error}
      onClose={onClose}
      onConfirm={() => void remove.run().then((done) => done && onRemoved())}
    >
      <p>
        {self
          ? "You are removing yourself: you lose access to this account at once."
          : user.status === "invited"
            ? `The invitation of ${user.email} to ${account} is withdrawn. Their sign-in stays for other accounts.`
            : `${user.email} loses access to ${account} and every role in it. Their sign-in stays for other accounts.`}
      </p>
    </ConfirmDialog>
  );
}

/**
 * An administrator's reset: after confirming, the one-time password is shown once. The user's sessions
 * end, and they must choose a new password when they sign in with this one.
 */
export function ResetPasswordDialog({ user, onClose }: { user: User; onClose: () => void }) {
  const { account } = useAccount();
  /** The one-time password: lives only as long as this dialog. */
  const [password, setPassword] = useState<string | null>(null);
  const reset = useAction(() =>
    ok(
      client.POST("/v1/accounts/{account}/users/{id}/password-reset", {
        params: { path: { account, id: user.id } },
      }),
    ),
  );
  if (password)
    return (
      <ShownOnceDialog title="Password reset" onClose={onClose}>
        <p>
          {user.email} was signed out everywhere. Give them this one-time password through a safe channel:
          when they sign in with it, they must choose a new password before anything else.
        </p>
        <p className="warning-box">
          This password is shown only once. Copy it now: it cannot be shown again.
        </p>
        <SecretValue label="One-time password" value={password} />
      </ShownOnceDialog>
    );
  return (
    <ConfirmDialog
      title={`Reset the password of ${user.email}?`}
      confirmLabel="Reset password"
      busy={reset.busy}
      error={reset.error}
      onClose={onClose}
      onConfirm={() => void reset.run().then((done) => done && setPassword(done.password))}
    >
      <p>
        Their current password stops working and every session of theirs ends at once. You get a one-time
        password to give them; they choose a new one when they sign in with it.
      </p>
    </ConfirmDialog>
  );
}
