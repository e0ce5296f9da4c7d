/** Account settings > API keys: the Generated, External and Settings tabs and the Export menu. */
import type { ReactNode } from "react";
import { accountPath, withQuery } from "../api";
import { adminPath, Link } from "../router";
import { lacking, useAccount } from "../session";
import { EmptyState, PageHeader } from "../ui/controls";
import { download } from "../ui/download";
import { Menu } from "../ui/menu";

export type KeysTab = "generated" | "external" | "approvals" | "settings";

const TABS: { tab: KeysTab; label: string; path: string[] }[] = [
  { tab: "generated", label: "Generated", path: ["keys"] },
  { tab: "external", label: "External", path: ["keys", "external"] },
  { tab: "approvals", label: "Approvals", path: ["keys", "approvals"] },
  { tab: "settings", label: "Settings", path: ["keys", "settings"] },
];

export function KeysPage({ tab, children }: { tab: KeysTab; children: ReactNode }) {
  const { account, can } = useAccount();
  if (!can("ViewApiKeys"))
    return (
      <>
        <PageHeader title="API keys" />
        <EmptyState title="You cannot see this account's API keys">
          <p>{lacking("ViewApiKeys")}. Ask an account administrator for a role that includes it.</p>
        </EmptyState>
      </>
    );
  const exportAs = (format: "xlsx" | "csv" | "json") =>
    download(withQuery(accountPath(account, "keys", "export"), { format }));
  return (
    <>
      <PageHeader
        title="API keys"
        actions={
          <Menu
            label="Export keys"
            buttonText="Export ▾"
            items={[
              { label: "Excel (.xlsx)", onSelect: () => exportAs("xlsx") },
              { label: "CSV (.csv)", onSelect: () => exportAs("csv") },
              { label: "JSON (.json)", onSelect: () => exportAs("json") },
            ]}
          />
        }
      >
        <p className="subtitle">Credentials of the integrations that call this account's APIs.</p>
      </PageHeader>
      <nav className="tabs" aria-label="API keys">
        {TABS.map((entry) => (
          <Link
            key={entry.tab}
            href={adminPath(account, ...entry.path)}
            className="tab"
            aria-current={entry.tab === tab ? "page" : undefined}
          >
            {entry.label}
          </Link>
        ))}
      </nav>
      <section className="tab-panel">{children}</section>
    </>
  );
}
