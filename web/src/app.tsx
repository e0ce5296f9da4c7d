/** Routes of the admin. Every page below the account is a client of /v1/accounts/{account}/…. */

import { ApprovalsTab } from "./keys/approvals";
import { KeyDetail } from "./keys/detail";
import { ExternalTab } from "./keys/external";
import { GeneratedTab } from "./keys/generated";
import { KeysPage } from "./keys/page";
import { SettingsTab } from "./keys/settings";
import { AuditPage } from "./pages/audit";
import { InvitationPage, InvitationSignUp, invitationCode } from "./pages/invitations";
import { Layout } from "./pages/layout";
import { ForcedPasswordChange, ForgotPassword, ResetPasswordPage } from "./pages/passwords";
import { RolesPage } from "./pages/roles";
import { SignIn } from "./pages/sign-in";
import { UsersPage } from "./pages/users";
import { adminPath, Redirect, segments, useLocation } from "./router";
import { AccountProvider, SessionProvider, useSession } from "./session";
import { EmptyState, Loading } from "./ui/controls";
import { ToastProvider } from "./ui/toast";

export function App() {
  return (
    <SessionProvider>
      <ToastProvider>
        <Screens />
      </ToastProvider>
    </SessionProvider>
  );
}

function Screens() {
  const { state } = useSession();
  const location = useLocation();
  const parts = segments(location.pathname);

  if (state.status === "loading") return <Loading label="Loading latchkey…" />;
  // A reset link: /admin/reset-password#code=…, signed in or not. Without a code, and for
  // /admin/forgot-password once signed in, these are account names like any other.
  const resetCode = invitationCode(location.hash);
  if (parts[0] === "reset-password" && parts.length === 1 && resetCode)
    return <ResetPasswordPage code={resetCode} />;
  // An invitation's link: /admin/invitation/{account}#code=…. Without a code it is an account's page
  // (an account may be called "invitation").
  const code = invitationCode(location.hash);
  const invitedTo = parts[0] === "invitation" && parts.length === 2 && code ? (parts[1] ?? "") : null;
  if (state.status === "signed-out") {
    if (parts[0] === "forgot-password" && parts.length === 1) return <ForgotPassword />;
    if (invitedTo !== null) return <InvitationSignUp account={invitedTo} code={code} />;
    return <SignIn reason={state.reason} />;
  }
  if (state.me.principal.type === "user" && state.me.principal.mustChangePassword)
    return <ForcedPasswordChange />;
  if (invitedTo !== null)
    return (
      <Layout account={null}>
        <InvitationPage account={invitedTo} code={code} />
      </Layout>
    );
  if (parts[0] === "login" || parts.length === 0) {
    const first = state.me.accounts[0]?.account;
    if (!first)
      return (
        <main className="centered">
          <EmptyState title="You are not a member of any account">
            <p>
              Ask an administrator of an account to add you. If one invited you, open the link they sent you.
            </p>
          </EmptyState>
        </main>
      );
    return <Redirect to={adminPath(first, "keys")} />;
  }

  const [account = "", area = "keys", ...rest] = parts;
  if (!state.me.accounts.some((entry) => entry.account === account)) {
    return (
      <Layout account={null}>
        <EmptyState title="No such account">
          <p>You are not a member of the account “{account}”, or it does not exist.</p>
        </EmptyState>
      </Layout>
    );
  }
  return (
    <AccountProvider me={state.me} account={account}>
      <Layout account={account}>
        <Page area={area} rest={rest} />
      </Layout>
    </AccountProvider>
  );
}

function Page({ area, rest }: { area: string; rest: string[] }) {
  switch (area) {
    case "keys": {
      const tab = rest[0] ?? "generated";
      if (tab === "external")
        return (
          <KeysPage tab="external">
            <ExternalTab />
          </KeysPage>
        );
      if (tab === "approvals")
        return (
          <KeysPage tab="approvals">
            <ApprovalsTab />
          </KeysPage>
        );
      if (tab === "settings")
        return (
          <KeysPage tab="settings">
            <SettingsTab />
          </KeysPage>
        );
      return (
        <KeysPage tab="generated">
          <GeneratedTab />
        </KeysPage>
      );
    }
    case "key":
      return <KeyDetail appKey={rest[0] ?? ""} />;
    case "roles":
      return <RolesPage />;
    case "users":
      return <UsersPage />;
    case "audit":
      return <AuditPage />;
    default:
      return (
        <EmptyState title="Page not found">
          <p>There is no page at this address.</p>
        </EmptyState>
      );
  }
}
