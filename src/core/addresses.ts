/**
 * Which IP addresses a webhook may be sent to (a guard against SSRF: an account admin must not be
 * able to make the server POST to cloud metadata, its own admin ports or the private network).
 *
 * Addresses are parsed here, without node:net, from the textual forms that DNS answers and WHATWG
 * URL host names use: dotted-quad IPv4 (no leading zeros, which some parsers read as octal) and
 * RFC 4291 IPv6, with `::`, an embedded dotted-quad tail and an optional `%zone`. Anything else is
 * not an address; callers that hold something they cannot classify must refuse it.
 *
 * IPv6 forms that carry an IPv4 address (mapped ::ffff:a.b.c.d, translated ::ffff:0:a.b.c.d, the
 * deprecated compatible ::a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002::/16) are judged by that IPv4
 * address, since that is where the packets end up.
 *
 * The same parsing gives address blocks (CIDR) for settings that trust a network
 * (VERIFY_TRUSTED_PROXIES): see `parseAddressBlock` and `addressMatcher` below.
 */

export type AddressRange =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "unspecified"
  | "multicast"
  | "shared"
  | "reserved";

/** Why an address is refused; "unknown" when it is not an address at all. */
export type RefusedRange = Exclude<AddressRange, "public"> | "unknown";

export type DestinationDecision = { ok: true } | { ok: false; address: string; range: RefusedRange };

/** A webhook may go to `addresses` (every one a host name resolved to) unless one of them is not public. */
export function decideDestination(addresses: readonly string[], allowPrivate: boolean): DestinationDecision {
  if (allowPrivate) return { ok: true };
  for (const address of addresses) {
    const range = classifyAddress(address) ?? "unknown";
    if (range !== "public") return { ok: false, address, range };
  }
  return { ok: true };
}

/** Why an address is refused, as the end of "address X …". */
export function describeRange(range: RefusedRange): string {
  switch (range) {
    case "loopback":
      return "is a loopback address";
    case "private":
      return "is in a private network";
    case "link-local":
      return "is link-local";
    case "unspecified":
      return "is unspecified (this host)";
    case "multicast":
      return "is multicast";
    case "shared":
      return "is in the carrier-grade NAT range 100.64.0.0/10";
    case "reserved":
      return "is reserved";
    case "unknown":
      return "is not an IP address latchkey can check";
  }
}

/** The range an IPv4 or IPv6 address belongs to; undefined when `text` is not an address. */
export function classifyAddress(text: string): AddressRange | undefined {
  const v4 = parseIPv4(text);
  if (v4) return classifyIPv4(v4);
  const v6 = parseIPv6(text);
  return v6 ? classifyIPv6(v6) : undefined;
}

type Bytes = readonly number[];

function classifyIPv4([a = 0, b = 0]: Bytes): AddressRange {
  if (a === 0) return "unspecified";
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 100 && b >= 64 && b <= 127) return "shared";
  if (a === 169 && b === 254) return "link-local";
  if (a >= 224 && a <= 239) return "multicast";
  if (a >= 240) return "reserved";
  return "public";
}

function classifyIPv6(bytes: Bytes): AddressRange {
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0);
  const [b0 = 0, b1 = 0] = bytes;
  if (zeros(0, 16)) return "unspecified";
  if (zeros(0, 15) && bytes[15] === 1) return "loopback";
  const tail = bytes.slice(12, 16);
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return classifyIPv4(tail);
  if (zeros(0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zeros(10, 12)) return classifyIPv4(tail);
  if (zeros(0, 12)) return classifyIPv4(tail);
  const nat64 = b0 === 0 && b1 === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b;
  if (nat64 && zeros(4, 12)) return classifyIPv4(tail);
  if (nat64 && bytes[4] === 0 && bytes[5] === 1) return "private";
  if (b0 === 0x20 && b1 === 0x02) return classifyIPv4(bytes.slice(2, 6));
  if ((b0 & 0xfe) === 0xfc) return "private";
  if (b0 === 0xfe && (b1 & 0xc0) === 0x80) return "link-local";
  if (b0 === 0xfe && (b1 & 0xc0) === 0xc0) return "private";
  if (b0 === 0xff) return "multicast";
  return "public";
}

