/**
 * Which errors mean the database could not be reached (the server waits and answers 503) and which
 * say something else (the start stops, a request gets its own answer): storage/unreachable.ts.
 */
import { describe, expect, it } from "vitest";
import { connectionFailure } from "../src/storage/unreachable.js";

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe("connectionFailure", () => {
  it.each([
    ["a refused connection", coded("connect ECONNREFUSED 127.0.0.1:5433", "ECONNREFUSED")],
    ["a name that does not resolve (yet)", coded("getaddrinfo ENOTFOUND db", "ENOTFOUND")],
    ["a connection reset", coded("read ECONNRESET", "ECONNRESET")],
    ["PostgreSQL shutting down", coded("terminating connection due to administrator command", "57P01")],
    ["PostgreSQL starting up", coded("the database system is starting up", "57P03")],
    ["a connection exception (class 08)", coded("connection failure", "08006")],
    ["pg's dropped connection", new Error("Connection terminated unexpectedly")],
    ["pg's connection timeout", new Error("timeout exceeded when trying to connect")],
    [
      "every address refused",
      new AggregateError([coded("connect ECONNREFUSED ::1:5432", "ECONNREFUSED")], ""),
    ],
    [
      "a migration cut off",
      new Error("migration setup failed", { cause: new Error("Connection terminated unexpectedly") }),
    ],
  ])("counts %s as unreachable", (_label, error) => {
    expect(connectionFailure(error)).toEqual(expect.any(String));
  });

  it.each([
    ["a wrong password", coded('password authentication failed for user "latchkey"', "28P01")],
    ["a database that does not exist", coded('database "latchkey" does not exist', "3D000")],
    ["a unique violation", coded("duplicate key value violates unique constraint", "23505")],
    ["a migration that fails on the data", new Error("migration x failed", { cause: coded("bad", "23502") })],
    ["a SQLite error", coded("database is locked", "SQLITE_BUSY")],
    ["a plain error", new Error("LATCHKEY_SECRET does not open the signing keys")],
    ["not an error", "ECONNREFUSED"],
  ])("does not count %s", (_label, error) => {
    expect(connectionFailure(error)).toBeNull();
  });

  it("describes the failure without the URL", () => {
    const error = new Error("migration setup failed", {
      cause: coded("connect ECONNREFUSED 127.0.0.1:5433", "ECONNREFUSED"),
    });
    expect(connectionFailure(error)).toBe("connect ECONNREFUSED 127.0.0.1:5433");
  });
});
