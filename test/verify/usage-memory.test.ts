import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { createUsageRecorder } from "../../src/verify/usage.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

describe("usage recorder memory", () => {
  it("holds a key in use in ~190 bytes: its times inside its counter, not as 16-byte heap numbers", async () => {
    const keys = 50_000;
    const ids = Array.from({ length: keys }, (_, i) => `key-${String(i).padStart(6, "0")}`);
    const token = { tokenIds: ["t1"] };
    let now = Date.parse("2026-11-26T10:00:00Z");
    let written = 0;
    const usage = createUsageRecorder({
      clock: { now: () => now },
      store: {
        usage: {
          async record(batch) {
            written += batch.counts.length;
          },
        },
      },
    });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (const id of ids) {
      now += 3;
      usage.record(id, "allowed", "acme", "ViewOrders", token, 0);
    }
    // Written: each counter's eight times are set (four uses, four marks of what was written).
    await usage.flush();
    gc();
    const perKey = (process.memoryUsage().heapUsed - before) / keys;
    expect(written).toBe(keys);
    // ~190 B with the times inside (the counter, its Map entry); 128 B more as heap numbers.
    expect(perKey).toBeLessThan(240);
  });
});
