/**
 * latchkey's own messages name `X-API-AppKey`/`X-API-AppToken`; on VTEX's paths the same messages
 * name VTEX's `X-VTEX-API-AppKey`/`X-VTEX-API-AppToken`, the headers VTEX's integrations send. Used
 * by the one error mapper (problem.ts) for every answer on those paths.
 */
const HEADER_NAMES: readonly [RegExp, string][] = [
  [/\bX-API-AppKey\b/g, "X-VTEX-API-AppKey"],
  [/\bX-API-AppToken\b/g, "X-VTEX-API-AppToken"],
];

/** A message as VTEX's integrations read it: the credential headers under VTEX's names. */
export function withVtexHeaderNames(message: string): string {
  return HEADER_NAMES.reduce((text, [pattern, name]) => text.replace(pattern, name), message);
}