const OCTET = /^(0|[1-9]\d{0,2})$/;

/** Four decimal octets, or undefined. */
export function parseIPv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => OCTET.test(part))) return undefined;
  const octets = parts.map(Number);
  return octets.every((octet) => octet <= 255) ? octets : undefined;
}

const GROUP = /^[0-9a-f]{1,4}$/i;

/** Sixteen bytes, or undefined. A `%zone` suffix is accepted and ignored. */
export function parseIPv6(text: string): number[] | undefined {
  const zone = text.indexOf("%");
  const address = zone === -1 ? text : zone === text.length - 1 ? "" : text.slice(0, zone);
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const head = groupsOf(halves[0] ?? "", halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? "", true) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.flatMap((group) => [group >> 8, group & 0xff]);
}

/** The 16-bit groups of one side of `::`; an IPv4 tail, allowed only at the very end, counts as two. */
function groupsOf(side: string, mayEndInIPv4: boolean): number[] | undefined {
  if (side === "") return [];
  const parts = side.split(":");
  const groups: number[] = [];
  for (const [index, part] of parts.entries()) {
    if (GROUP.test(part)) {
      groups.push(Number.parseInt(part, 16));
      continue;
    }
    const v4 = mayEndInIPv4 && index === parts.length - 1 ? parseIPv4(part) : undefined;
    if (!v4) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    groups.push((a << 8) | b, (c << 8) | d);
  }
  return groups;
}

/**
 * An address block (CIDR) as 16 bytes and a prefix length. IPv4 blocks are held as their
 * IPv4-mapped IPv6 form (::ffff:a.b.c.d/96+n), so "10.0.0.0/8" also matches the "::ffff:10.1.2.3"
 * a dual-stack socket reports for an IPv4 peer.
 */
export interface AddressBlock {
  readonly bytes: readonly number[];
  readonly bits: number;
}

/** An IPv4 or IPv6 address as 16 bytes (IPv4 mapped into ::ffff:0:0/96); undefined otherwise. */
export function addressBytes(text: string): number[] | undefined {
  const v4 = parseIPv4(text);
  if (v4) return [...new Array<number>(10).fill(0), 0xff, 0xff, ...v4];
  return parseIPv6(text);
}

/** Whether `text` is an IPv4 or IPv6 address (a `%zone` suffix included). */
export function isIpAddress(text: string): boolean {
  return addressBytes(text) !== undefined;
}

const PREFIX_LENGTH = /^(0|[1-9]\d{0,2})$/;

/** "10.0.0.0/8", "fd00::/8", or one address ("192.0.2.7", "::1"); undefined when malformed. */
export function parseAddressBlock(text: string): AddressBlock | undefined {
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  if (address.includes("%")) return undefined;
  const bytes = addressBytes(address);
  if (!bytes) return undefined;
  const max = parseIPv4(address) ? 32 : 128;
  if (slash === -1) return { bytes, bits: 128 };
  const length = text.slice(slash + 1);
  if (!PREFIX_LENGTH.test(length) || Number(length) > max) return undefined;
  return { bytes, bits: 128 - max + Number(length) };
}

/** Whether the address (16 bytes) lies in `block`. */
export function bytesInBlock(block: AddressBlock, bytes: readonly number[]): boolean {
  for (let bit = 0; bit < block.bits; bit += 8) {
    const width = Math.min(8, block.bits - bit);
    const mask = (0xff << (8 - width)) & 0xff;
    const index = bit / 8;
    if (((bytes[index] ?? 0) & mask) !== ((block.bytes[index] ?? 0) & mask)) return false;
  }
  return true;
}

/** Whether the address `text` lies in `block`; false when `text` is not an address. */
export function blockContains(block: AddressBlock, text: string): boolean {
  const bytes = addressBytes(text);
  return bytes !== undefined && bytesInBlock(block, bytes);
}

