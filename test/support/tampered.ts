/**
 * `secret` with its last character replaced by another one: a wrong token (or CSRF value) of the
 * right shape. Never the same text: a fixed replacement character would leave a secret that
 * already ends with it unchanged (1 time in 64), and the test would see it accepted.
 */
export function tamperedLast(secret: string): string {
  const last = secret.slice(-1);
  return `${secret.slice(0, -1)}${last === "0" ? "1" : "0"}`;
}
