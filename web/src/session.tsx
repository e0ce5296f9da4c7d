/**
 * Who is signed in, in which accounts, with which resources (GET /v1/me). Controls ask `can()` so
 * that what the user lacks is hidden or disabled with a reason; the server still decides.
 */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { ApiError, client, type Me, ok, onSessionExpired, type Role, type RoleRef } from "./api";

export type SignedOutReason = "expired" | "signed-out" | "unreachable";

export type SessionState =
  | { status: "loading" }
  | { status: "signed-out"; reason?: SignedOutReason }
  | { status: "signed-in"; me: Me };

interface SessionValue {
  state: SessionState;
  refresh(): Promise<void>;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: "loading" });

  const refresh = useCallback(async () => {
    // The CSRF cookie lives exactly as long as the session cookie: without it there is no session
    // to ask about, and no 401 to provoke.
    if (!hasSessionCookie()) {
      setState({ status: "signed-out" });
      return;
    }
    try {
      setState({ status: "signed-in", me: await ok(client.GET("/v1/me")) });
    } catch (error) {
      // The cookie was there but the server no longer knows the session: it expired.
      if (error instanceof ApiError && error.status === 401)
        setState({ status: "signed-out", reason: "expired" });
      else throw error;
    }
  }, []);

  useEffect(() => {
    refresh().catch(() => setState({ status: "signed-out", reason: "unreachable" }));
  }, [refresh]);

  useEffect(
    () =>
      onSessionExpired(() =>
        setState((current) =>
          current.status === "signed-in" ? { status: "signed-out", reason: "expired" } : current,
        ),
      ),
    [],
  );

  const value = useMemo<SessionValue>(
    () => ({
      state,
      refresh,
      async signIn(email, password) {
        await client.POST("/v1/auth/login", { body: { email, password } });
        await refresh();
      },
      async signOut() {
        await client.POST("/v1/auth/logout").catch(() => undefined);
        setState({ status: "signed-out", reason: "signed-out" });
      },
    }),
    [state, refresh],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

function hasSessionCookie(): boolean {
  return /(?:^|;\s*)lk_csrf=/.test(document.cookie);
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/** Owner (predefined role 1): the one Owner-like role, holding every resource, present and future. */
export const OWNER_ROLE_ID = 1;

export interface AccountAccess {
  me: Me;
  account: string;
  resources: ReadonlySet<string>;
  /** The signed-in user's own roles in this account. */
  roles: readonly RoleRef[];
  /** Holds an Owner-like role: covers every target (see `exceeds`). */
  ownerLike: boolean;
  can(resource: string): boolean;
}

const AccountContext = createContext<AccountAccess | null>(null);

export function AccountProvider({ me, account, children }: { me: Me; account: string; children: ReactNode }) {
  const value = useMemo<AccountAccess>(() => {
    const access = me.accounts.find((entry) => entry.account === account);
    const resources = new Set(access?.resources ?? []);
    const roles = access?.roles ?? [];
    const ownerLike = roles.some((role) => role.id === OWNER_ROLE_ID);
    return { me, account, resources, roles, ownerLike, can: (resource) => resources.has(resource) };
  }, [me, account]);
  return <AccountContext.Provider value={value}>{children}</AccountContext.Provider>;
}

/** The account the page is about and what the signed-in user may do in it. */
export function useAccount(): AccountAccess {
  const value = useContext(AccountContext);
  if (!value) throw new Error("useAccount outside AccountProvider");
  return value;
}

/** The reason shown on a control the user may not use. */
export function lacking(resource: string): string {
  return `You need the ${resource} permission for this`;
}

/**
 * The least-privilege rule the server applies to every action on a key, a user or a role (`covers`,
 * SPEC §1.2): why the signed-in user may not act on a target (`what`: "key", "user", "role") that
 * holds `held`, or undefined. An Owner-like caller covers everything; only it covers an Owner-like
 * target; otherwise every resource of the target's roles must be among the caller's. `roles` are the
 * account's roles with their resources (GET …/roles, which needs ViewAdminUsers). Without them, or
 * for a role missing from them, what the target holds is unknown here: the control stays enabled and
 * the server's 403 (TARGET_EXCEEDS_CALLER) says why, in words.
 */
export function exceeds(
  access: AccountAccess,
  what: string,
  held: readonly RoleRef[],
  roles: readonly Role[] | undefined,
): string | undefined {
  if (access.ownerLike) return undefined;
  if (held.some((role) => role.id === OWNER_ROLE_ID))
    return `Only an Owner can change a ${what} holding Owner`;
  const missing = new Set<string>();
  for (const ref of held)
    for (const resource of roles?.find((role) => role.id === ref.id)?.resources ?? [])
      if (!access.resources.has(resource)) missing.add(resource);
  if (missing.size === 0) return undefined;
  const names = [...missing].sort();
  return `This ${what} holds resources you lack: ${names.slice(0, 3).join(", ")}${names.length > 3 ? "…" : ""}`;
}
