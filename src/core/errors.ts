/**
 * The one error registry: every error code latchkey returns, with its HTTP status and title.
 * docs/errors.md lists the same codes (a test keeps them in sync). Codes are never reused.
 *
 * Throw `AppError` for faults and refusals; the HTTP layer alone turns it into a response.
 */

export const ERRORS = {
  VALIDATION_FAILED: { status: 400, title: "The request is not valid" },
  INVALID_JSON: { status: 400, title: "The body must be valid JSON sent as application/json" },
  INVALID_CURSOR: { status: 400, title: "The cursor is not valid for this query" },
  UNKNOWN_ROLE: { status: 400, title: "A role does not exist in this account" },
  UNKNOWN_RESOURCE: { status: 400, title: "A resource does not exist" },
  CLIENT_IP_NOT_TRUSTED: { status: 400, title: "Only trusted callers may name the client address" },
  PASSWORD_RESET_INVALID: { status: 400, title: "The password reset code is not valid" },
  UNAUTHENTICATED: { status: 401, title: "Credentials are missing or not valid" },
  INVALID_LOGIN: { status: 401, title: "Email or password is wrong" },
  KEY_EXPIRED: { status: 401, title: "The key has expired" },
  FORBIDDEN: { status: 403, title: "The caller lacks the resource this needs" },
  ESCALATION_DENIED: { status: 403, title: "The caller cannot give more than it holds" },
  TARGET_EXCEEDS_CALLER: { status: 403, title: "The target holds resources the caller lacks" },
  CSRF_FAILED: { status: 403, title: "The CSRF token is missing or wrong" },
  APPTOKEN_ACCOUNT_DENIED: { status: 403, title: "The key may not act in this account" },
  OWN_KEY_ONLY: { status: 403, title: "Through this gateway a key may act only on itself" },
  SESSION_REQUIRED: { status: 403, title: "Only a user signed in to the admin can do this" },
  CURRENT_PASSWORD_WRONG: { status: 403, title: "The current password is wrong" },
  PASSWORD_CHANGE_REQUIRED: { status: 403, title: "The password must be changed first" },
  IP_NOT_ALLOWED: { status: 403, title: "The key may not be used from this address" },
  BROWSER_REQUEST_REFUSED: {
    status: 403,
    title: "API keys must never be used in client-side code: this request came from a browser page",
  },
  KEY_CONTROLS_EXCEED_CALLER: {
    status: 403,
    title: "A key cannot give a key looser controls than its own, nor loosen its own",
  },
  EXTERNAL_KEY_PENDING: { status: 403, title: "The key's addition to this account awaits approval" },
  SELF_APPROVAL_DENIED: { status: 403, title: "A request cannot be approved by the one who made it" },
  NOT_FOUND: { status: 404, title: "No such route" },
  ACCOUNT_NOT_FOUND: { status: 404, title: "No such account" },
  KEY_NOT_FOUND: { status: 404, title: "No such key in this account" },
  ROLE_NOT_FOUND: { status: 404, title: "No such role in this account" },
  SHARE_LINK_NOT_FOUND: { status: 404, title: "No such share link" },
  NO_RENEWAL_PENDING: { status: 404, title: "No renewal is pending on this key" },
  NO_UNOPENED_SHARE_LINK: { status: 404, title: "The key has no unopened share link to cancel" },
  EXTERNAL_KEY_NOT_FOUND: { status: 404, title: "No key with this appKey exists" },
  EXTERNAL_KEY_NOT_ADDED: { status: 404, title: "This key was not added to the account" },
  EXTERNAL_KEY_REQUEST_NOT_FOUND: { status: 404, title: "No pending request to add this key" },
  USER_NOT_FOUND: { status: 404, title: "No such user in this account" },
  INVITATION_NOT_FOUND: { status: 404, title: "No invitation to this account with this code" },
  MEMBERSHIP_NOT_FOUND: { status: 404, title: "You are not a member of this account" },
  ACCOUNT_EXISTS: { status: 409, title: "The account already exists" },
  KEY_NAME_TAKEN: { status: 409, title: "A key with this name already exists in the account" },
  APP_KEY_TAKEN: { status: 409, title: "A key with this appKey already exists" },
  TOKEN_HASH_TAKEN: { status: 409, title: "A key already has a token with this hash" },
  ROLE_NAME_TAKEN: { status: 409, title: "A role with this name already exists in the account" },
  ROLE_PREDEFINED: { status: 409, title: "Predefined roles cannot be changed" },
  ROLE_IN_USE: { status: 409, title: "The role is still held by users or keys" },
  USER_EXISTS: { status: 409, title: "The user already exists" },
  USER_ALREADY_MEMBER: { status: 409, title: "The user is already a member of the account" },
  LAST_OWNER: { status: 409, title: "The account must keep at least one Owner user" },
  PASSWORD_RESET_SELF: { status: 409, title: "Change your own password instead of resetting it" },
  RENEWAL_PENDING: { status: 409, title: "A renewal is already pending on this key" },
  SHARE_LINK_UNOPENED: { status: 409, title: "The key's last share link is still unopened" },
  EXTERNAL_KEY_OWN: { status: 409, title: "The key belongs to this account already" },
  EXTERNAL_KEY_EXISTS: { status: 409, title: "The key was already added to this account" },
  EXTERNAL_KEY_REQUEST_PENDING: {
    status: 409,
    title: "The key's addition awaits approval: approve or reject it first",
  },
  NO_RECIPIENTS: { status: 409, title: "The account has no notification recipients" },
  BROWSER_KEYS_DISABLED: {
    status: 409,
    title: "The account's settings do not allow keys to be used from browser pages",
  },
  SHARE_LINK_GONE: { status: 410, title: "The share link was already used or has expired" },
  INVITATION_EXPIRED: { status: 410, title: "The invitation's code has expired" },
  PASSWORD_RESET_USED: { status: 410, title: "The password reset code was already used" },
  PASSWORD_RESET_EXPIRED: { status: 410, title: "The password reset code has expired" },
  EXTERNAL_KEY_REQUEST_EXPIRED: { status: 410, title: "The request to add this key has expired" },
  SETTINGS_CHANGED: { status: 412, title: "The settings were changed since they were read" },
  BODY_TOO_LARGE: { status: 413, title: "The body is larger than the route accepts" },
  KEY_LIFETIME_EXCEEDED: { status: 422, title: "The expiry is past the account's maximum key lifetime" },
  IMPORT_REJECTED: { status: 422, title: "Some keys of the import cannot be imported; none was" },
  RATE_LIMITED: { status: 429, title: "Too many requests" },
  KEY_RATE_LIMITED: { status: 429, title: "The key is over its rate limit" },
  QUOTA_EXHAUSTED: { status: 429, title: "The key's quota is used up" },
  INTERNAL: { status: 500, title: "Internal error" },
  PASSWORD_RESET_EMAIL_OFF: {
    status: 501,
    title: "This server sends no email: an administrator must reset the password",
  },
  NOT_READY: { status: 503, title: "The service is not ready" },
  UNAVAILABLE: { status: 503, title: "Credentials cannot be checked now" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail: string = ERRORS[code].title,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(detail);
    this.name = "AppError";
    this.status = ERRORS[code].status;
  }
}

export function fail(code: ErrorCode, detail?: string, extra?: Record<string, unknown>): never {
  throw new AppError(code, detail, extra);
}
