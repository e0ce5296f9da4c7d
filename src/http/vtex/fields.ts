/**
 * The JSON body fields of VTEX's paths, in one place.
 *
 * VTEX's back end reads JSON property names in any letter case (`{appkey}`, `{appKey}` and
 * `{AppKey}` are one field), and integrations written against it send all of these. Every VTEX
 * route reads its body through `readVtexBody`, which folds each property onto the schema's name
 * (VTEX's documented spelling) before validating; answers are written with VTEX's documented names
 * by the handlers. The same property sent twice in different cases is refused: which one counts
 * would otherwise be a guess, and for credentials a guess is a risk.
 */
import { z } from "@hono/zod-openapi";
import { readJson, type VtexContext, vtexMessage } from "./adapter.js";

/**
 * `value` with each property of an object renamed to the one of `names` it matches in any letter
 * case; other properties stay as they are (VTEX ignores unknown fields). Non-objects pass unchanged.
 * A name matched by two properties is a 400 naming it.
 */
export function foldFieldNames(value: unknown, names: readonly string[]): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const byLowerCase = new Map(names.map((name) => [name.toLowerCase(), name]));
  const folded: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const [key, field] of Object.entries(value)) {
    const name = byLowerCase.get(key.toLowerCase()) ?? key;
    if (seen.has(name)) throw vtexMessage(400, `${name} was sent more than once, in different letter cases`);
    seen.add(name);
    folded[name] = field;
  }
  return folded;
}

/**
 * Validates against `schema`, answering VTEX's 400 `{"Message"}` naming each problem, or saying only
 * `invalid` when given (bodies that carry a secret are not described back).
 */
export function parseVtex<T>(schema: z.ZodType<T>, value: unknown, invalid?: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    if (invalid !== undefined) throw vtexMessage(400, invalid);
    const detail = result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw vtexMessage(400, detail);
  }
  return result.data;
}

/** The names of an object schema's fields; none for other schemas (arrays, …). */
function fieldNames(schema: z.ZodType): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** The JSON body, its property names folded onto `schema`'s, validated (400 `{"Message"}` otherwise). */
export async function readVtexBody<T>(c: VtexContext, schema: z.ZodType<T>, invalid?: string): Promise<T> {
  return parseVtex(schema, foldFieldNames(await readJson(c), fieldNames(schema)), invalid);
}
