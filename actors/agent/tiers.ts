/**
 * Agent privilege tiers.
 *
 * | tier | role     | may                                                                              |
 * | ---- | -------- | -------------------------------------------------------------------------------- |
 * | T0   | observer | read-only: watch, and run tasks without side effects (`noop`, `sleep`, `fail`)   |
 * | T1   | executor | everything T0 may, plus side-effecting tasks (`exec`, `http`, `pipeline`)        |
 * | T2   | admin    | everything T1 may, plus approve, control supervisors, revoke tokens, promote,    |
 * |      |          | demote and release quarantined agents                                            |
 *
 * Tiers are totally ordered (T0 < T1 < T2); every permission is "at least tier X".
 * Unknown task kinds and actions are denied (deny by default), so data arriving
 * off the bus can be checked without first being narrowed.
 */
import { InvalidTransitionError, TierForbiddenError } from '../../protocols/errors.ts';

export const TIERS = ['T0', 'T1', 'T2'] as const;
export type Tier = (typeof TIERS)[number];

export const LOWEST_TIER: Tier = 'T0';
export const HIGHEST_TIER: Tier = 'T2';

/** Kinds of task an agent can be asked to run. */
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

/** Governed actions. `run-task` is the permission to run any task at all (kinds are checked by {@link canRunTaskKind}). */
export const TIER_ACTIONS = [
  'watch',
  'run-task',
  'approve',
  'control-supervisor',
  'revoke-token',
  'promote',
  'demote',
  'release',
] as const;
export type TierAction = (typeof TIER_ACTIONS)[number];

/** Lowest tier allowed to perform each action. */
export const ACTION_MIN_TIER: Readonly<Record<TierAction, Tier>> = {
  watch: 'T0',
  'run-task': 'T1',
  approve: 'T2',
  'control-supervisor': 'T2',
  'revoke-token': 'T2',
  promote: 'T2',
  demote: 'T2',
  release: 'T2',
};

export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}

export function isTaskKind(value: unknown): value is TaskKind {
  return typeof value === 'string' && (TASK_KINDS as readonly string[]).includes(value);
}

export function isTierAction(value: unknown): value is TierAction {
  return typeof value === 'string' && (TIER_ACTIONS as readonly string[]).includes(value);
}

/** 0 for T0, 1 for T1, 2 for T2; -1 for anything that is not a tier. */
export function tierRank(tier: Tier): number {
  return (TIERS as readonly string[]).indexOf(tier);
}

/** True when `tier` is `min` or above. A value that is not a tier is never at least anything. */
export function tierAtLeast(tier: Tier, min: Tier): boolean {
  return isTier(tier) && isTier(min) && tierRank(tier) >= tierRank(min);
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

/**
 * Whether `tier` may perform `action`. `run-task` here means "may run side-effecting tasks";
 * T0 observers may still run the harmless kinds, see {@link canRunTaskKind}.
 */
export function canPerform(tier: Tier, action: TierAction): boolean {
  return isTierAction(action) && tierAtLeast(tier, ACTION_MIN_TIER[action]);
}

/** Throws {@link TierForbiddenError} unless `tier` may perform `action`. */
export function assertCanPerform(tier: Tier, action: TierAction): void {
  if (!canPerform(tier, action)) {
    throw new TierForbiddenError(`tier ${String(tier)} may not ${String(action)}`, {
      details: { tier, action, requiredTier: isTierAction(action) ? ACTION_MIN_TIER[action] : null },
    });
  }
}

/** Throws {@link TierForbiddenError} unless `tier` may run a task of `kind`. */
export function assertCanRunTaskKind(tier: Tier, kind: TaskKind): void {
  if (!canRunTaskKind(tier, kind)) {
    throw new TierForbiddenError(`tier ${String(tier)} may not run ${String(kind)} tasks`, {
      details: { tier, kind, requiredTier: minTierForTaskKind(kind) ?? null },
    });
  }
}

/**
 * The tier one above `tier`.
 * @param byTier when given, the tier of whoever asks; only T2 may promote ({@link TierForbiddenError} otherwise).
 * @throws InvalidTransitionError when `tier` is already T2.
 */
export function promote(tier: Tier, byTier?: Tier): Tier {
  if (byTier !== undefined) assertCanPerform(byTier, 'promote');
  const next = TIERS[tierRank(tier) + 1];
  if (!isTier(tier) || next === undefined) {
    throw new InvalidTransitionError(`cannot promote above ${HIGHEST_TIER} (tier ${String(tier)})`, {
      details: { tier, change: 'promote' },
    });
  }
  return next;
}

/**
 * The tier one below `tier`.
 * @param byTier when given, the tier of whoever asks; only T2 may demote ({@link TierForbiddenError} otherwise).
 * @throws InvalidTransitionError when `tier` is already T0.
 */
export function demote(tier: Tier, byTier?: Tier): Tier {
  if (byTier !== undefined) assertCanPerform(byTier, 'demote');
  const rank = tierRank(tier);
  const next = rank > 0 ? TIERS[rank - 1] : undefined;
  if (next === undefined) {
    throw new InvalidTransitionError(`cannot demote below ${LOWEST_TIER} (tier ${String(tier)})`, {
      details: { tier, change: 'demote' },
    });
  }
  return next;
}
