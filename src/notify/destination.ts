/**
 * Where a webhook may connect (WEBHOOK_ALLOW_PRIVATE, off by default): never to a loopback, private,
 * link-local, CGNAT, multicast, unspecified or reserved address (core/addresses.ts decides).
 *
 * The check is made on the addresses the connection is then made to, not on a second DNS answer:
 * `guardedLookup` is handed to node:http as its `lookup`, resolves the name once, refuses when any
 * answer is not public and otherwise returns exactly the answers it checked. A name that resolves
 * to a public address at save time and to 127.0.0.1 at send time (DNS rebinding) is still refused.
 * IP literals never reach a lookup function (node:net connects to them directly), so the sender
 * checks them with `literalRefusal` first.
 *
 * Messages name the refused address and the setting, never the URL (it may carry a secret).
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { type DestinationDecision, decideDestination, describeRange } from "../core/addresses.js";

/** A delivery refused by policy; not retried, since only a restart with another setting changes it. */
export class RefusedDestinationError extends Error {
  readonly code = "WEBHOOK_DESTINATION_REFUSED";
  constructor(decision: Extract<DestinationDecision, { ok: false }>) {
    super(
      `webhook refused: address ${decision.address} ${describeRange(decision.range)}; set WEBHOOK_ALLOW_PRIVATE=true to allow`,
    );
    this.name = "RefusedDestinationError";
  }
}

/** The refusal for a URL host that is an IP literal (brackets of IPv6 allowed), else undefined. */
export function literalRefusal(hostname: string, allowPrivate: boolean): RefusedDestinationError | undefined {
  const host = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  if (isIP(host) === 0) return undefined;
  const decision = decideDestination([host], allowPrivate);
  return decision.ok ? undefined : new RefusedDestinationError(decision);
}

/** dns.lookup, refusing (with a RefusedDestinationError) when any address it found is not allowed. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "");
      const first = addresses[0];
      if (!first) {
        return callback(Object.assign(new Error("no address"), { code: "ENOTFOUND" }), "");
      }
      const decision = decideDestination(
        addresses.map((entry) => entry.address),
        allowPrivate,
      );
      if (!decision.ok) return callback(new RefusedDestinationError(decision), "");
      if (options.all) return callback(null, addresses);
      return callback(null, first.address, first.family);
    });
  };
}
