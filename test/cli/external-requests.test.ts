/**
 * `latchkey external requests|approve|reject` and `settings set --require-external-key-approval`,
 * in process against the harness's app.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { createHarness, type Harness } from "../support/harness.js";

const USER_ADMIN = 2;
let h: Harness;
let asBeta: Record<string, string>;
let asOther: Record<string, string>;

beforeAll(async () => {
  h = await createHarness();
  const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
  asBeta = { LATCHKEY_APPKEY: beta.appKey, LATCHKEY_APPTOKEN: beta.appToken };
  const other = await h.createKey("other approver", [USER_ADMIN], "beta", {
    appKey: beta.appKey,
    appToken: beta.appToken,
  });
  asOther = { LATCHKEY_APPKEY: other.appKey, LATCHKEY_APPTOKEN: other.appToken };
});
afterAll(() => h.close());

describe("external key requests through the CLI", () => {
  it("turns the policy on, requests, lists, refuses self-approval, approves and rejects", async () => {
    const on = await runCli(h, ["settings", "set", "--require-external-key-approval", "on"], { env: asBeta });
    expect(on.code, on.stderr).toBe(0);
    expect(on.stdout).toMatch(/external key approval:\s+required/);
    expect(
      (await runCli(h, ["settings", "set", "--require-external-key-approval", "maybe"], { env: asBeta }))
        .code,
    ).toBe(2);

    const [erp, crm] = [await h.createKey("cli erp"), await h.createKey("cli crm")];
    const added = await runCli(h, ["external", "add", erp.appKey, "--role", String(USER_ADMIN)], {
      env: asBeta,
    });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`Requested ${erp.appKey}`);
    expect((await runCli(h, ["external", "add", crm.appKey], { env: asBeta })).code).toBe(0);

    const listed = await runCli(h, ["external", "requests"], { env: asBeta });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(erp.appKey);
    expect(listed.stdout).toMatch(/YOURS/);
    expect(listed.stdout.split("\n").find((line) => line.includes(erp.appKey))).toMatch(/ yes /);
    const json = await runCli(h, ["--json", "external", "requests"], { env: asOther });
    const items = JSON.parse(json.stdout).items as { appKey: string; byYou: boolean }[];
    expect(items.map((item) => [item.appKey, item.byYou]).sort()).toEqual(
      [
        [erp.appKey, false],
        [crm.appKey, false],
      ].sort(),
    );

    const self = await runCli(h, ["external", "approve", erp.appKey], { env: asBeta });
    expect(self.code).toBe(1);
    expect(self.stderr).toContain("SELF_APPROVAL_DENIED");
    const approved = await runCli(h, ["external", "approve", erp.appKey], { env: asOther });
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(
      `Approved ${erp.appKey} in beta; roles: User Administrator - RESTRICTED`,
    );

    const rejected = await runCli(h, ["external", "reject", crm.appKey], { env: asOther });
    expect(rejected.code, rejected.stderr).toBe(0);
    const again = await runCli(h, ["external", "reject", crm.appKey], { env: asOther });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("EXTERNAL_KEY_REQUEST_NOT_FOUND");
    expect((await runCli(h, ["external", "requests"], { env: asOther })).stdout).toContain(
      "No pending requests.",
    );
    expect((await runCli(h, ["external", "approve"], { env: asOther })).code).toBe(2);
  });
});
