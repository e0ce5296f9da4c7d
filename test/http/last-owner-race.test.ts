/**
 * The account keeps an Owner user even when two administrators act at once: removing one Owner
 * while another Owner is demoted lets exactly one of the two through (grants are locked per account).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../support/harness.js";

const USERS = "/v1/accounts/acme/users";

describe.each(["sqlite", "postgres"] as const)("the last Owner under concurrent changes on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind);
  });
  afterAll(() => h.close());

  it("never lets a removal and a demotion at once leave the account without an Owner", async () => {
    for (let round = 0; round < 5; round++) {
      const ownerIds = async () =>
        ((await h.request("GET", USERS)).body.items as { id: string; roles: { id: number }[] }[])
          .filter((user) => user.roles.some((role) => role.id === 1))
          .map((user) => user.id);
      // Exactly two Owners going in.
      for (const id of (await ownerIds()).slice(2)) await h.request("DELETE", `${USERS}/${id}`);
      while ((await ownerIds()).length < 2) {
        const added = await h.request("POST", USERS, {
          body: { email: `owner${round}-${Date.now()}@acme.test`, roles: [1] },
        });
        expect(added.status).toBe(201);
      }
      const [first, second] = await ownerIds();
      const [removed, demoted] = await Promise.all([
        h.request("DELETE", `${USERS}/${first}`),
        h.request("PUT", `${USERS}/${second}/roles`, { body: { roles: [] } }),
      ]);
      const outcomes = [removed, demoted].map((res) => (res.status < 300 ? "ok" : res.body.code)).sort();
      expect(outcomes, `round ${round}`).toEqual(["LAST_OWNER", "ok"]);
      expect(await ownerIds()).toHaveLength(1);
    }
  });
});
