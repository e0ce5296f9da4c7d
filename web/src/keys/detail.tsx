/**
 * One generated key: what it is, its token dates, how it has been used (verifications per day, ok
 * vs denied, last 30 days), its share link (which may be cancelled here) and its audit trail, with
 * the same actions as the Generated tab's row menu (key-actions.tsx), offered only when usable.
 */
import { useState } from "react";
import { ApiError, client, type Key, type KeyUsage, ok, type ShareLinkStatus } from "../api";
import { adminPath, Link, navigate } from "../router";
import { exceeds, lacking, useAccount } from "../session";
import { Badge, Button, EmptyState, ErrorMessage, Loading, PageHeader } from "../ui/controls";
import { formatDateTime } from "../ui/format";
import { type Loaded, useLoad } from "../ui/hooks";
import { RoleList, useRoleOptions } from "../ui/role-picker";
import { useToast } from "../ui/toast";
import { KeyAuditTrail } from "./detail-audit";
import { controlBadges } from "./generated-table";
import { inactiveExplanation, StatusBadge, statusLabel } from "./inactive-reason";
import { type KeyAction, type KeyActionItem, useKeyActionItems, useKeyActions } from "./key-actions";
import { rateLimitText } from "./key-limits-draft";
import { UsageChart } from "./usage-chart";
import "./detail.css";

const USAGE_DAYS = 30;

export function KeyDetail({ appKey }: { appKey: string }) {
  const { account, can } = useAccount();
  const back = (
    <p className="detail-back">
      <Link href={adminPath(account, "keys")}>← Back to API keys</Link>
    </p>
  );
  if (!can("ViewApiKeys"))
    return (
      <>
        {back}
        <PageHeader title="API key" />
        <EmptyState title="You cannot see this account's API keys">
          <p>{lacking("ViewApiKeys")}. Ask an account administrator for a role that includes it.</p>
        </EmptyState>
      </>
    );
  return (
    <>
      {back}
      <Detail account={account} appKey={appKey} />
    </>
  );
}

