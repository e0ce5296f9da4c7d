import { type FormEvent, useState } from "react";
import { BASE, Link } from "../router";
import { type SignedOutReason, useSession } from "../session";
import { Button, InlineError, TextField } from "../ui/controls";
import { useAction } from "../ui/hooks";
import { SignInEmailField } from "./passwords";

export function SignIn({ reason }: { reason?: SignedOutReason | undefined }) {
  const { signIn } = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { run, busy, error } = useAction(signIn);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run(email.trim(), password);
  };

  return (
    <main className="sign-in">
      <form className="card sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <p className="brand" aria-hidden="true">
          latchkey
        </p>
        <h1 id="sign-in-title">Sign in</h1>
        {reason === "expired" ? (
          <p className="notice" role="status">
            Your session has expired. Sign in again to continue.
          </p>
        ) : null}
        {reason === "unreachable" ? (
          <p className="notice" role="status">
            The server could not be reached. Check your connection, then sign in.
          </p>
        ) : null}
        {reason === "signed-out" ? (
          <p className="notice" role="status">
            You have signed out.
          </p>
        ) : null}
        <SignInEmailField value={email} onChange={setEmail} />
        <TextField
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(event) => setPassword(event.target.value)}
        />
        <InlineError error={error} />
        <Button type="submit" variant="primary" busy={busy} className="wide">
          Sign in
        </Button>
        <p className="sign-in-help">
          <Link href={`${BASE}/forgot-password`}>Forgot password?</Link>
        </p>
      </form>
    </main>
  );
}
