/**
 * The frame of every signed-in page: navigation, account switcher, who is signed in, sign-out.
 */
import { type ReactNode, useId, useState } from "react";
import { adminPath, Link, navigate, useLocation } from "../router";
import { useSession } from "../session";
import { Button } from "../ui/controls";
import { ChangePasswordDialog } from "./passwords";

const AREAS = [
  { area: "keys", label: "API keys", resource: "ViewApiKeys" },
  { area: "roles", label: "Roles", resource: "ViewAdminUsers" },
  { area: "users", label: "Users", resource: "ViewAdminUsers" },
  { area: "audit", label: "Audit log", resource: "ViewAuditLog" },
] as const;

export function Layout({ account, children }: { account: string | null; children: ReactNode }) {
  const { state, signOut } = useSession();
  const location = useLocation();
  const switcherId = useId();
  const [changing, setChanging] = useState(false);
  if (state.status !== "signed-in") return null;
  const { me } = state;
  const held = new Set(me.accounts.find((entry) => entry.account === account)?.resources ?? []);
  const who = me.principal.type === "user" ? me.principal.email : me.principal.appKey;
  const current = location.pathname.split("/")[3] ?? "keys";

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">latchkey</span>
        {me.accounts.length > 1 ? (
          <div className="account-switcher">
            <label htmlFor={switcherId}>Account</label>
            <select
              id={switcherId}
              className="input"
              value={account ?? ""}
              onChange={(event) =>
                navigate(adminPath(event.target.value, current === "key" ? "keys" : current))
              }
            >
              {account === null ? <option value="">Choose…</option> : null}
              {me.accounts.map((entry) => (
                <option key={entry.account} value={entry.account}>
                  {entry.account}
                </option>
              ))}
            </select>
          </div>
        ) : account ? (
          <span className="account-name" title="Account">
            {account}
          </span>
        ) : null}
        <div className="topbar-end">
          <span className="who" title="Signed in as">
            {who}
          </span>
          {me.principal.type === "user" ? (
            <Button variant="ghost" onClick={() => setChanging(true)}>
              Change password
            </Button>
          ) : null}
          <Button variant="ghost" onClick={() => void signOut().then(() => navigate("/admin/login"))}>
            Sign out
          </Button>
        </div>
      </header>
      {account ? (
        <nav className="nav" aria-label="Main">
          <p className="nav-section">Account settings</p>
          <ul>
            {AREAS.filter((entry) => held.has(entry.resource)).map((entry) => {
              const active = current === entry.area || (entry.area === "keys" && current === "key");
              return (
                <li key={entry.area}>
                  <Link href={adminPath(account, entry.area)} aria-current={active ? "page" : undefined}>
                    {entry.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
      ) : null}
      <main id="main" className="content" tabIndex={-1}>
        {children}
      </main>
      {changing ? <ChangePasswordDialog onClose={() => setChanging(false)} /> : null}
    </div>
  );
}