function Detail({ account, appKey }: { account: string; appKey: string }) {
  const {
    data: key,
    error,
    loading,
    reload,
  } = useLoad(
    () => ok(client.GET("/v1/accounts/{account}/keys/{appKey}", { params: { path: { account, appKey } } })),
    [account, appKey],
  );
  if (loading && !key) return <Loading label="Loading the key…" />;
  if (error instanceof ApiError && error.status === 404)
    return (
      <EmptyState title="No such key">
        <p>
          Account {account} has no generated key <span className="mono">{appKey}</span>. It may have been
          deleted, or it is an external key (those belong to their owner's account).
        </p>
      </EmptyState>
    );
  if (error) return <ErrorMessage error={error} onRetry={reload} />;
  if (!key) return null;
  return <KeyView account={account} apiKey={key} reload={reload} />;
}

/** The usable actions among `actions`, as buttons; the others are not offered. */
function ActionButtons({
  apiKey,
  items,
  run,
}: {
  apiKey: Key;
  items: KeyActionItem[];
  run: (action: KeyAction, key: Key) => void;
}) {
  const usable = items.filter((item) => item.disabledReason === undefined);
  if (usable.length === 0) return null;
  return (
    <>
      {usable.map((item) => (
        <Button
          key={item.action}
          variant={item.danger ? "danger" : item.action === "renew" ? "primary" : "secondary"}
          onClick={() => run(item.action, apiKey)}
        >
          {item.label}
        </Button>
      ))}
    </>
  );
}

const TOKEN_ACTIONS: ReadonlySet<KeyAction> = new Set(["undo", "complete"]);

/** Usage is asked for once the key is known to exist: an unknown appKey gets one 404, not two. */
function KeyView({ account, apiKey: key, reload }: { account: string; apiKey: Key; reload: () => void }) {
  const roles = useRoleOptions();
  const items = useKeyActionItems(key, roles.data?.roles);
  const actions = useKeyActions((action) =>
    action === "delete" ? navigate(adminPath(account, "keys")) : reload(),
  );
  const keyItems = items.filter((item) => !TOKEN_ACTIONS.has(item.action));
  const tokenItems = items.filter((item) => TOKEN_ACTIONS.has(item.action));
  // Why nothing is offered, when the user may not change the key at all.
  const refused = items.find((item) => item.action === "edit")?.disabledReason;
  const usage = useLoad(
    () =>
      ok(
        client.GET("/v1/accounts/{account}/keys/{appKey}/usage", {
          params: { path: { account, appKey: key.appKey }, query: { days: USAGE_DAYS } },
        }),
      ),
    [account, key.appKey],
  );
  const explanation = inactiveExplanation(key);
  return (
    <>
      <PageHeader title={key.name}>
        <p className="subtitle mono detail-appkey">{key.appKey}</p>
        <div className="badges">
          <StatusBadge apiKey={key} />
          {key.alert === "red" ? (
            <Badge tone="danger" title="The token is 3 months or more past the renewal period">
              Renewal overdue
            </Badge>
          ) : null}
          {key.alert === "orange" ? (
            <Badge tone="warning" title="The token is older than the account's renewal period">
              Renewal due
            </Badge>
          ) : null}
          {key.pendingRenewal ? <Badge tone="info">Pending deletion – old token</Badge> : null}
          {controlBadges(key)}
        </div>
      </PageHeader>
      <fieldset className="detail-actions" aria-label="Key actions">
        <ActionButtons apiKey={key} items={keyItems} run={actions.run} />
        {refused && keyItems.every((item) => item.disabledReason !== undefined) ? (
          <p className="hint">You cannot change this key: {refused}.</p>
        ) : null}
      </fieldset>
      {explanation ? (
        <section
          className={`card section detail-inactive${key.inactiveReason === "leak_reported" ? " detail-inactive-leak" : ""}`}
          aria-labelledby="detail-inactive"
        >
          <h2 id="detail-inactive">Why this key is inactive</h2>
          <p>{explanation}</p>
        </section>
      ) : null}
      <div className="detail-grid">
        <section className="card section" aria-labelledby="detail-facts">
          <h2 id="detail-facts">Key</h2>
          <dl className="facts">
            <dt>Name</dt>
            <dd>{key.name}</dd>
            <dt>appKey</dt>
            <dd className="mono">{key.appKey}</dd>
            <dt>Status</dt>
            <dd>{statusLabel(key)}</dd>
            <dt>Roles</dt>
            <dd>
              <RoleList roles={key.roles} />
            </dd>
            <dt>Last used</dt>
            <dd>{formatDateTime(usage.data?.lastUsedAt ?? key.lastUsedAt)}</dd>
          </dl>
        </section>
        <KeyLimits apiKey={key} />
        <section className="card section" aria-labelledby="detail-token">
          <h2 id="detail-token">Token</h2>
          <dl className="facts">
            <dt>Key created</dt>
            <dd>{formatDateTime(key.creationDate)}</dd>
            <dt>Token created</dt>
            <dd>{formatDateTime(key.creationDateToken)}</dd>
            <dt>New token created</dt>
            <dd>{formatDateTime(key.creationDateNewToken, "No renewal pending")}</dd>
            <dt>{key.pendingRenewal ? "Old token last used" : "Token last used"}</dt>
            <dd>{formatDateTime(key.lastUsedAtToken)}</dd>
            {key.pendingRenewal ? (
              <>
                <dt>New token last used</dt>
                <dd>{formatDateTime(key.lastUsedAtNewToken, "Not used yet")}</dd>
              </>
            ) : null}
          </dl>
          {key.pendingRenewal ? (
            <>
              <p className="hint detail-note">
                Both tokens work until the old one is deleted. Delete it once the integration uses the new
                token (see the last uses above); undo the renewal to keep the old one instead.
              </p>
              <fieldset className="detail-actions" aria-label="Renewal actions">
                <ActionButtons apiKey={key} items={tokenItems} run={actions.run} />
              </fieldset>
            </>
          ) : null}
        </section>
      </div>
      <ControlFacts apiKey={key} />
      <ShareLink key={key.creationDateNewToken ?? key.creationDateToken} account={account} apiKey={key} />
      <section className="card section" aria-labelledby="detail-usage">
        <h2 id="detail-usage">Usage, last {USAGE_DAYS} days</h2>
        <Usage usage={usage} />
      </section>
      <section className="card section" aria-labelledby="detail-audit">
        <h2 id="detail-audit">Audit trail</h2>
        <KeyAuditTrail appKey={key.appKey} />
      </section>
      {actions.dialog}
    </>
  );
}

function Usage({ usage }: { usage: Loaded<KeyUsage> }) {
  const { data, error, loading, reload } = usage;
  if (loading && !data) return <Loading label="Loading usage…" />;
  if (error) return <ErrorMessage error={error} onRetry={reload} />;
  if (!data) return null;
  return (
    <>
      <UsageChart usage={data} />
      <div className="detail-usage-foot">
        <p className="hint">
          Days are UTC. Counts are written every few seconds, so the latest calls may lag.
        </p>
        <Button variant="ghost" onClick={reload} busy={loading}>
          Refresh usage
        </Button>
      </div>
    </>
  );
}

/**
 * The key's newest share link, for those who may renew the key: an unopened one blocks the next
 * renewal for up to 24 hours, so it can be cancelled here (the link then answers 410).
 */
function ShareLink({ account, apiKey }: { account: string; apiKey: Key }) {
  const access = useAccount();
  const toast = useToast();
  const { appKey } = apiKey;
  const path = { params: { path: { account, appKey } } };
  // Read with the rights renewal needs: a key holding more than the user is not asked about.
  const roles = useRoleOptions();
  const stronger = roles.loading ? "…" : exceeds(access, "key", apiKey.roles, roles.data?.roles);
  const allowed = access.can("RenewApiToken") && stronger === undefined;
  const link = useLoad<ShareLinkStatus | null>(
    () =>
      allowed
        ? ok(client.GET("/v1/accounts/{account}/keys/{appKey}/share-link", path))
        : Promise.resolve(null),
    [account, appKey, allowed],
  );
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  if (!allowed) return null;
  const { data, error, loading, reload } = link;
  async function cancel() {
    setBusy(true);
    setFailure(null);
    try {
      await ok(client.DELETE("/v1/accounts/{account}/keys/{appKey}/share-link", path));
      toast("Share link cancelled");
      reload();
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section className="card section" aria-labelledby="detail-share">
      <h2 id="detail-share">Share link</h2>
      {loading && !data ? <Loading label="Loading the share link…" /> : null}
      {error ? <ErrorMessage error={error} onRetry={reload} /> : null}
      {failure ? <ErrorMessage error={failure} /> : null}
      {data && !data.shareLink ? (
        <p className="muted">This key's token was never sent by share link.</p>
      ) : null}
      {data?.shareLink ? (
        <>
          <dl className="facts">
            <dt>State</dt>
            <dd>{SHARE_STATES[data.shareLink.state]}</dd>
            <dt>Created</dt>
            <dd>{formatDateTime(data.shareLink.createdAt)}</dd>
            <dt>Expires</dt>
            <dd>{formatDateTime(data.shareLink.expiresAt)}</dd>
          </dl>
          {data.blocksRenewal ? (
            <div className="detail-usage-foot">
              <p className="hint">
                Until it is opened or expires, the key cannot be renewed. Cancel it if it was sent to the
                wrong place or will not be opened; its token then cannot be revealed.
              </p>
              <Button variant="danger" onClick={() => void cancel()} busy={busy}>
                Cancel share link
              </Button>
            </div>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

const SHARE_STATES: Record<NonNullable<ShareLinkStatus["shareLink"]>["state"], string> = {
  unopened: "Not opened yet",
  revealed: "Opened",
  expired: "Expired unopened",
  cancelled: "Cancelled",
};

/** The key's controls (docs/key-controls.md), changed with Edit. */
function ControlFacts({ apiKey: key }: { apiKey: Key }) {
  return (
    <section className="card section" aria-labelledby="detail-controls">
      <h2 id="detail-controls">Controls</h2>
      <dl className="facts">
        <dt>Expires</dt>
        <dd>{key.expiresAt === null ? "Never" : formatDateTime(key.expiresAt)}</dd>
        <dt>IP allowlist</dt>
        <dd className={key.ipAllowlist ? "mono" : undefined}>
          {key.ipAllowlist ? key.ipAllowlist.join(", ") : "Any address"}
        </dd>
        <dt>Metadata</dt>
        <dd>
          {key.metadata ? (
            <pre className="mono detail-metadata">{JSON.stringify(key.metadata, null, 2)}</pre>
          ) : (
            "None"
          )}
        </dd>
        <dt>Browser pages</dt>
        <dd>{key.allowBrowser ? "Allowed" : "Refused"}</dd>
      </dl>
    </section>
  );
}

/**
 * The key's rate limit and quota (docs/key-controls.md), changed with Edit like the other controls.
 * The quota's calls left are as the usage flush last wrote them, a few seconds behind the
 * verifications.
 */
function KeyLimits({ apiKey }: { apiKey: Key }) {
  const { rateLimit, quota } = apiKey;
  return (
    <section className="card section" aria-labelledby="detail-limits">
      <h2 id="detail-limits">Limits</h2>
      <dl className="facts">
        <dt>Rate limit</dt>
        <dd>{rateLimit === null ? "None" : rateLimitText(rateLimit)}</dd>
        <dt>Quota</dt>
        <dd>{quota === null ? "None" : `${quota.remaining.toLocaleString("en-US")} calls left`}</dd>
        {quota !== null ? (
          <>
            <dt>Quota refill</dt>
            <dd>
              {quota.refill === null
                ? "Never"
                : `${quota.refill.amount.toLocaleString("en-US")} every ${quota.refill.every}, next ${formatDateTime(quota.refillsAt)}`}
            </dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}
