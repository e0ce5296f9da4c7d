/**
 * Passwords in the admin: changing one's own (a dialog from the top bar, or the only screen after an
 * administrator's reset), asking for a reset link ("Forgot password?"), and choosing a new password
 * from that link (/admin/reset-password#code=…: the code sits in the fragment, which the browser never
 * sends, and reaches the server only in the request body). An administrator's reset is on the Users
 * page (users-dialogs.tsx).
 */
import { type FormEvent, type ReactNode, useState } from "react";
import { client, ok } from "../api";
import { BASE, Link, navigate } from "../router";
import { useSession } from "../session";
import { Button, InlineError, Loading, TextField } from "../ui/controls";
import { FormDialog } from "../ui/dialog";
import { useAction, useLoad } from "../ui/hooks";
import { useToast } from "../ui/toast";

const MIN_PASSWORD = 12;

/** Why a new password (and its confirmation) cannot be sent, or undefined. */
export function newPasswordProblem(next: string, again: string): string | undefined {
  if (next.length < MIN_PASSWORD) return `Use at least ${MIN_PASSWORD} characters`;
  if (next !== again) return "The two new passwords differ";
  return undefined;
}

/** The email a person signs in with, as every signed-out form asks for it. */
export function SignInEmailField({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  return (
    <TextField
      label="Email"
      type="email"
      autoComplete="username"
      required
      value={value}
      onChange={(event) => onChange(event.target.value)}
    />
  );
}

export function NewPasswordFields({
  next,
  again,
  setNext,
  setAgain,
  problem,
}: {
  next: string;
  again: string;
  setNext: (value: string) => void;
  setAgain: (value: string) => void;
  problem: string | undefined;
}) {
  return (
    <>
      <TextField
        label="New password"
        type="password"
        autoComplete="new-password"
        hint={`At least ${MIN_PASSWORD} characters`}
        value={next}
        onChange={(event) => setNext(event.target.value)}
      />
      <TextField
        label="New password again"
        type="password"
        autoComplete="new-password"
        value={again}
        error={problem}
        onChange={(event) => setAgain(event.target.value)}
      />
    </>
  );
}

function useChangePassword(onChanged: () => void) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [problem, setProblem] = useState<string | undefined>();
  const change = useAction((body: { currentPassword: string; newPassword: string }) =>
    ok(client.POST("/v1/me/password", { body })),
  );
  const submit = async () => {
    const found = newPasswordProblem(next, again);
    setProblem(found);
    if (found) return;
    if (await change.run({ currentPassword: current, newPassword: next })) onChanged();
  };
  const fields = (currentLabel: string) => (
    <>
      <TextField
        label={currentLabel}
        type="password"
        autoComplete="current-password"
        required
        value={current}
        onChange={(event) => setCurrent(event.target.value)}
      />
      <NewPasswordFields next={next} again={again} setNext={setNext} setAgain={setAgain} problem={problem} />
      <InlineError error={change.error} />
    </>
  );
  return { submit, busy: change.busy, fields };
}

/** The top bar's "Change password": the user's other sessions end, this one stays. */
export function ChangePasswordDialog({ onClose }: { onClose: () => void }) {
  const toast = useToast();
  const { submit, busy, fields } = useChangePassword(() => {
    toast("Password changed; your other sessions were signed out");
    onClose();
  });
  return (
    <FormDialog
      title="Change password"
      submitLabel="Change password"
      busy={busy}
      onClose={onClose}
      onSubmit={() => void submit()}
    >
      {fields("Current password")}
    </FormDialog>
  );
}

/** The only screen of a session whose password an administrator reset. */
export function ForcedPasswordChange() {
  const { refresh, signOut } = useSession();
  const { submit, busy, fields } = useChangePassword(() => void refresh());
  return (
    <CardPage title="Choose a new password">
      <form
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          void submit();
        }}
      >
        <p className="notice" role="status">
          An administrator reset your password. Choose a new one to continue: nobody else should know it.
        </p>
        {fields("One-time password")}
        <Button type="submit" variant="primary" busy={busy} className="wide">
          Set password
        </Button>
        <Button variant="ghost" className="wide" onClick={() => void signOut()}>
          Sign out
        </Button>
      </form>
    </CardPage>
  );
}

export function CardPage({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="sign-in">
      <div className="card sign-in-card">
        <p className="brand" aria-hidden="true">
          latchkey
        </p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

/** "Forgot password?": a reset link by email when the server can send one; otherwise, who can help. */
export function ForgotPassword() {
  const status = useLoad(() => ok(client.GET("/v1/auth/password-reset")), []);
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | undefined>();
  const request = useAction((body: { email: string }) =>
    ok(client.POST("/v1/auth/password-reset", { body })),
  );
  const back = <Link href={`${BASE}/login`}>Back to sign in</Link>;
  if (status.loading) return <Loading label="Loading…" />;
  if (!status.data?.email)
    return (
      <CardPage title="Forgot password">
        <p className="notice" role="status">
          This server sends no email, so it cannot mail you a reset link. Ask an administrator of your account
          to reset your password from the Users page: they will give you a one-time password, and you choose a
          new one when you sign in with it.
        </p>
        <p>{back}</p>
      </CardPage>
    );
  if (sent)
    return (
      <CardPage title="Check your email">
        <p role="status">{sent} Open it on this device to choose a new password.</p>
        <p>{back}</p>
      </CardPage>
    );
  return (
    <CardPage title="Forgot password">
      <form
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          void request.run({ email: email.trim() }).then((answer) => answer && setSent(answer.detail));
        }}
      >
        <p>Enter the email you sign in with: we mail you a link to choose a new password.</p>
        <SignInEmailField value={email} onChange={setEmail} />
        <InlineError error={request.error} />
        <Button type="submit" variant="primary" busy={request.busy} className="wide">
          Send reset link
        </Button>
        <p>{back}</p>
      </form>
    </CardPage>
  );
}

/** The page a reset link opens. */
export function ResetPasswordPage({ code }: { code: string }) {
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [problem, setProblem] = useState<string | undefined>();
  const [done, setDone] = useState(false);
  const complete = useAction(async (body: { code: string; newPassword: string }) => {
    await client.POST("/v1/auth/password-reset/complete", { body });
    return true;
  });
  if (done)
    return (
      <CardPage title="Password changed">
        <p role="status">Your password was changed and every session of yours was signed out.</p>
        <Button
          variant="primary"
          className="wide"
          onClick={() => navigate(`${BASE}/login`, { replace: true })}
        >
          Sign in
        </Button>
      </CardPage>
    );
  return (
    <CardPage title="Choose a new password">
      <form
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          const found = newPasswordProblem(next, again);
          setProblem(found);
          if (!found) void complete.run({ code, newPassword: next }).then((ok) => ok && setDone(true));
        }}
      >
        <NewPasswordFields
          next={next}
          again={again}
          setNext={setNext}
          setAgain={setAgain}
          problem={problem}
        />
        <InlineError error={complete.error} />
        <Button type="submit" variant="primary" busy={complete.busy} className="wide">
          Set password
        </Button>
        <p>
          <Link href={`${BASE}/forgot-password`}>Ask for a new link</Link>
        </p>
      </form>
    </CardPage>
  );
}
