/**
 * `latchkey keys review`: the access review (GET /v1/accounts/{account}/keys/review), keys that
 * hold more than they use, each finding with the suggested action.
 */
import type { Command } from "commander";
import type { AccessReview } from "../../client/client.js";
import { compact, ok } from "../client.js";
import { cell, formatDate } from "../table.js";
import { type Registry, remote } from "./context.js";
import { integer } from "./options.js";

export function describeReview(review: AccessReview, account: string): string {
  const reviewed = ` (${review.keysReviewed} key(s) reviewed)`;
  const head = `Access review of ${account} over the last ${review.days} days${reviewed}:`;
  if (review.items.length === 0) return `${head} no findings.`;
  const blocks = review.items.map((item) => {
    const facts = [item.keyType, item.status, `last used ${formatDate(item.lastUsedAt)}`].join(", ");
    const lines = [`${cell(item.appKey)}  ${cell(item.name)}${facts ? `  (${facts})` : ""}`];
    for (const finding of item.findings) {
      lines.push(
        `  - ${cell(finding.kind)}: ${cell(finding.detail)}`,
        `    suggestion: ${cell(finding.suggestion)}`,
      );
    }
    return lines.join("\n");
  });
  return [head, "", blocks.join("\n\n")].join("\n");
}

export function registerReview(group: Command, registry: Registry): void {
  group
    .command("review")
    .description("access review: keys holding more than they use, with suggested actions")
    .option("--days <n>", "look back this many days (1-365, default 90)", integer(1, 365))
    .action((opts: { days?: number }, command: Command) =>
      remote(registry, command, async (r) => {
        const review = await ok(
          r.client.api.GET("/v1/accounts/{account}/keys/review", {
            params: { path: { account: r.account }, query: compact({ days: opts.days }) },
          }),
        );
        r.result(review, () => describeReview(review, r.account));
      }),
    );
}
