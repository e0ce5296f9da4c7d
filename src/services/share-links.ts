/**
 * Share links (SPEC §1, §2.1): a single-use link that hands a freshly made token over once, so the
 * token need not travel through a chat or a ticket.
 *
 * Secrets: the link id (32 random bytes, base64url) is a capability, like a token. Only its SHA-256
 * (`idHash`) is stored. The token waits sealed with AES-256-GCM (crypto/sealing.ts) under the "share-link"
 * key, with the idHash as additional data, so a sealed value moved to another row does not open.
 * The store erases the sealed value when the link is revealed or found expired. Neither the id nor
 * the token ever goes into an audit event, a log line or an error.
 */
import { recordAudit } from "../audit/audit.js";
import type { Actor } from "../core/actor.js";
import { fail } from "../core/errors.js";
import { iso } from "../core/time.js";
import { createSealer } from "../crypto/sealing.js";
import { hashToken } from "../crypto/token-hash.js";
import type { ShareLinkRecord, StoreOps } from "../storage/store.js";
import type { ServiceDeps } from "./deps.js";
import type { RoleDirectory } from "./role-directory.js";

export const SHARE_LINK_TTL_MS = 24 * 60 * 60 * 1000;
const SHARE_LINK_ID_BYTES = 32;
/** 32 bytes in unpadded base64url. Anything else is refused before any lookup. */
const SHARE_LINK_ID = /^[A-Za-z0-9_-]{43}$/;

/** How a freshly made token reaches its holder: in the response, or through a share link. */
export type Delivery = "inline" | "link";
export interface ShareDelivery {
  shareUrl: string;
  shareExpiresAt: string;
}
export type Delivered = { appToken: string } | ShareDelivery;

/** The token a link reveals, and the key it belongs to. */
export interface ShareTarget {
  account: string;
  keyId: string;
  appKey: string;
  tokenId: string;
}

type SharingDeps = Pick<ServiceDeps, "secret" | "clock" | "random" | "publicUrl">;

export function isShareLinkId(id: string): boolean {
  return SHARE_LINK_ID.test(id);
}

/**
 * Hands `appToken` over as `delivery` asks, inside the caller's transaction: a link is created with
 * the key or the renewal that made the token, or not at all.
 */
export function createTokenDelivery(deps: SharingDeps) {
  const sealer = createSealer(deps.secret, "share-link");

  async function issueLink(tx: StoreOps, target: ShareTarget, appToken: string): Promise<ShareDelivery> {
    const id = Buffer.from(deps.random(SHARE_LINK_ID_BYTES)).toString("base64url");
    const idHash = hashToken(id);
    const createdAt = deps.clock.now();
    const link: ShareLinkRecord = {
      idHash,
      ...target,
      createdAt,
      expiresAt: createdAt + SHARE_LINK_TTL_MS,
      revealedAt: null,
    };
    await tx.shareLinks.create(link, sealer.seal(appToken, idHash));
    return { shareUrl: `${deps.publicUrl}/share/${id}`, shareExpiresAt: iso(link.expiresAt) };
  }

  return async function deliver(
    tx: StoreOps,
    target: ShareTarget,
    appToken: string,
    delivery: Delivery,
  ): Promise<Delivered> {
    return delivery === "link" ? issueLink(tx, target, appToken) : { appToken };
  };
}

export type TokenDelivery = ReturnType<typeof createTokenDelivery>;

/** True while a link still waits to be opened: renewal is refused then (SPEC §2.1). */
export function isUnopened(link: ShareLinkRecord | undefined, now: number): boolean {
  return (
    link !== undefined && link.revealedAt === null && link.cancelledAt === undefined && now < link.expiresAt
  );
}

/** Where a share link stands, as GET …/keys/{appKey}/share-link shows it (never its id or token). */
export type ShareLinkState = "unopened" | "revealed" | "expired" | "cancelled";

export function shareLinkState(link: ShareLinkRecord, now: number): ShareLinkState {
  if (link.cancelledAt !== undefined) return "cancelled";
  if (link.revealedAt !== null) return "revealed";
  return now < link.expiresAt ? "unopened" : "expired";
}

export function createShareLinkService(deps: ServiceDeps, roles: RoleDirectory) {
  void roles;
  const { store, clock } = deps;
  const sealer = createSealer(deps.secret, "share-link");

  /**
   * Reveals the link's token, once. The store marks the link revealed and erases the sealed token
   * atomically, so of two racing reveals one gets the token and the other SHARE_LINK_GONE.
   */
  async function reveal(actor: Actor, id: string): Promise<{ appKey: string; appToken: string }> {
    if (!isShareLinkId(id)) fail("SHARE_LINK_NOT_FOUND");
    const idHash = hashToken(id);
    // A "gone" answer commits too: finding an expired link erases its sealed token.
    const outcome = await store.transaction(async (tx) => {
      const result = await tx.shareLinks.reveal(idHash, clock.now());
      if (result.status !== "revealed") return result;
      const appToken = sealer.open(result.sealed, idHash);
      // A fault, not a refusal: rolling back keeps the link for when the right secret is back.
      if (appToken === undefined)
        throw new Error("a share link's token does not unseal: LATCHKEY_SECRET changed?");
      const { link } = result;
      await recordAudit(tx, deps, actor, {
        account: link.account,
        action: "share_link.revealed",
        target: { type: "key", id: link.appKey },
        data: { createdAt: iso(link.createdAt), expiresAt: iso(link.expiresAt) },
      });
      return { status: "revealed" as const, appKey: link.appKey, appToken };
    });
    if (outcome.status === "unknown") fail("SHARE_LINK_NOT_FOUND");
    if (outcome.status === "gone") fail("SHARE_LINK_GONE");
    return { appKey: outcome.appKey, appToken: outcome.appToken };
  }

  /** Erases the sealed tokens of expired links (for the scheduler); returns how many. */
  function purgeExpired(): Promise<number> {
    return store.shareLinks.purgeExpired(clock.now());
  }

  return { reveal, purgeExpired };
}

export type ShareLinkService = ReturnType<typeof createShareLinkService>;
