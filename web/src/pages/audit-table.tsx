/**
 * The audit events as a table, newest first. Each row has a disclosure button that shows the
 * event's data (before/after) as JSON, with its request id, user agent and place in the hash chain.
 */
import { Fragment, useId, useState } from "react";
import { type AuditEvent, client, ok } from "../api";
import { adminPath, Link } from "../router";
import { useAccount } from "../session";
import { formatDateTime } from "../ui/format";
import { useLoad } from "../ui/hooks";

const COLUMNS = 6;

type Names = ReadonlyMap<string, string>;

/**
 * Users and roles are stored as ids in events; people read emails and role names. The names come
 * from the current lists (ViewAdminUsers); someone since removed keeps showing as an id.
 */
function useTargetNames(): Names {
  const { account, can } = useAccount();
  const allowed = can("ViewAdminUsers");
  const { data } = useLoad(async (): Promise<Names> => {
    if (!allowed) return new Map();
    const [users, roles] = await Promise.all([
      ok(client.GET("/v1/accounts/{account}/users", { params: { path: { account } } })),
      ok(client.GET("/v1/accounts/{account}/roles", { params: { path: { account } } })),
    ]);
    return new Map([
      ...users.items.map((user) => [`user:${user.id}`, user.email] as const),
      ...roles.items.map((role) => [`role:${role.id}`, role.name] as const),
    ]);
  }, [account, allowed]);
  return data ?? new Map();
}

export function AuditTable({ events }: { events: AuditEvent[] }) {
  const names = useTargetNames();
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const id = useId();
  const toggle = (eventId: string) =>
    setOpen((current) => {
      const next = new Set(current);
      if (next.has(eventId)) next.delete(eventId);
      else next.add(eventId);
      return next;
    });

  return (
    <table className="table audit-table">
      <caption className="visually-hidden">Audit events, newest first</caption>
      <thead>
        <tr>
          <th scope="col" className="audit-toggle-cell">
            <span className="visually-hidden">Details</span>
          </th>
          <th scope="col">When (UTC)</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          <th scope="col">IP</th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => {
          const expanded = open.has(event.id);
          const detailId = `${id}-${event.id}`;
          const when = formatDateTime(event.at);
          return (
            <Fragment key={event.id}>
              <tr className={expanded ? "audit-row is-open" : "audit-row"}>
                <td className="audit-toggle-cell" data-label="Details">
                  <button
                    type="button"
                    className="audit-toggle"
                    aria-expanded={expanded}
                    aria-controls={expanded ? detailId : undefined}
                    aria-label={`Details of ${event.action}, ${when}`}
                    onClick={() => toggle(event.id)}
                  >
                    <span aria-hidden="true">{expanded ? "▾" : "▸"}</span>
                  </button>
                </td>
                <td data-label="When (UTC)" className="audit-when">
                  {when}
                </td>
                <td data-label="Actor">
                  <div>
                    <span className="audit-actor">{event.actor.label}</span>
                    <span className="audit-sub">{event.actor.type}</span>
                  </div>
                </td>
                <td data-label="Action">
                  <code className="audit-action">{event.action}</code>
                </td>
                <td data-label="Target">
                  <Target target={event.target} names={names} />
                </td>
                <td data-label="IP" className="mono audit-ip">
                  {event.ip ?? <span className="muted">—</span>}
                </td>
              </tr>
              {expanded ? (
                <tr id={detailId} className="audit-detail">
                  <td colSpan={COLUMNS}>
                    <EventDetail event={event} />
                  </td>
                </tr>
              ) : null}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}

function Target({ target, names }: { target: AuditEvent["target"]; names: Names }) {
  const { account, can } = useAccount();
  if (!target?.id) return <span className="muted">—</span>;
  const name = names.get(`${target.type}:${target.id}`);
  const label = name ? (
    <span title={target.id}>{name}</span>
  ) : target.type === "key" && can("ViewApiKeys") ? (
    <Link href={adminPath(account, "key", target.id)} className="mono">
      {target.id}
    </Link>
  ) : (
    <span className="mono">{target.id}</span>
  );
  return (
    <div>
      {label}
      {target.type ? <span className="audit-sub">{target.type}</span> : null}
    </div>
  );
}

function EventDetail({ event }: { event: AuditEvent }) {
  return (
    <div className="audit-detail-body">
      <dl className="facts">
        <dt>Request id</dt>
        <dd className="mono">{event.requestId ?? "—"}</dd>
        <dt>User agent</dt>
        <dd>{event.userAgent ?? "—"}</dd>
        <dt>Event id</dt>
        <dd className="mono">{event.id}</dd>
        <dt>Sequence</dt>
        <dd>{event.seq}</dd>
        <dt>Hash</dt>
        <dd className="mono">{event.hash ?? "—"}</dd>
      </dl>
      <h3 className="audit-data-title">Data</h3>
      {event.data === undefined || event.data === null ? (
        <p className="muted">This event records no data.</p>
      ) : (
        <pre className="audit-json">{JSON.stringify(event.data, null, 2)}</pre>
      )}
    </div>
  );
}
