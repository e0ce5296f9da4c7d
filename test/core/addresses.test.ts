import { isIP } from "node:net";
import { describe, expect, it } from "vitest";
import {
  addressMatcher,
  blockContains,
  blockSet,
  classifyAddress,
  decideDestination,
  describeRange,
  inBlockSet,
  isIpAddress,
  parseAddressBlock,
  parseIPv4,
  parseIPv6,
} from "../../src/core/addresses.js";

describe("classifyAddress: IPv4", () => {
  it.each([
    // 0.0.0.0/8: "this network"; 0.0.0.0 reaches the local host on Linux.
    ["0.0.0.0", "unspecified"],
    ["0.255.255.255", "unspecified"],
    ["1.0.0.0", "public"],
    // 10.0.0.0/8
    ["9.255.255.255", "public"],
    ["10.0.0.0", "private"],
    ["10.0.0.5", "private"],
    ["10.255.255.255", "private"],
    ["11.0.0.0", "public"],
    // 100.64.0.0/10: carrier-grade NAT
    ["100.63.255.255", "public"],
    ["100.64.0.0", "shared"],
    ["100.127.255.255", "shared"],
    ["100.128.0.0", "public"],
    // 127.0.0.0/8
    ["126.255.255.255", "public"],
    ["127.0.0.1", "loopback"],
    ["127.0.0.0", "loopback"],
    ["127.255.255.255", "loopback"],
    ["128.0.0.0", "public"],
    // 169.254.0.0/16: link-local, where cloud metadata answers
    ["169.253.255.255", "public"],
    ["169.254.0.0", "link-local"],
    ["169.254.169.254", "link-local"],
    ["169.254.255.255", "link-local"],
    ["169.255.0.0", "public"],
    // 172.16.0.0/12
    ["172.15.255.255", "public"],
    ["172.16.0.0", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.0", "public"],
    // 192.168.0.0/16
    ["192.167.255.255", "public"],
    ["192.168.0.0", "private"],
    ["192.168.255.255", "private"],
    ["192.169.0.0", "public"],
    // 224.0.0.0/4 multicast, 240.0.0.0/4 reserved (with the broadcast address)
    ["223.255.255.255", "public"],
    ["224.0.0.0", "multicast"],
    ["239.255.255.255", "multicast"],
    ["240.0.0.0", "reserved"],
    ["255.255.255.255", "reserved"],
    // ordinary public addresses
    ["8.8.8.8", "public"],
    ["93.184.215.14", "public"],
  ])("%s is %s", (address, range) => {
    expect(classifyAddress(address)).toBe(range);
  });
});

describe("classifyAddress: IPv6", () => {
  it.each([
    ["::", "unspecified"],
    ["0:0:0:0:0:0:0:0", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::2", "unspecified"],
    // fc00::/7 unique local
    ["fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "public"],
    ["fc00::", "private"],
    ["fd12:3456:789a::1", "private"],
    ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"],
    // fe80::/10 link-local, with and without a zone
    ["fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "public"],
    ["fe80::", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["FE80::ABCD", "link-local"],
    ["febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"],
    // fec0::/10 site-local (deprecated, still internal)
    ["fec0::1", "private"],
    ["feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"],
    // ff00::/8 multicast
    ["ff00::", "multicast"],
    ["ff02::1", "multicast"],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"],
    // 64:ff9b:1::/48, the local-use NAT64 prefix
    ["64:ff9b:1::a00:5", "private"],
    // ordinary public addresses
    ["2001:4860:4860::8888", "public"],
    ["2606:4700::1111", "public"],
    ["2001:db8::1", "public"],
  ])("%s is %s", (address, range) => {
    expect(classifyAddress(address)).toBe(range);
  });
});

describe("classifyAddress: IPv6 forms carrying an IPv4 address are judged by it", () => {
  it.each([
    // IPv4-mapped ::ffff:0:0/96, dotted and hexadecimal
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::FFFF:10.0.0.5", "private"],
    ["0:0:0:0:0:ffff:a9fe:a9fe", "link-local"],
    ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:100.64.0.1", "shared"],
    ["::ffff:0.0.0.0", "unspecified"],
    ["::ffff:224.0.0.1", "multicast"],
    ["::ffff:192.168.1.1", "private"],
    ["::ffff:8.8.8.8", "public"],
    // IPv4-translated ::ffff:0:0:0/96 (RFC 6145)
    ["::ffff:0:127.0.0.1", "loopback"],
    ["::ffff:0:808:808", "public"],
    // IPv4-compatible ::/96 (deprecated)
    ["::127.0.0.1", "loopback"],
    ["::10.1.2.3", "private"],
    ["::8.8.8.8", "public"],
    // NAT64 64:ff9b::/96
    ["64:ff9b::169.254.169.254", "link-local"],
    ["64:ff9b::7f00:1", "loopback"],
    ["64:ff9b::808:808", "public"],
    // 6to4 2002::/16: the IPv4 address is in bits 16-47
    ["2002:7f00:1::", "loopback"],
    ["2002:a00:5::1", "private"],
    ["2002:808:808::1", "public"],
  ])("%s is %s", (address, range) => {
    expect(classifyAddress(address)).toBe(range);
  });
});

describe("parsing", () => {
  it.each([
    ["0.0.0.0", [0, 0, 0, 0]],
    ["255.255.255.255", [255, 255, 255, 255]],
    ["192.0.2.1", [192, 0, 2, 1]],
  ])("reads IPv4 %s", (text, bytes) => {
    expect(parseIPv4(text)).toEqual(bytes);
  });

  it("reads IPv6 with and without ::, with an IPv4 tail and a zone", () => {
    const loopback = [...new Array<number>(15).fill(0), 1];
    expect(parseIPv6("::1")).toEqual(loopback);
    expect(parseIPv6("0:0:0:0:0:0:0:1")).toEqual(loopback);
    expect(parseIPv6("0000:0000:0000:0000:0000:0000:0000:0001")).toEqual(loopback);
    expect(parseIPv6("1::")).toEqual([0, 1, ...new Array<number>(14).fill(0)]);
    expect(parseIPv6("1:2:3:4:5:6:7::")).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]);
    expect(parseIPv6("::ffff:1.2.3.4")).toEqual([...new Array<number>(10).fill(0), 255, 255, 1, 2, 3, 4]);
    expect(parseIPv6("fe80::1%eth0")).toEqual([0xfe, 0x80, ...new Array<number>(13).fill(0), 1]);
  });

  const valid = [
    "1.2.3.4",
    "0.0.0.0",
    "255.255.255.255",
    "::",
    "::1",
    "1::",
    "1::2",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "1:2:3:4:5:6:1.2.3.4",
    "::ffff:1.2.3.4",
    "ABCD:ef01::",
    "fe80::1%eth0",
  ];
  const invalid = [
    "",
    "localhost",
    "example.com",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "01.2.3.4",
    "1.2.3.04",
    "0x7f.0.0.1",
    "1.2.3.4 ",
    " 1.2.3.4",
    "-1.2.3.4",
    "1..3.4",
    "[::1]",
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::2",
    "1::2:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "12345::",
    "g::",
    "1.2.3.4::",
    "::1.2.3.4:5",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::ffff:1.2.3.256",
    "fe80::1%",
  ];

  it.each(valid)("accepts %j, as node:net does", (text) => {
    expect(classifyAddress(text)).toBeDefined();
    expect(isIP(text)).not.toBe(0);
  });

  it.each(invalid)("refuses %j, as node:net does", (text) => {
    expect(classifyAddress(text)).toBeUndefined();
    expect(isIP(text)).toBe(0);
  });
});

describe("decideDestination", () => {
  it("allows public addresses only, unless private ones are allowed", () => {
    expect(decideDestination(["8.8.8.8", "2001:4860:4860::8888"], false)).toEqual({ ok: true });
    expect(decideDestination(["127.0.0.1"], true)).toEqual({ ok: true });
    expect(decideDestination(["169.254.169.254", "10.0.0.5"], true)).toEqual({ ok: true });
  });

  it("refuses when any address is not public, naming the first such one", () => {
    expect(decideDestination(["8.8.8.8", "10.0.0.5", "127.0.0.1"], false)).toEqual({
      ok: false,
      address: "10.0.0.5",
      range: "private",
    });
    expect(decideDestination(["::1"], false)).toEqual({ ok: false, address: "::1", range: "loopback" });
  });

  it("refuses what it cannot read as an address", () => {
    expect(decideDestination(["8.8.8.8", "not-an-ip"], false)).toEqual({
      ok: false,
      address: "not-an-ip",
      range: "unknown",
    });
  });

  it("describes every refused range", () => {
    expect(describeRange("private")).toBe("is in a private network");
    expect(describeRange("loopback")).toBe("is a loopback address");
    for (const range of [
      "link-local",
      "unspecified",
      "multicast",
      "shared",
      "reserved",
      "unknown",
    ] as const) {
      expect(describeRange(range)).toMatch(/^is /);
    }
  });
});

describe("address blocks (CIDR)", () => {
  it.each([
    ["10.0.0.0/8", "10.255.1.2", true],
    ["10.0.0.0/8", "11.0.0.1", false],
    ["10.0.0.0/8", "::ffff:10.1.2.3", true],
    ["192.0.2.7", "192.0.2.7", true],
    ["192.0.2.7", "192.0.2.8", false],
    ["192.0.2.7/32", "::ffff:192.0.2.7", true],
    ["172.16.0.0/12", "172.31.255.255", true],
    ["172.16.0.0/12", "172.32.0.0", false],
    ["0.0.0.0/0", "198.51.100.1", true],
    ["0.0.0.0/0", "2001:db8::1", false],
    ["fd00::/8", "fd12:3456::1", true],
    ["fd00::/8", "fe80::1", false],
    ["2001:db8:1::/63", "2001:db8:1:1::9", true],
    ["2001:db8:1::/63", "2001:db8:1:2::9", false],
    ["::1", "::1", true],
    ["::1", "127.0.0.1", false],
    ["::/0", "2001:db8::1", true],
    ["10.0.0.0/8", "not an address", false],
  ])("%s contains %s: %s", (block, address, inside) => {
    const parsed = parseAddressBlock(block);
    expect(parsed).toBeDefined();
    expect(blockContains(parsed as NonNullable<typeof parsed>, address)).toBe(inside);
  });

  it.each([
    "10.0.0.0/33",
    "fd00::/129",
    "10.0.0.0/",
    "10.0.0.0/08",
    "10.0.0/8",
    "example.com",
    "fe80::1%eth0/64",
    "",
  ])("refuses %j", (block) => {
    expect(parseAddressBlock(block)).toBeUndefined();
  });

  it("matches an address against several blocks; null and garbage match nothing", () => {
    const trusted = addressMatcher(["10.0.0.0/8", "fd00::/8"]);
    expect([trusted("10.1.1.1"), trusted("fd00::5"), trusted("192.0.2.1"), trusted(null)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(addressMatcher([])("10.1.1.1")).toBe(false);
  });

  it("tells IP addresses from anything else", () => {
    expect(["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"].every(isIpAddress)).toBe(true);
    expect(["192.0.2", "192.0.2.256", "host", "", "1:2:3:4:5:6:7:8:9"].some(isIpAddress)).toBe(false);
  });
});

describe("block sets (the hot path's allowlist match)", () => {
  /** A deterministic generator, so that a failure names the same case every run. */
  function random(seed: number) {
    let state = seed;
    return (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % n;
    };
  }
  const draw = random(42);
  const v4 = () => [draw(256), draw(256), draw(256), draw(256)].join(".");
  const v6 = () => Array.from({ length: 8 }, () => draw(0x10000).toString(16)).join(":");

  it("agrees with the byte-wise test on every prefix length, IPv4 and IPv6", () => {
    for (let i = 0; i < 2_000; i++) {
      const four = draw(2) === 0;
      const network = four ? v4() : v6();
      const text = `${network}/${draw(four ? 33 : 129)}`;
      const block = parseAddressBlock(text) as NonNullable<ReturnType<typeof parseAddressBlock>>;
      const set = blockSet([block]);
      // Addresses near the network (same first bytes) as well as anywhere.
      const near = four
        ? network
            .split(".")
            .slice(0, 2)
            .concat([String(draw(256)), String(draw(256))])
            .join(".")
        : network.replace(/[0-9a-f]+$/, draw(0x10000).toString(16));
      for (const address of [network, near, four ? v4() : v6(), four ? `::ffff:${near}` : "::1"]) {
        expect(inBlockSet(set, address), `${address} in ${text}`).toBe(blockContains(block, address));
      }
    }
  });

  it("matches any block of the set, and nothing that is not an address", () => {
    const set = blockSet(
      ["203.0.113.0/24", "2001:db8::/32", "127.0.0.0/8"].map(
        (t) => parseAddressBlock(t) as NonNullable<ReturnType<typeof parseAddressBlock>>,
      ),
    );
    expect(inBlockSet(set, "127.0.0.1")).toBe(true);
    expect(inBlockSet(set, "::ffff:127.0.0.1")).toBe(true);
    expect(inBlockSet(set, "2001:db8:ffff::1")).toBe(true);
    expect(inBlockSet(set, "203.0.114.1")).toBe(false);
    expect(inBlockSet(set, "not an address")).toBe(false);
    expect(inBlockSet(set, null)).toBe(false);
    expect(inBlockSet(blockSet([]), "127.0.0.1")).toBe(false);
    // The parsed-address memo answers the same the second time.
    expect(inBlockSet(set, "127.0.0.1")).toBe(true);
    expect(inBlockSet(set, "not an address")).toBe(false);
    // The set's last match is a memo of that set alone: an address found in one set is not in
    // another because it was asked there first, and a refused address stays refused after it.
    const other = blockSet([
      parseAddressBlock("10.0.0.0/8") as NonNullable<ReturnType<typeof parseAddressBlock>>,
    ]);
    expect(inBlockSet(set, "127.0.0.2")).toBe(true);
    expect(inBlockSet(other, "127.0.0.2")).toBe(false);
    expect(inBlockSet(set, "10.1.2.3")).toBe(false);
    expect(inBlockSet(other, "10.1.2.3")).toBe(true);
    expect(inBlockSet(set, "10.1.2.3")).toBe(false);
    expect(inBlockSet(set, "127.0.0.2")).toBe(true);
  });
});
