/**
 * The write burst of the crash-durability test (crash-durability.test.ts): concurrent workers that
 * each create keys and renew their tokens against a real `latchkey serve`, on the native paths
 * (start then complete, or start with `deleteOldToken: "now"`) and the VTEX ones (vlm create,
 * renew, finish-renewal). Every request is recorded with whether it was **acknowledged**: a 2xx
 * answer read to its end. A worker stops at its first request that is not, so each key has at most
 * one unacknowledged step, its last.
 *
 * `outcomes` says what a key may look like after a crash given its record: as its acknowledged
 * steps left it, or as the step in flight left it had it committed. Nothing in between.
 */

export type Op = "create" | "start" | "startNow" | "complete";
type Via = "native" | "now" | "vtex";

export interface Step {
  op: Op;
  acked: boolean;
  /** The token the step issued, when its answer was read (create and the starts). */
  token?: string;
}

export interface KeyTrail {
  name: string;
  via: Via;
  /** Known once the create was acknowledged. */
  appKey?: string;
  steps: Step[];
}

export interface Burst {
  trails: KeyTrail[];
  acked: number;
  unacked: number;
  /** Answers that were neither a 2xx nor a dropped connection: none is expected. */
  refused: string[];
}

interface Credentials {
  appKey: string;
  appToken: string;
}

const RENEWALS_PER_KEY = 2;
const VIAS: readonly Via[] = ["native", "now", "vtex"];

/** Method, path, body and the field of the answer holding the issued token, for one step. */
function request(trail: KeyTrail, op: Op) {
  const key = trail.appKey ?? "";
  const native = `/v1/accounts/acme/keys/${key}/renewal`;
  const vtex = `/api/vtexid/apikey/${key}/apitoken`;
  if (op === "create") {
    return trail.via === "vtex"
      ? { method: "POST", path: "/api/vlm/appkeys?an=acme", body: { label: trail.name } }
      : { method: "POST", path: "/v1/accounts/acme/keys", body: { name: trail.name } };
  }
  if (op === "complete") {
    return trail.via === "vtex"
      ? { method: "PATCH", path: `${vtex}/finish-renewal?an=acme` }
      : { method: "POST", path: `${native}/complete` };
  }
  if (trail.via === "vtex") return { method: "PATCH", path: `${vtex}/renew?an=acme` };
  return { method: "POST", path: native, body: op === "startNow" ? { deleteOldToken: "now" } : {} };
}

/** The token in an acknowledged answer: `appToken` natively and on vlm create, `newToken` on renew. */
function issuedToken(json: Record<string, unknown>): string | undefined {
  const token = json.appToken ?? json.newToken;
  return typeof token === "string" ? token : undefined;
}

/**
 * Runs the burst until every worker has met a request that was not acknowledged. `onAck` is told
 * after each acknowledgement (the test kills the server from it).
 */
export async function runBurst(
  url: string,
  owner: Credentials,
  workers: number,
  onAck: (burst: Burst) => void,
): Promise<Burst> {
  const burst: Burst = { trails: [], acked: 0, unacked: 0, refused: [] };
  // The VTEX names are accepted on both APIs.
  const credentials = { "x-vtex-api-appkey": owner.appKey, "x-vtex-api-apptoken": owner.appToken };

  async function step(trail: KeyTrail, op: Op): Promise<boolean> {
    const { method, path, body } = request(trail, op);
    const record: Step = { op, acked: false };
    trail.steps.push(record);
    let status = 0;
    let json: Record<string, unknown>;
    try {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: body === undefined ? credentials : { ...credentials, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      status = res.status;
      json = JSON.parse((await res.text()) || "{}") as Record<string, unknown>;
    } catch {
      // Refused, reset or cut short: the server died before answering in full.
      burst.unacked++;
      return false;
    }
    if (status < 200 || status > 299) {
      burst.refused.push(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
      burst.unacked++;
      return false;
    }
    record.acked = true;
    const token = issuedToken(json);
    if (token !== undefined) record.token = token;
    if (op === "create") trail.appKey = String(json.appKey ?? (json.key as { appKey?: string }).appKey);
    burst.acked++;
    onAck(burst);
    return true;
  }

  async function worker(index: number): Promise<void> {
    const via = VIAS[index % VIAS.length] as Via;
    for (let n = 0; ; n++) {
      const trail: KeyTrail = { name: `crash-${index}-${n}`, via, steps: [] };
      burst.trails.push(trail);
      if (!(await step(trail, "create"))) return;
      for (let r = 0; r < RENEWALS_PER_KEY; r++) {
        if (via === "now") {
          if (!(await step(trail, "startNow"))) return;
        } else if (!(await step(trail, "start")) || !(await step(trail, "complete"))) return;
      }
    }
  }

  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  return burst;
}

/**
 * A key's tokens, oldest first: one, or two while a renewal is pending. Null stands for a token
 * issued by a step whose answer never came (so its value is unknown). Absent: no key at all.
 */
export type KeyState = { tokens: (string | null)[] } | "absent";

function apply(state: KeyState, step: Step): KeyState {
  const issued = step.token ?? null;
  if (step.op === "create") return { tokens: [issued] };
  if (state === "absent") throw new Error(`${step.op} before create`);
  if (step.op === "start") return { tokens: [...state.tokens, issued] };
  if (step.op === "startNow") return { tokens: [issued] };
  return { tokens: state.tokens.slice(1) };
}

/** The states the key may be in after the crash: its acknowledged steps applied, then the last one too. */
export function outcomes(trail: KeyTrail): KeyState[] {
  let state: KeyState = "absent";
  for (const step of trail.steps) {
    if (!step.acked) return [state, apply(state, step)];
    state = apply(state, step);
  }
  return [state];
}

/** Every token the trail was handed: after the crash each must work exactly when its state holds it. */
export function knownTokens(trail: KeyTrail): string[] {
  return trail.steps.flatMap((step) => (step.token === undefined ? [] : [step.token]));
}
