/**
 * `latchkey/client`: the typed client of the /v1 API, and verification with a short-lived cache and
 * middleware for services that call /v1/verify (docs/client.md).
 */
export * from "./client.js";
export * from "./verify.js";
