/** Shapes of the /v1 API, as its OpenAPI document (/openapi.json) describes them. */

export type ResourceKey = string;

export interface RoleRef {
  id: number;
  name: string;
}

export interface Me {
  principal: { type: "user"; id: string; email: string } | { type: "key"; appKey: string; account: string };
  accounts: { account: string; roles: RoleRef[]; resources: ResourceKey[] }[];
}

/** What an invitation offers, as its code shows it (POST /v1/me/invitations/{account}/preview). */
export interface Invitation {
  account: string;
  roles: RoleRef[];
  /** The email or appKey of the inviting account that invited; null when it was not of that account. */
  invitedBy: string | null;
  invitedAt: string;
  expiresAt: string;
}

/** An invitation's one-time code, for the inviter to pass on (shown once, after adding). */
export interface IssuedInvitation {
  code: string;
  url: string;
  expiresAt: string;
}

export interface Resource {
  key: string;
  id: number;
  name: string;
  description: string;
  product: string;
  category: string;
}

export type Alert = "none" | "orange" | "red";

export interface Key {
  id: string;
  appKey: string;
  account: string;
  name: string;
  keyType: "generated";
  status: "active" | "inactive";
  active: boolean;
  roles: RoleRef[];
  creationDate: string;
  creationDateToken: string;
  creationDateNewToken: string | null;
  pendingRenewal: boolean;
  alert: Alert;
  lastUsedAt: string | null;
  updatedAt: string;
}

export interface KeyPage {
  items: Key[];
  nextCursor: string | null;
  total: number;
}

export type IssuedKey =
  | { key: Key; appToken: string }
  | { key: Key; shareUrl: string; shareExpiresAt: string };

export interface ExternalKey {
  /** The id of the key's addition to this account, not the owner's id of the key. */
  id: string;
  appKey: string;
  keyName: string;
  /** The owner: the account that generated the key. */
  account: string;
  roles: RoleRef[];
  addedDate: string;
  status: "active" | "inactive";
  /** The key's last allowed call in this account; its use in its owner's account is not shown. */
  lastUsedAt: string | null;
}

export interface Webhook {
  id: string;
  url: string;
  secretSet: true;
}

export interface ApiKeySettings {
  renewalPeriodMonths: 3 | 6;
  notifications: { emails: string[]; webhooks: Webhook[] };
  policies: { deactivateUnusedDays: number | null; maxTokenAgeDays: number | null };
  updatedAt: string | null;
}

export interface Role {
  id: number;
  name: string;
  type: "predefined" | "custom";
  resources: ResourceKey[];
  products: string[];
}

export interface User {
  id: string;
  email: string;
  roles: RoleRef[];
  addedAt: string;
  /** "invited": the email already had a sign-in; the roles apply once the user accepts. */
  status: "active" | "invited";
}

export interface KeyUsage {
  appKey: string;
  lastUsedAt: string | null;
  days: { date: string; ok: number; denied: number }[];
  total: { ok: number; denied: number };
}

export interface AuditEvent {
  id: string;
  at: string;
  account: string;
  actor: { type: string; id: string; label: string };
  action: string;
  target: { type: string | null; id: string | null } | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  data?: unknown;
  seq: number;
  hash: string | null;
  prevHash: string | null;
}

export interface AuditPage {
  items: AuditEvent[];
  nextCursor: string | null;
}

/** One recipient's outcome of POST …/settings/api-keys/test. */
export interface TestNotificationResult {
  channel: "email" | "webhook";
  /** The email address, or the webhook's URL. */
  to: string;
  ok: boolean;
  error?: string;
}
