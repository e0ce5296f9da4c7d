/**
 * The signed-in user's pending invitations (GET /v1/me `invitations`). Another account that added
 * their email offered them roles there; they hold nothing in it, and their sign-ins are not recorded
 * there, until they accept here. Declining removes the invitation. Shown above every page, and to a
 * user who is in no account yet.
 */
import { useId } from "react";
import { api } from "../api";
import { adminPath, navigate } from "../router";
import { useSession } from "../session";
import type { Invitation } from "../types";
import { Button, InlineError } from "../ui/controls";
import { useAction } from "../ui/hooks";
import { useToast } from "../ui/toast";
import "./invitations.css";

export function Invitations() {
  const { state } = useSession();
  const headingId = useId();
  if (state.status !== "signed-in" || state.me.invitations.length === 0) return null;
  return (
    <section className="invitations" aria-labelledby={headingId}>
      <h2 id={headingId}>Invitations</h2>
      <ul>
        {state.me.invitations.map((invitation) => (
          <InvitationItem key={invitation.account} invitation={invitation} />
        ))}
      </ul>
    </section>
  );
}

function InvitationItem({ invitation }: { invitation: Invitation }) {
  const { refresh } = useSession();
  const toast = useToast();
  const { account } = invitation;
  const answer = useAction(async (accept: boolean) => {
    const path = `/v1/me/invitations/${encodeURIComponent(account)}`;
    if (accept) await api.post(path);
    else await api.del(path);
    await refresh();
    return accept;
  });
  const respond = async (accept: boolean) => {
    const done = await answer.run(accept);
    if (done === undefined) return;
    toast(done ? `You are now a member of ${account}` : `Invitation to ${account} declined`);
    if (done) navigate(adminPath(account, "keys"));
  };
  const roles = invitation.roles.map((role) => role.name).join(", ");
  return (
    <li className="invitation">
      <p>
        <strong>{account}</strong> invites you{invitation.invitedBy ? ` (from ${invitation.invitedBy})` : ""}
        {roles ? `, with the roles ${roles}` : ", with no role yet"}. Until you accept, you have no access
        there and it sees nothing of your sign-ins.
      </p>
      <div className="invitation-actions">
        <Button
          variant="primary"
          aria-label={`Accept the invitation to ${account}`}
          busy={answer.busy}
          onClick={() => void respond(true)}
        >
          Accept
        </Button>
        <Button
          aria-label={`Decline the invitation to ${account}`}
          disabled={answer.busy}
          onClick={() => void respond(false)}
        >
          Decline
        </Button>
      </div>
      <InlineError error={answer.error} />
    </li>
  );
}
