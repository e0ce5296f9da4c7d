import { describe, expect, it } from "vitest";
import {
  canGive,
  changedRoleIds,
  covers,
  type Grant,
  grantOf,
  grantResources,
  holds,
  missingResource,
  NOTHING,
  type RoleView,
} from "../../src/core/permissions.js";

function role(id: number, resources: readonly string[], allResources = false): RoleView {
  return { id, name: `role-${id}`, predefined: allResources, allResources, resources };
}

const OWNER = role(1, [], true);
const VIEWER = role(10, ["ViewApiKeys"]);
const EDITOR = role(11, ["ViewApiKeys", "EditApiKeys"]);
const RENEWER = role(12, ["RenewApiToken"]);
const EMPTY = role(13, []);

const sorted = (ids: readonly number[]): number[] => [...ids].sort((a, b) => a - b);
const limited = (...resources: string[]): Grant => ({ all: false, resources: new Set(resources) });

describe("grantOf", () => {
  it("is the union of the roles' resources", () => {
    const grant = grantOf([VIEWER, EDITOR, RENEWER]);
    expect(grant).toEqual(limited("ViewApiKeys", "EditApiKeys", "RenewApiToken"));
  });

  it("gives nothing for no roles or only empty roles", () => {
    for (const roles of [[], [EMPTY], [EMPTY, role(14, [])]]) {
      const grant = grantOf(roles);
      expect(grant.all).toBe(false);
      expect(holds(grant, "ViewApiKeys")).toBe(false);
      expect(grantResources(grant, ["ViewApiKeys"])).toEqual([]);
    }
  });

  it("is Owner-like when any role is, whatever the others hold", () => {
    expect(grantOf([VIEWER, OWNER]).all).toBe(true);
    expect(grantOf([OWNER, EMPTY]).all).toBe(true);
  });

  it("does not let an Owner-like role's resource list limit it", () => {
    expect(grantOf([role(2, ["ViewApiKeys"], true)]).all).toBe(true);
  });
});

describe("holds", () => {
  it("holds exactly the union", () => {
    const grant = grantOf([VIEWER, RENEWER]);
    expect(holds(grant, "ViewApiKeys")).toBe(true);
    expect(holds(grant, "RenewApiToken")).toBe(true);
    expect(holds(grant, "EditApiKeys")).toBe(false);
  });

  it("matches resource keys exactly (case-sensitive, no prefixes)", () => {
    const grant = grantOf([VIEWER]);
    expect(holds(grant, "viewapikeys")).toBe(false);
    expect(holds(grant, "ViewApiKey")).toBe(false);
    expect(holds(grant, "")).toBe(false);
  });

  it("lets an Owner-like grant hold anything, future catalog keys included", () => {
    const grant = grantOf([OWNER]);
    for (const key of ["ViewApiKeys", "EditAdminUsers", "catalog.orders.read", "NotInventedYet"]) {
      expect(holds(grant, key)).toBe(true);
    }
  });

  it("lets NOTHING hold nothing", () => {
    expect(holds(NOTHING, "ViewApiKeys")).toBe(false);
  });
});

describe("covers: no action on a stronger target", () => {
  const owner = grantOf([OWNER]);
  const everything = grantOf([EDITOR, RENEWER, role(21, ["ViewAdminUsers", "EditAdminUsers"])]);
  // [caller, target, expected]: ok, "owner" (the target is Owner-like), or the resources lacking.
  const table: [string, Grant, Grant, true | "owner" | string[]][] = [
    ["owner on owner", owner, owner, true],
    ["owner on anything", owner, grantOf([EDITOR, RENEWER]), true],
    ["owner on nothing", owner, NOTHING, true],
    ["anyone on a target holding nothing", NOTHING, NOTHING, true],
    ["equal grants (acting on itself)", grantOf([EDITOR]), grantOf([EDITOR]), true],
    ["superset on subset", grantOf([EDITOR, RENEWER]), grantOf([VIEWER]), true],
    ["subset on superset", grantOf([VIEWER]), grantOf([EDITOR]), ["EditApiKeys"]],
    ["disjoint", grantOf([RENEWER]), grantOf([EDITOR]), ["EditApiKeys", "ViewApiKeys"]],
    ["renew-only on owner", grantOf([RENEWER]), owner, "owner"],
    ["every listed resource on owner", everything, owner, "owner"],
    ["nothing on one resource", NOTHING, grantOf([VIEWER]), ["ViewApiKeys"]],
    ["empty roles on owner", grantOf([EMPTY]), owner, "owner"],
  ];

  it.each(table)("%s", (_name, caller, target, expected) => {
    const result = covers(caller, target);
    if (expected === true) expect(result).toEqual({ ok: true });
    else if (expected === "owner") expect(result).toEqual({ ok: false, owner: true, lacking: [] });
    else expect(result).toEqual({ ok: false, owner: false, lacking: expected });
  });

  it("agrees with canGive for single roles", () => {
    const grants = [owner, everything, grantOf([EDITOR]), grantOf([VIEWER]), NOTHING];
    for (const grant of grants) {
      for (const given of [OWNER, VIEWER, EDITOR, RENEWER, EMPTY]) {
        expect(canGive(grant, given)).toBe(covers(grant, grantOf([given])).ok);
      }
    }
  });
});

