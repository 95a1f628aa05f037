/**
 * Agent privilege tiers and the task kinds each may run: the one definition the pipeline DSL,
 * the message schemas, the agents, the gateway and the token actors share.
 *
 * | tier | role     | may run                                                  |
 * | ---- | -------- | -------------------------------------------------------- |
 * | T0   | observer | tasks without side effects (`noop`, `sleep`, `fail`)     |
 * | T1   | executor | also side-effecting tasks (`exec`, `http`, `pipeline`)   |
 * | T2   | admin    | everything T1 may                                        |
 *
 * What each tier may do besides running tasks (approve, revoke, promote…) is the agents' business:
 * actors/agent/tiers.ts.
 *
 * Tiers are totally ordered (T0 < T1 < T2); every permission is "at least tier X".
 * Unknown task kinds are denied (deny by default), so data arriving off the bus can be
 * checked without first being narrowed.
 */
import { TierForbiddenError } from './errors.ts';

export const TIERS = ['T0', 'T1', 'T2'] as const;
export type Tier = (typeof TIERS)[number];

export const LOWEST_TIER: Tier = 'T0';
export const HIGHEST_TIER: Tier = 'T2';

/** Kinds of task an agent can be asked to run (the `kind` of a pipeline stage's task). */
export const TASK_KINDS = ['noop', 'sleep', 'fail', 'exec', 'http', 'pipeline'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** Lowest tier allowed to run each task kind. */
export const TASK_KIND_MIN_TIER: Readonly<Record<TaskKind, Tier>> = {
  noop: 'T0',
  sleep: 'T0',
  fail: 'T0',
  exec: 'T1',
  http: 'T1',
  pipeline: 'T1',
};

/** Lowest tier whose `exec` tasks may ask for the network (`network: true`); below it the sandbox has none. */
export const EXEC_NETWORK_MIN_TIER: Tier = 'T2';

export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}

export function isTaskKind(value: unknown): value is TaskKind {
  return typeof value === 'string' && (TASK_KINDS as readonly string[]).includes(value);
}

/** 0 for T0, 1 for T1, 2 for T2; -1 for anything that is not a tier. */
export function tierRank(tier: Tier): number {
  return (TIERS as readonly string[]).indexOf(tier);
}

/** True when `tier` is `min` or above. A value that is not a tier is never at least anything. */
export function tierAtLeast(tier: Tier, min: Tier): boolean {
  return isTier(tier) && isTier(min) && tierRank(tier) >= tierRank(min);
}

/** The higher of two tiers. */
export function maxTier(a: Tier, b: Tier): Tier {
  return tierRank(a) >= tierRank(b) ? a : b;
}

/** Lowest tier that may run `kind`; undefined for an unknown kind. */
export function minTierForTaskKind(kind: TaskKind): Tier | undefined {
  return isTaskKind(kind) ? TASK_KIND_MIN_TIER[kind] : undefined;
}

/** Whether an agent of `tier` may run a task of `kind`. Unknown kinds are refused. */
export function canRunTaskKind(tier: Tier, kind: TaskKind): boolean {
  const min = minTierForTaskKind(kind);
  return min !== undefined && tierAtLeast(tier, min);
}

/** Throws {@link TierForbiddenError} unless `tier` may run a task of `kind`. */
export function assertCanRunTaskKind(tier: Tier, kind: TaskKind): void {
  if (!canRunTaskKind(tier, kind)) {
    throw new TierForbiddenError(`tier ${String(tier)} may not run ${String(kind)} tasks`, {
      details: { tier, kind, requiredTier: minTierForTaskKind(kind) ?? null },
    });
  }
}
