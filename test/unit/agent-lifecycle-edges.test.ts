/**
 * The lifecycle machine at its edges (docs/agents.md): defaults, errors reported without a message,
 * tasks of unknown kinds or tiers, the violation history bound, and refusing anything that is not a
 * persisted lifecycle snapshot with a DecodeError that says why.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  isLifecycleState,
  lifecycleMachine,
  requiredTierForTask,
  restoreLifecycle,
  tierAllowsTask,
} from '../../actors/agent/lifecycle-machine.ts';
import type { LifecycleEvent, LifecycleTask } from '../../actors/agent/lifecycle-machine.ts';
import { DecodeError } from '../../protocols/vocabulary/errors.ts';

function agent(events: LifecycleEvent[], input: { tier?: 'T0' | 'T1' | 'T2'; violationLimit?: number } = {}) {
  const a = createActor(lifecycleMachine, { input: { agentId: 'a1', ...input } }).start();
  for (const e of events) a.send(e);
  return a;
}

function decodeError(input: unknown): InstanceType<typeof DecodeError> {
  try {
    restoreLifecycle(input);
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return err as InstanceType<typeof DecodeError>;
  }
  throw new Error('restored');
}

describe('lifecycle defaults', () => {
  it('an agent given only its id is T0, team default, role agent, without valid credentials', () => {
    expect(agent([]).getSnapshot().context).toMatchObject({
      tier: 'T0',
      team: 'default',
      role: 'agent',
      credentialsValid: false,
      suspendReason: null,
      quarantineReason: null,
      maxRestarts: 3,
      violationLimit: 100,
    });
  });

  it('errors reported without a message are recorded with the fallback text and no code', () => {
    const failed = agent([{ type: 'BOOTSTRAP' }, { type: 'PREFLIGHT_FAILED' }]);
    expect(failed.getSnapshot().context.lastError).toEqual({ code: null, message: 'preflight failed' });
    const crashed = agent([{ type: 'BOOTSTRAP' }, { type: 'CRASH' }]);
    expect(crashed.getSnapshot().context.lastError).toEqual({ code: null, message: 'crashed' });
    const taskFailed = agent(
      [
        { type: 'BOOTSTRAP' },
        { type: 'PREFLIGHT_OK' },
        { type: 'ASSIGN_TASK', task: { id: 't', kind: 'noop' } },
        { type: 'TASK_FAILED' },
      ],
      { tier: 'T1' },
    );
    expect(taskFailed.getSnapshot().context.lastError).toEqual({ code: null, message: 'task failed' });
    const coded = agent([{ type: 'BOOTSTRAP' }, { type: 'PREFLIGHT_FAILED', error: { message: 'm' } }]);
    expect(coded.getSnapshot().context.lastError).toEqual({ code: null, message: 'm' });
  });
});

describe('tasks of unknown kinds or tiers', () => {
  const unknownKind = { id: 'u', kind: 'shell' } as unknown as LifecycleTask;
  const badTier = { id: 'b', kind: 'noop', requiredTier: 'T9' } as unknown as LifecycleTask;

  it('need no known tier, so no agent may take them', () => {
    expect(requiredTierForTask(unknownKind)).toBeUndefined();
    expect(requiredTierForTask(badTier)).toBeUndefined();
    expect(requiredTierForTask({ id: 'n', kind: 'noop' })).toBe('T0');
    expect(requiredTierForTask({ id: 'n', kind: 'noop', requiredTier: 'T1' })).toBe('T1');
    for (const tier of ['T0', 'T1', 'T2'] as const) {
      expect(tierAllowsTask(tier, unknownKind), tier).toBe(false);
      expect(tierAllowsTask(tier, badTier), tier).toBe(false);
    }
  });

  it('are refused with a violation that says the kind or tier is unknown', () => {
    const a = agent(
      [
        { type: 'BOOTSTRAP' },
        { type: 'PREFLIGHT_OK' },
        { type: 'ASSIGN_TASK', task: { id: 'k', kind: 42 } as unknown as LifecycleTask },
      ],
      { tier: 'T2' },
    );
    expect(a.getSnapshot().value).toBe('idle');
    expect(a.getSnapshot().context.violations).toEqual([
      {
        kind: 'task-tier',
        agentId: 'a1',
        tier: 'T2',
        reason: 'task k: unknown kind or tier',
        taskId: 'k',
        taskKind: null,
        requiredTier: null,
        at: null,
      },
    ]);
  });

  it('keeps exactly the limit of violations once reached', () => {
    const exec = (id: string): LifecycleEvent => ({ type: 'ASSIGN_TASK', task: { id, kind: 'exec' } });
    const a = agent([{ type: 'BOOTSTRAP' }, { type: 'PREFLIGHT_OK' }, exec('x'), exec('y')], {
      violationLimit: 2,
    });
    expect(a.getSnapshot().context.violations.map((v) => v.taskId)).toEqual(['x', 'y']);
  });
});

describe('restoring a persisted snapshot', () => {
  it('names what is wrong with the input', () => {
    const notJson = decodeError('{nope');
    expect(notJson.message).toBe('persisted lifecycle snapshot is not JSON');
    expect(notJson.cause).toBeInstanceOf(SyntaxError);
    expect(decodeError(5).message).toBe('persisted lifecycle snapshot is not an object');
    expect(decodeError('7').message).toBe('persisted lifecycle snapshot is not an object');
    const unknown = decodeError({ value: 'flying', context: { agentId: 'a', tier: 'T1' } });
    expect(unknown.message).toBe('persisted lifecycle snapshot has an unknown state');
    expect(unknown.details).toEqual({ value: 'flying' });
    const noContext = decodeError({ value: 'idle' });
    expect(noContext.message).toBe('persisted lifecycle snapshot has no valid context');
    expect(noContext.details).toEqual({ value: 'idle' });
    expect(decodeError({ value: 'idle', context: { agentId: 7, tier: 'T1' } }).message).toBe(
      'persisted lifecycle snapshot has no valid context',
    );
  });

  it('restores a live state as active whatever status was stored, and keeps the agent id', () => {
    const a = agent([{ type: 'BOOTSTRAP' }, { type: 'PREFLIGHT_OK' }]);
    const stored = { ...a.getPersistedSnapshot(), status: 'done' };
    const restored = restoreLifecycle(stored).start();
    expect(restored.getSnapshot().status).toBe('active');
    expect(restored.getSnapshot().context.agentId).toBe('a1');
    restored.send({ type: 'SUSPEND', reason: 'budget-exhausted' });
    expect(restored.getSnapshot().value).toBe('suspended');
  });

  it('knows its states by name only', () => {
    expect(isLifecycleState('idle')).toBe(true);
    expect(isLifecycleState('nope')).toBe(false);
    expect(isLifecycleState(3)).toBe(false);
    expect(isLifecycleState(null)).toBe(false);
  });
});
