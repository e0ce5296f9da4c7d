/**
 * Store contract for memberships that are invitations, on SQLite and real PostgreSQL: an invited
 * member is listed with its status and offered roles, but is left out of the user's accounts (where
 * sign-ins are recorded and access is granted) and out of the last-Owner count; it keeps its code's
 * hash and expiry, erased on accepting; accepting and declining act on invitations only, each at most
 * once, also when two race.
 */
import { describe, expect, it } from "vitest";
import { hex, T0, useStore } from "./support/store-fixtures.js";

describe.each(["sqlite", "postgres"] as const)("Store invitations on %s", (kind) => {
  const db = useStore(kind);

  const code = (hash: string) => ({ hash, expiresAt: T0 + 1000 });

  async function user(): Promise<string> {
    const id = `u${hex()}`;
    await db.store.people.createUser({ id, email: `${id}@x.io`, passwordHash: "h", createdAt: T0 });
    return id;
  }

  it("keeps an invitation apart from active memberships until it is accepted", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const [ann, bob] = [await user(), await user()];
    await db.store.people.addMember(a, ann, T0);
    await db.store.people.setUserRoles(a, ann, [1]);
    await db.store.people.addMember(b, ann, T0 + 5, { invitedBy: "admin@b.test", code: code("hash-ann") });
    await db.store.people.setUserRoles(b, ann, [2, 1]);
    await db.store.people.addMember(b, bob, T0);
    await db.store.people.setUserRoles(b, bob, [1]);

    expect(await db.store.people.getMember(a, ann)).toMatchObject({
      status: "active",
      invitedBy: null,
      invitationCode: null,
    });
    expect(await db.store.people.getMember(b, ann)).toMatchObject({
      status: "invited",
      invitedBy: "admin@b.test",
      addedAt: T0 + 5,
      roleIds: [1, 2],
      invitationCode: { hash: "hash-ann", expiresAt: T0 + 1000 },
    });
    expect((await db.store.people.listMembers(b)).map((m) => [m.id, m.status])).toEqual(
      [
        [ann, "invited"],
        [bob, "active"],
      ].sort(),
    );
    expect(await db.store.people.listUserAccounts(ann)).toEqual([a]);
    // The last-Owner rule counts active Owners only; an offered role still counts as held by a role's holders.
    expect(await db.store.people.countUsersWithRole(b, 1)).toBe(1);
    expect(await db.store.roles.countHolders(b, 2)).toBe(1);
    // Adding again (as an invitation or not) keeps the membership as it is.
    await db.store.people.addMember(b, ann, T0 + 9);
    await db.store.people.addMember(a, ann, T0 + 9, { invitedBy: "someone", code: code("other") });
    await db.store.people.addMember(b, ann, T0 + 9, { invitedBy: null, code: code("other") });
    expect(await db.store.people.getMember(b, ann)).toMatchObject({
      status: "invited",
      addedAt: T0 + 5,
      invitationCode: { hash: "hash-ann" },
    });
    expect(await db.store.people.getMember(a, ann)).toMatchObject({ status: "active", invitedBy: null });

    expect(await db.store.people.acceptInvitation(a, ann)).toBe(false);
    expect(await db.store.people.acceptInvitation(b, bob)).toBe(false);
    expect(await db.store.people.acceptInvitation(b, ann)).toBe(true);
    expect(await db.store.people.acceptInvitation(b, ann)).toBe(false);
    expect(await db.store.people.getMember(b, ann)).toMatchObject({
      status: "active",
      roleIds: [1, 2],
      invitationCode: null,
    });
    expect(await db.store.people.listUserAccounts(ann)).toEqual([a, b].sort());
    expect(await db.store.people.countUsersWithRole(b, 1)).toBe(2);
  });

  it("declines an invitation with its offered roles, never an active membership", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const ann = await user();
    await db.store.people.addMember(a, ann, T0);
    await db.store.people.setUserRoles(a, ann, [1]);
    await db.store.people.addMember(b, ann, T0, { invitedBy: "appkey-b-QWERTY", code: code("c1") });
    await db.store.people.setUserRoles(b, ann, [2]);
    expect(await db.store.people.declineInvitation(a, ann)).toBe(false);
    expect(await db.store.people.getMember(a, ann)).toMatchObject({ status: "active", roleIds: [1] });
    expect(await db.store.people.declineInvitation(b, ann)).toBe(true);
    expect(await db.store.people.declineInvitation(b, ann)).toBe(false);
    expect(await db.store.people.getMember(b, ann)).toBeUndefined();
    expect(await db.store.roles.countHolders(b, 2)).toBe(0);
    const left = await db.raw().selectFrom("user_roles").selectAll().where("account", "=", b).execute();
    expect(left).toEqual([]);
    // Invited again later, it starts over with no roles.
    await db.store.people.addMember(b, ann, T0 + 1, { invitedBy: null, code: code("c2") });
    expect(await db.store.people.getMember(b, ann)).toMatchObject({
      status: "invited",
      roleIds: [],
      invitedBy: null,
      invitationCode: { hash: "c2" },
    });
  });

  it("lets exactly one of an acceptance and a decline at once win", async () => {
    const b = await db.account();
    for (let round = 0; round < 5; round++) {
      const ann = await user();
      await db.store.people.addMember(b, ann, T0, { invitedBy: "x", code: code(`c${round}`) });
      await db.store.people.setUserRoles(b, ann, [1]);
      const [accepted, declined] = await Promise.all([
        db.store.transaction((tx) => tx.people.acceptInvitation(b, ann)),
        db.store.transaction((tx) => tx.people.declineInvitation(b, ann)),
      ]);
      expect([accepted, declined].filter(Boolean)).toHaveLength(1);
      const member = await db.store.people.getMember(b, ann);
      if (accepted) expect(member).toMatchObject({ status: "active", roleIds: [1] });
      else expect(member).toBeUndefined();
    }
  });
});
