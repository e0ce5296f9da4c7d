/**
 * Option values checked where they are typed: a bad value is a usage error (exit 2) from
 * commander, before any request is made.
 */
import { InvalidArgumentError, Option } from "commander";
import { UsageError } from "../output.js";

/** Parses a whole number in [min, max]. */
export function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = Number(raw.trim());
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max)
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`);
    return value;
  };
}

const roleId = integer(1, Number.MAX_SAFE_INTEGER);

/** Repeatable `--role 10 --role 11`, also `--role 10,11`: role ids in the order given, once each. */
export function collectRoleIds(raw: string, previous: number[] = []): number[] {
  const ids = raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part) => {
      try {
        return roleId(part);
      } catch {
        throw new InvalidArgumentError(`"${part}" is not a role id (a positive whole number).`);
      }
    });
  if (ids.length === 0) throw new InvalidArgumentError("give a role id.");
  return [...new Set([...previous, ...ids])];
}

/** Repeatable string option. */
export function collect(raw: string, previous: string[] = []): string[] {
  return [...previous, raw];
}

/** A number of days, or `off` (null) to turn a policy off. */
export function daysOrOff(max: number): (raw: string) => number | null {
  const days = integer(1, max);
  return (raw) => (raw.trim().toLowerCase() === "off" ? null : days(raw));
}

/** An ISO 8601 date or date-time; the server decides the exact forms it takes. */
export function instant(raw: string): string {
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(Date.parse(raw)))
    throw new InvalidArgumentError("must be an ISO 8601 date or date-time, e.g. 2026-11-26T10:00:00Z.");
  return raw;
}

export function choice(flags: string, description: string, choices: readonly string[]): Option {
  return new Option(flags, description).choices(choices);
}

export const roleOption = (description: string) =>
  new Option("--role <id>", `${description} (repeat, or 10,11)`).argParser(collectRoleIds);

/** `--none`, for commands that replace a grant: conflicts with `--role`. */
export const noneOption = () =>
  new Option("--none", "take every role away (a grant of nothing)").conflicts("role");

/** The roles of `--role`, or none with `--none`; one of the two must be given. */
export function chosenRoles(opts: { role?: number[]; none?: boolean }): number[] {
  if (opts.none) return [];
  if (!opts.role) throw new UsageError("give the roles with --role, or --none to take every role away");
  return opts.role;
}