/**
 * Blocks prepared for a membership test on the hot path (an IP allowlist checked on every
 * verification): each block as four 32-bit words of its network and four of its mask, so that a
 * test is four masked compares per block instead of a walk over its bytes. `lastIn` is the last
 * address text found in the set: a key is usually called from one address (its integration's
 * egress, a gateway), which is then answered by one string compare. The blocks never change, so
 * neither does that answer.
 */
export interface BlockSet {
  readonly words: Uint32Array;
  lastIn: string | null;
}

/** The 16 bytes as four big-endian 32-bit words. */
function wordsOf(bytes: readonly number[], out: Uint32Array, at: number): void {
  for (let word = 0; word < 4; word++) {
    const i = word * 4;
    out[at + word] =
      (((bytes[i] ?? 0) << 24) |
        ((bytes[i + 1] ?? 0) << 16) |
        ((bytes[i + 2] ?? 0) << 8) |
        (bytes[i + 3] ?? 0)) >>>
      0;
  }
}

export function blockSet(blocks: readonly AddressBlock[]): BlockSet {
  const set = new Uint32Array(blocks.length * 8);
  blocks.forEach((block, index) => {
    const at = index * 8;
    const mask = new Array<number>(16);
    for (let byte = 0; byte < 16; byte++) {
      const bits = Math.max(0, Math.min(8, block.bits - byte * 8));
      mask[byte] = (0xff << (8 - bits)) & 0xff;
    }
    wordsOf(mask, set, at + 4);
    wordsOf(block.bytes, set, at);
    for (let word = 0; word < 4; word++)
      set[at + word] = ((set[at + word] as number) & (set[at + 4 + word] as number)) >>> 0;
  });
  return { words: set, lastIn: null };
}

/**
 * Parsed client addresses, kept because the same few (a gateway, a proxy, an integration's
 * egress) come back on every request. Bounded: emptied when full, so a flood of distinct
 * addresses costs a parse each, never memory.
 */
const parsedAddresses = new Map<string, Uint32Array | null>();
const PARSED_ADDRESSES_MAX = 4096;

/** The address as four words, or null when `text` is not an address. */
function addressWords(text: string): Uint32Array | null {
  const known = parsedAddresses.get(text);
  if (known !== undefined) return known;
  const bytes = addressBytes(text);
  let words: Uint32Array | null = null;
  if (bytes !== undefined) {
    words = new Uint32Array(4);
    wordsOf(bytes, words, 0);
  }
  if (parsedAddresses.size >= PARSED_ADDRESSES_MAX) parsedAddresses.clear();
  parsedAddresses.set(text, words);
  return words;
}

/** Whether the address `text` lies in one of the set's blocks; false when it is not an address. */
export function inBlockSet(blocks: BlockSet, text: string | null): boolean {
  if (text === null) return false;
  if (text === blocks.lastIn) return true;
  const set = blocks.words;
  if (set.length === 0) return false;
  const words = addressWords(text);
  if (words === null) return false;
  const w0 = words[0] as number;
  const w1 = words[1] as number;
  const w2 = words[2] as number;
  const w3 = words[3] as number;
  for (let at = 0; at < set.length; at += 8) {
    if (
      (w0 & (set[at + 4] as number)) >>> 0 === set[at] &&
      (w1 & (set[at + 5] as number)) >>> 0 === set[at + 1] &&
      (w2 & (set[at + 6] as number)) >>> 0 === set[at + 2] &&
      (w3 & (set[at + 7] as number)) >>> 0 === set[at + 3]
    ) {
      blocks.lastIn = text;
      return true;
    }
  }
  return false;
}

/** A membership test over blocks given as text (already validated: malformed ones match nothing). */
export function addressMatcher(blocks: readonly string[]): (address: string | null) => boolean {
  const set = blockSet(blocks.flatMap((text) => parseAddressBlock(text) ?? []));
  return (address) => inBlockSet(set, address);
}
