/**
 * A small history router: the admin has a handful of pages, all under /admin, with the account in
 * the path (/admin/{account}/keys …) so that every screen has an address that can be shared.
 */
import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useSyncExternalStore } from "react";

export const BASE = "/admin";

const listeners = new Set<() => void>();
function subscribe(listener: () => void) {
  listeners.add(listener);
  window.addEventListener("popstate", listener);
  window.addEventListener("hashchange", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("popstate", listener);
    window.removeEventListener("hashchange", listener);
  };
}
const snapshot = () => window.location.pathname + window.location.search + window.location.hash;

/** The current address (path, query and fragment). */
export function useLocation(): URL {
  const href = useSyncExternalStore(subscribe, snapshot);
  return new URL(href, window.location.origin);
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  for (const listener of listeners) listener();
}

/** Replaces query parameters of the current address (empty values are removed). */
export function setQuery(values: Record<string, string | undefined>, options: { replace?: boolean } = {}) {
  const url = new URL(window.location.href);
  for (const [name, value] of Object.entries(values)) {
    if (value) url.searchParams.set(name, value);
    else url.searchParams.delete(name);
  }
  navigate(url.pathname + url.search, { replace: options.replace ?? true });
}

export function adminPath(account: string, ...rest: string[]): string {
  return [BASE, account, ...rest].map((part, i) => (i === 0 ? part : encodeURIComponent(part))).join("/");
}

export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey)
      return;
    event.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={follow} {...rest} />;
}

export function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

/** Splits /admin/a/b/c into ["a", "b", "c"], decoded. */
export function segments(pathname: string): string[] {
  return pathname
    .slice(BASE.length)
    .split("/")
    .filter(Boolean)
    .map((part) => decodeURIComponent(part));
}
