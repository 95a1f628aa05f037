import { describe, expect, it } from 'vitest';
import {
  ACTION_MIN_TIER,
  TIER_ACTIONS,
  assertCanPerform,
  canPerform,
  demote,
  promote,
} from '../../actors/agent/tiers.ts';
import type { TierAction } from '../../actors/agent/tiers.ts';
import { InvalidTransitionError, TierForbiddenError } from '../../protocols/vocabulary/errors.ts';
import type { GovError } from '../../protocols/vocabulary/errors.ts';
import { TierSchema } from '../../protocols/messages/agent.ts';
import {
  TASK_KINDS,
  TIERS,
  assertCanRunTaskKind,
  canRunTaskKind,
  isTier,
  maxTier,
  minTierForTaskKind,
  tierAtLeast,
  tierRank,
} from '../../protocols/vocabulary/tiers.ts';
import type { TaskKind, Tier } from '../../protocols/vocabulary/tiers.ts';

describe('tiers', () => {
  it('ranks T0 below T1 below T2', () => {
    expect(TIERS.map(tierRank)).toEqual([0, 1, 2]);
    expect([tierRank('T0'), tierRank('T1'), tierRank('T2')]).toEqual([0, 1, 2]);
    expect(tierAtLeast('T2', 'T1')).toBe(true);
    expect(tierAtLeast('T1', 'T1')).toBe(true);
    expect(tierAtLeast('T0', 'T1')).toBe(false);
  });

  it('picks the higher of two tiers', () => {
    expect(maxTier('T2', 'T1')).toBe('T2');
  });

  it('validates messages against the same tiers', () => {
    expect(TierSchema.options).toEqual([...TIERS]);
    expect(TierSchema.safeParse('T3').success).toBe(false);
  });

  it('recognises only T0, T1 and T2 as tiers', () => {
    expect(TIERS.every(isTier)).toBe(true);
    for (const bad of ['T3', 't1', '', null, 1, undefined]) expect(isTier(bad)).toBe(false);
    expect(tierAtLeast('T9' as Tier, 'T0')).toBe(false);
  });

  const kindTable: Array<[TaskKind, boolean, boolean, boolean]> = [
    ['noop', true, true, true],
    ['sleep', true, true, true],
    ['fail', true, true, true],
    ['exec', false, true, true],
    ['http', false, true, true],
    ['pipeline', false, true, true],
  ];
  it.each(kindTable)('lets T0/T1/T2 run %s tasks: %s/%s/%s', (kind, t0, t1, t2) => {
    expect([canRunTaskKind('T0', kind), canRunTaskKind('T1', kind), canRunTaskKind('T2', kind)]).toEqual([
      t0,
      t1,
      t2,
    ]);
  });

  it('covers every task kind in the table', () => {
    expect(kindTable.map(([k]) => k).sort()).toEqual([...TASK_KINDS].sort());
  });

  it('allows noop, sleep and fail at T0 and the acting kinds from T1', () => {
    expect(Object.fromEntries(TASK_KINDS.map((k) => [k, minTierForTaskKind(k)]))).toEqual({
      noop: 'T0',
      sleep: 'T0',
      fail: 'T0',
      exec: 'T1',
      http: 'T1',
      pipeline: 'T1',
    });
    expect(canRunTaskKind('T0', 'exec')).toBe(false);
    expect(canRunTaskKind('T2', 'exec')).toBe(true);
    expect(canRunTaskKind('T0', 'sleep')).toBe(true);
  });

  it('refuses unknown task kinds at every tier', () => {
    for (const t of TIERS) expect(canRunTaskKind(t, 'rm-rf' as TaskKind)).toBe(false);
  });

  const actionTable: Array<[TierAction, boolean, boolean, boolean]> = [
    ['watch', true, true, true],
    ['run-task', false, true, true],
    ['approve', false, false, true],
    ['control-supervisor', false, false, true],
    ['revoke-token', false, false, true],
    ['promote', false, false, true],
    ['demote', false, false, true],
    ['release', false, false, true],
  ];
  it.each(actionTable)('allows %s to T0/T1/T2 as %s/%s/%s', (action, t0, t1, t2) => {
    expect([canPerform('T0', action), canPerform('T1', action), canPerform('T2', action)]).toEqual([
      t0,
      t1,
      t2,
    ]);
  });

  it('covers every action in the table and nothing unknown is allowed', () => {
    expect(actionTable.map(([a]) => a).sort()).toEqual([...TIER_ACTIONS].sort());
    expect(Object.keys(ACTION_MIN_TIER).sort()).toEqual([...TIER_ACTIONS].sort());
    expect(canPerform('T2', 'format-disk' as TierAction)).toBe(false);
  });

  it('throws TierForbiddenError with details when an assertion fails', () => {
    expect(() => assertCanPerform('T2', 'approve')).not.toThrow();
    try {
      assertCanPerform('T1', 'approve');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TierForbiddenError);
      expect((err as GovError).code).toBe('GOV_ERR_TIER_FORBIDDEN');
      expect((err as GovError).details).toEqual({ tier: 'T1', action: 'approve', requiredTier: 'T2' });
    }
    expect(() => assertCanRunTaskKind('T0', 'exec')).toThrow(TierForbiddenError);
    expect(() => assertCanRunTaskKind('T0', 'noop')).not.toThrow();
  });

  it('promotes one step at a time up to T2', () => {
    expect(promote('T0')).toBe('T1');
    expect(promote('T1')).toBe('T2');
    expect(() => promote('T2')).toThrow(InvalidTransitionError);
  });

  it('demotes one step at a time down to T0', () => {
    expect(demote('T2')).toBe('T1');
    expect(demote('T1')).toBe('T0');
    expect(() => demote('T0')).toThrow(InvalidTransitionError);
  });

  it('lets only a T2 promote or demote when the requester is named', () => {
    expect(promote('T0', 'T2')).toBe('T1');
    expect(demote('T2', 'T2')).toBe('T1');
    expect(() => promote('T0', 'T1')).toThrow(TierForbiddenError);
    expect(() => demote('T1', 'T0')).toThrow(TierForbiddenError);
  });

  it('checks the requester before the bound', () => {
    expect(() => promote('T2', 'T1')).toThrow(TierForbiddenError);
    expect(() => demote('T0', 'T2')).toThrow(InvalidTransitionError);
  });
});