describe("canGive", () => {
  const editor = grantOf([EDITOR]);

  it("allows a role whose resources are a subset of the grant", () => {
    expect(canGive(editor, VIEWER)).toBe(true);
    expect(canGive(editor, EDITOR)).toBe(true);
  });

  it("refuses a role with any resource the grant lacks", () => {
    expect(canGive(editor, RENEWER)).toBe(false);
    expect(canGive(grantOf([VIEWER]), EDITOR)).toBe(false);
    expect(canGive(editor, role(20, ["ViewApiKeys", "EditApiKeys", "RenewApiToken"]))).toBe(false);
  });

  it("lets only an Owner-like grant give an Owner-like role", () => {
    const everything = grantOf([EDITOR, RENEWER, role(21, ["ViewAdminUsers", "EditAdminUsers"])]);
    expect(canGive(everything, OWNER)).toBe(false);
    expect(canGive(NOTHING, OWNER)).toBe(false);
    expect(canGive(grantOf([OWNER]), OWNER)).toBe(true);
  });

  it("lets an Owner-like grant give any role", () => {
    const owner = grantOf([OWNER]);
    for (const given of [VIEWER, EDITOR, RENEWER, EMPTY, role(22, ["catalog.future"])]) {
      expect(canGive(owner, given)).toBe(true);
    }
  });

  it("always allows an empty (non-Owner) role", () => {
    expect(canGive(NOTHING, EMPTY)).toBe(true);
    expect(canGive(grantOf([]), EMPTY)).toBe(true);
  });
});

describe("missingResource", () => {
  const grant = grantOf([VIEWER, RENEWER]);

  it("is undefined when every resource is held", () => {
    expect(missingResource(grant, ["ViewApiKeys", "RenewApiToken"])).toBeUndefined();
    expect(missingResource(grant, [])).toBeUndefined();
  });

  it("names the first resource lacking, in the order asked", () => {
    expect(missingResource(grant, ["ViewApiKeys", "EditApiKeys", "EditAdminUsers"])).toBe("EditApiKeys");
    expect(missingResource(grant, ["EditAdminUsers", "EditApiKeys"])).toBe("EditAdminUsers");
  });

  it("is undefined for an Owner-like grant, unknown keys included", () => {
    expect(missingResource(grantOf([OWNER]), ["EditApiKeys", "NotInventedYet"])).toBeUndefined();
  });

  it("finds the first resource for NOTHING", () => {
    expect(missingResource(NOTHING, ["ViewApiKeys"])).toBe("ViewApiKeys");
  });
});

describe("changedRoleIds", () => {
  it("is the symmetric difference", () => {
    expect(sorted(changedRoleIds([1, 2, 3], [2, 3, 4]))).toEqual([1, 4]);
  });

  it("is empty when nothing changes, whatever the order or repetition", () => {
    expect(changedRoleIds([3, 1, 2], [1, 2, 3])).toEqual([]);
    expect(changedRoleIds([1, 1, 2], [2, 1])).toEqual([]);
    expect(changedRoleIds([], [])).toEqual([]);
  });

  it("lists every role when all are added or all removed", () => {
    expect(sorted(changedRoleIds([], [5, 6]))).toEqual([5, 6]);
    expect(sorted(changedRoleIds([5, 6], []))).toEqual([5, 6]);
  });

  it("is symmetric and lists each id once", () => {
    const before = [1, 2, 2, 7];
    const after = [2, 3, 3, 8];
    const forward = changedRoleIds(before, after);
    expect(sorted(forward)).toEqual([1, 3, 7, 8]);
    expect(sorted(changedRoleIds(after, before))).toEqual(sorted(forward));
  });
});

describe("grantResources", () => {
  const every = ["ViewApiKeys", "EditApiKeys", "RenewApiToken", "EditAdminUsers"];

  it("sorts a limited grant's resources", () => {
    const grant = grantOf([RENEWER, EDITOR]);
    expect(grantResources(grant, every)).toEqual(["EditApiKeys", "RenewApiToken", "ViewApiKeys"]);
  });

  it("lists each resource once even when roles overlap", () => {
    expect(grantResources(grantOf([VIEWER, EDITOR]), every)).toEqual(["EditApiKeys", "ViewApiKeys"]);
  });

  it("gives the full list, in its own order, to an Owner-like grant", () => {
    expect(grantResources(grantOf([OWNER]), every)).toEqual(every);
  });

  it("returns a copy the caller may change", () => {
    const listed = grantResources(grantOf([OWNER]), every);
    listed.push("Extra");
    expect(every).toHaveLength(4);
  });

  it("lists nothing for NOTHING", () => {
    expect(grantResources(NOTHING, every)).toEqual([]);
  });
});
