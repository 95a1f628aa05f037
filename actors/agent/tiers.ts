/**
 * What each tier may do besides running tasks: the governed actions, and promotion / demotion.
 * Tiers themselves and the task kinds each may run are defined once in protocols/vocabulary/tiers.ts.
 *
 * | tier | role     | may                                                                              |
 * | ---- | -------- | -------------------------------------------------------------------------------- |
 * | T0   | observer | read-only: watch, and run tasks without side effects (`noop`, `sleep`, `fail`)   |
 * | T1   | executor | everything T0 may, plus side-effecting tasks (`exec`, `http`, `pipeline`)        |
 * | T2   | admin    | everything T1 may, plus approve, control supervisors, revoke tokens, promote,    |
 * |      |          | demote and release quarantined agents                                            |
 *
 * Unknown actions are denied (deny by default).
 */
import { InvalidTransitionError, TierForbiddenError } from '../../protocols/index.ts';
import {
  HIGHEST_TIER,
  isTier,
  LOWEST_TIER,
  TIERS,
  type Tier,
  tierAtLeast,
  tierRank,
} from '../../protocols/index.ts';

/** Governed actions. `run-task` is the permission to run any task at all (kinds are checked by `canRunTaskKind`, protocols/vocabulary/tiers.ts). */
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

export function isTierAction(value: unknown): value is TierAction {
  return typeof value === 'string' && (TIER_ACTIONS as readonly string[]).includes(value);
}

/**
 * Whether `tier` may perform `action`. `run-task` here means "may run side-effecting tasks";
 * T0 observers may still run the harmless kinds, see `canRunTaskKind` in protocols/vocabulary/tiers.ts.
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
