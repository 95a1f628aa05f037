/**
 * Agent tiers. T0 agents only think (noop, sleep, fail); T1 agents may act on the
 * world (run commands, call HTTP, start child pipelines); T2 is the most trusted tier.
 */

export const TIERS = ['T0', 'T1', 'T2'] as const;
export type Tier = (typeof TIERS)[number];

export const TASK_KINDS = ['noop', 'sleep', 'fail', 'exec', 'http', 'pipeline'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

const MINIMUM_TIER: Record<TaskKind, Tier> = {
  noop: 'T0',
  sleep: 'T0',
  fail: 'T0',
  exec: 'T1',
  http: 'T1',
  pipeline: 'T1',
};

/** Order of tiers: T0 → 0, T1 → 1, T2 → 2. */
export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

/** The lowest tier allowed to run a task of this kind. */
export function minimumTierFor(kind: TaskKind): Tier {
  return MINIMUM_TIER[kind];
}

/** True when an agent of `tier` may run a task of `kind`. */
export function tierAllows(tier: Tier, kind: TaskKind): boolean {
  return tierRank(tier) >= tierRank(minimumTierFor(kind));
}

/** The higher of two tiers. */
export function maxTier(a: Tier, b: Tier): Tier {
  return tierRank(a) >= tierRank(b) ? a : b;
}
