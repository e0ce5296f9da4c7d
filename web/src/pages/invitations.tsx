/**
 * Answering an invitation: the page the inviting account's link opens (/admin/invitation/{account}
 * with `#code=…`). The code sits in the fragment, which the browser never sends, and reaches the
 * server only in request bodies. Signed in, the user sees what the invitation offers and accepts or
 * declines it; until then they hold nothing in that account and it sees nothing of their sign-ins.
 * Invitations are listed nowhere: whoever knows a user's password must not learn of them.
 *
 * Signed out, the link opens InvitationSignUp: a person invited with no sign-in yet (VTEX's create
 * user) gives their email and chooses a password (POST /v1/invitations/{account}/sign-up, which
 * accepts the invitation), is signed in and lands in the account. A person who already has a sign-in
 * chooses "Sign in" there and then answers as above.
 */
import { type FormEvent, useId, useState } from "react";
import { ApiError, client, type Invitation, ok } from "../api";
import { adminPath, navigate } from "../router";
import { useSession } from "../session";
import { Button, EmptyState, InlineError, Loading } from "../ui/controls";
import { useAction, useLoad } from "../ui/hooks";
import { useToast } from "../ui/toast";
import "./invitations.css";
import { CardPage, NewPasswordFields, newPasswordProblem, SignInEmailField } from "./passwords";
import { SignIn } from "./sign-in";

/** The code in a `#code=…` fragment, or "" when there is none. */
export function invitationCode(hash: string): string {
  return new URLSearchParams(hash.replace(/^#/, "")).get("code") ?? "";
}

export function InvitationPage({ account, code }: { account: string; code: string }) {
  const offered = useLoad(
    () =>
      ok(
        client.POST("/v1/me/invitations/{account}/preview", {
          params: { path: { account } },
          body: { code },
        }),
      ),
    [account, code],
  );
  if (offered.loading) return <Loading label="Loading the invitation…" />;
  if (!offered.data) return <InvitationProblem account={account} error={offered.error} />;
  return <InvitationAnswer invitation={offered.data} code={code} />;
}

function InvitationProblem({ account, error }: { account: string; error: unknown }) {
  const { state } = useSession();
  const email =
    state.status === "signed-in" && state.me.principal.type === "user" ? state.me.principal.email : "";
  const code = error instanceof ApiError ? error.code : "";
  if (code === "INVITATION_EXPIRED")
    return (
      <EmptyState title="This invitation has expired">
        <p>Ask an administrator of {account} to invite you again: they will get a new link for you.</p>
      </EmptyState>
    );
  if (code === "INVITATION_NOT_FOUND")
    return (
      <EmptyState title="No invitation for you here">
        <p>
          This link does not hold an invitation to {account} for {email || "the signed-in user"}. Check that
          you are signed in as the person invited and that the link is complete; it may also have been
          answered, withdrawn or replaced by a newer one.
        </p>
      </EmptyState>
    );
  return <InlineError error={error} />;
}

function InvitationAnswer({ invitation, code }: { invitation: Invitation; code: string }) {
  const { refresh } = useSession();
  const toast = useToast();
  const headingId = useId();
  const [done, setDone] = useState(false);
  const { account } = invitation;
  const answer = useAction(async (accept: boolean) => {
    const params = { path: { account } };
    if (accept) await client.POST("/v1/me/invitations/{account}", { params, body: { code } });
    else await client.DELETE("/v1/me/invitations/{account}", { params, body: { code } });
    await refresh();
    return accept;
  });
  const respond = async (accept: boolean) => {
    const accepted = await answer.run(accept);
    if (accepted === undefined) return;
    setDone(true);
    toast(accepted ? `You are now a member of ${account}` : `Invitation to ${account} declined`);
    navigate(accepted ? adminPath(account, "keys") : "/admin", { replace: true });
  };
  const roles = invitation.roles.map((role) => role.name).join(", ");
  return (
    <section className="invitation" aria-labelledby={headingId}>
      <h1 id={headingId}>Invitation to {account}</h1>
      <p>
        <strong>{account}</strong> invites you{invitation.invitedBy ? ` (from ${invitation.invitedBy})` : ""}
        {roles ? `, with the roles ${roles}` : ", with no role yet"}. Until you accept, you have no access
        there and it sees nothing of your sign-ins. Once you accept, your sign-ins are recorded in its audit
        log too.
      </p>
      <p className="invitation-expiry">
        Invited {new Date(invitation.invitedAt).toLocaleString()}; the link expires{" "}
        {new Date(invitation.expiresAt).toLocaleString()}.
      </p>
      <div className="invitation-actions">
        <Button
          variant="primary"
          aria-label={`Accept the invitation to ${account}`}
          busy={answer.busy}
          disabled={done}
          onClick={() => void respond(true)}
        >
          Accept
        </Button>
        <Button
          aria-label={`Decline the invitation to ${account}`}
          disabled={answer.busy || done}
          onClick={() => void respond(false)}
        >
          Decline
        </Button>
      </div>
      <InlineError error={answer.error} />
    </section>
  );
}

/** Why a sign-up with the link was refused, in the person's terms; undefined for other errors. */
function signUpRefusal(account: string, error: unknown): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  if (error.code === "INVITATION_EXPIRED")
    return `This invitation has expired. Ask an administrator of ${account} to invite you again: they will get a new link for you.`;
  if (error.code === "INVITATION_NOT_FOUND")
    return (
      `This link holds no invitation to ${account} for this email that still waits for a password. ` +
      "Check the email and that the link is complete; it may have been used already, withdrawn or " +
      "replaced by a newer one. If you already have a sign-in, sign in instead."
    );
  return undefined;
}

/**
 * The invitation link opened signed out: set a first password (a person invited with no sign-in),
 * or sign in first (a person who has one) and answer the invitation as a signed-in user.
 */
export function InvitationSignUp({ account, code }: { account: string; code: string }) {
  const { signIn } = useSession();
  const [existing, setExisting] = useState(false);
  const [email, setEmail] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [problem, setProblem] = useState<string | undefined>();
  const join = useAction(async (body: { email: string; code: string; password: string }) => {
    await client.POST("/v1/invitations/{account}/sign-up", { params: { path: { account } }, body });
    return true;
  });
  if (existing) return <SignIn />;
  const refusal = signUpRefusal(account, join.error);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = newPasswordProblem(next, again);
    setProblem(found);
    if (found) return;
    const address = email.trim();
    if (!(await join.run({ email: address, code, password: next }))) return;
    // The account's page first: signed in on the invitation's address, the page would ask about an
    // invitation that is now accepted.
    navigate(adminPath(account, "keys"), { replace: true });
    await signIn(address, next);
  };
  return (
    <CardPage title={`Invitation to ${account}`}>
      <form onSubmit={(event) => void submit(event)}>
        <p>
          You are invited to <strong>{account}</strong>. New to latchkey? Choose your password: you are then
          signed in and a member of {account}.
        </p>
        <SignInEmailField value={email} onChange={setEmail} />
        <NewPasswordFields
          next={next}
          again={again}
          setNext={setNext}
          setAgain={setAgain}
          problem={problem}
        />
        {refusal ? (
          <p className="notice" role="alert">
            {refusal}
          </p>
        ) : (
          <InlineError error={join.error} />
        )}
        <Button type="submit" variant="primary" busy={join.busy} className="wide">
          Set password and join
        </Button>
        <p className="sign-in-help">
          Already have a latchkey sign-in?{" "}
          <Button variant="ghost" onClick={() => setExisting(true)}>
            Sign in to answer the invitation
          </Button>
        </p>
      </form>
    </CardPage>
  );
}
