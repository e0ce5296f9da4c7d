/**
 * `latchkey keys review`: the access review (GET /v1/accounts/{account}/keys/review), keys that
 * hold more than they use, each finding with the suggested action.
 */
import type { Command } from "commander";
import { api } from "../client.js";
import { cell, formatDate } from "../table.js";
import { type Registry, remote } from "./context.js";
import { integer } from "./options.js";

interface Finding {
  kind: string;
  detail: string;
  suggestion: string;
}

interface ReviewItem {
  appKey: string;
  name: string;
  keyType?: string;
  status?: string;
  lastUsedAt?: string | null;
  findings: Finding[];
}

export interface Review {
  days: number;
  keysReviewed?: number;
  items: ReviewItem[];
}

export function describeReview(review: Review, account: string): string {
  const reviewed = review.keysReviewed === undefined ? "" : ` (${review.keysReviewed} key(s) reviewed)`;
  const head = `Access review of ${account} over the last ${review.days} days${reviewed}:`;
  if (review.items.length === 0) return `${head} no findings.`;
  const blocks = review.items.map((item) => {
    const facts = [
      item.keyType,
      item.status,
      item.lastUsedAt === undefined ? "" : `last used ${formatDate(item.lastUsedAt)}`,
    ]
      .filter(Boolean)
      .join(", ");
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
        const review = await r.client.get<Review>(api`/v1/accounts/${r.account}/keys/review`, {
          days: opts.days,
        });
        r.result(review, () => describeReview(review, r.account));
      }),
    );
}
