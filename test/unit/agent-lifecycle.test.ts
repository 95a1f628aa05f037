import { describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import {
  DEFAULT_MAX_BOOTSTRAP_RETRIES,
  allowedEvents,
  canAccept,
  lifecycleMachine,
  lifecycleStates,
  restoreLifecycle,
  tierAllowsTask,
} from '../../actors/agent/lifecycle-machine.ts';
import type {
  LifecycleEvent,
  LifecycleEventType,
  LifecycleInput,
  LifecycleState,
} from '../../actors/agent/lifecycle-machine.ts';
import { DecodeError } from '../../protocols/vocabulary/errors.ts';

const ALL_EVENT_TYPES: LifecycleEventType[] = [
  'BOOTSTRAP',
  'PREFLIGHT_OK',
  'PREFLIGHT_FAILED',
  'ASSIGN_TASK',
  'TASK_DONE',
  'TASK_FAILED',
  'SUSPEND',
  'DRAIN',
  'RESUME',
  'CREDENTIALS_RENEWED',
  'QUARANTINE',
  'RELEASE',
  'PROMOTE',
  'DEMOTE',
  'TERMINATE',
  'CRASH',
];

/** A representative, permitted instance of each event (T2 for commands, a harmless task). */
const SAMPLE: Record<LifecycleEventType, LifecycleEvent> = {
  BOOTSTRAP: { type: 'BOOTSTRAP' },
  PREFLIGHT_OK: { type: 'PREFLIGHT_OK' },
  PREFLIGHT_FAILED: { type: 'PREFLIGHT_FAILED', error: { code: 'GOV_ERR_VAULT', message: 'vault down' } },
  ASSIGN_TASK: { type: 'ASSIGN_TASK', task: { id: 'task-2', kind: 'noop' } },
  TASK_DONE: { type: 'TASK_DONE', taskId: 'task-1' },
  TASK_FAILED: { type: 'TASK_FAILED', taskId: 'task-1', error: 'boom' },
  SUSPEND: { type: 'SUSPEND', reason: 'budget-exhausted' },
  DRAIN: { type: 'DRAIN', reason: 'maintenance' },
  RESUME: { type: 'RESUME' },
  CREDENTIALS_RENEWED: { type: 'CREDENTIALS_RENEWED' },
  QUARANTINE: { type: 'QUARANTINE', reason: 'exfiltration attempt', at: 1234 },
  RELEASE: { type: 'RELEASE', byTier: 'T2' },
  PROMOTE: { type: 'PROMOTE', byTier: 'T2' },
  DEMOTE: { type: 'DEMOTE', byTier: 'T2' },
  TERMINATE: { type: 'TERMINATE' },
  CRASH: { type: 'CRASH', error: 'segfault' },
};

function hooks() {
  return {
    runPreflight: vi.fn(),
    startTask: vi.fn(),
    abortTask: vi.fn(),
    reportPolicyViolation: vi.fn(),
    rejectCommand: vi.fn(),
    tierChanged: vi.fn(),
    releaseResources: vi.fn(),
  };
}

type Hooks = ReturnType<typeof hooks>;

function spawn(input: Partial<LifecycleInput> = {}, h: Hooks = hooks()) {
  const machine = lifecycleMachine.provide({
    actions: {
      runPreflight: (_, p) => h.runPreflight(p),
      startTask: (_, p) => h.startTask(p),
      abortTask: (_, p) => h.abortTask(p),
      reportPolicyViolation: (_, p) => h.reportPolicyViolation(p),
      rejectCommand: (_, p) => h.rejectCommand(p),
      tierChanged: (_, p) => h.tierChanged(p),
      releaseResources: (_, p) => h.releaseResources(p),
    },
  });
  const actor = createActor(machine, {
    input: { agentId: 'agent-1', tier: 'T1', team: 'red', role: 'coder', ...input },
  });
  actor.start();
  return { actor, hooks: h, machine };
}

const PATH: Record<LifecycleState, LifecycleEvent[]> = {
  created: [],
  bootstrapping: [{ type: 'BOOTSTRAP' }],
  idle: [{ type: 'BOOTSTRAP' }, { type: 'PREFLIGHT_OK' }],
  working: [
    { type: 'BOOTSTRAP' },
    { type: 'PREFLIGHT_OK' },
    { type: 'ASSIGN_TASK', task: { id: 'task-1', kind: 'exec' } },
  ],
  suspended: [
    { type: 'BOOTSTRAP' },
    { type: 'PREFLIGHT_OK' },
    { type: 'SUSPEND', reason: 'budget-exhausted' },
  ],
  failed: [{ type: 'BOOTSTRAP' }, { type: 'PREFLIGHT_FAILED', error: 'no credentials' }],
  quarantined: [{ type: 'BOOTSTRAP' }, { type: 'PREFLIGHT_OK' }, { type: 'QUARANTINE', reason: 'policy' }],
  terminated: [{ type: 'TERMINATE' }],
};

function inState(state: LifecycleState, input: Partial<LifecycleInput> = {}) {
  const s = spawn(input);
  for (const e of PATH[state]) s.actor.send(e);
  expect(s.actor.getSnapshot().value).toBe(state);
  return s;
}

/** Where each permitted sample event leads from each state. */
const TRANSITIONS: Record<LifecycleState, Partial<Record<LifecycleEventType, LifecycleState>>> = {
  created: {
    BOOTSTRAP: 'bootstrapping',
    QUARANTINE: 'quarantined',
    TERMINATE: 'terminated',
    PROMOTE: 'created',
    DEMOTE: 'created',
    CREDENTIALS_RENEWED: 'created',
  },
  bootstrapping: {
    PREFLIGHT_OK: 'idle',
    PREFLIGHT_FAILED: 'failed',
    CRASH: 'failed',
    QUARANTINE: 'quarantined',
    TERMINATE: 'terminated',
    PROMOTE: 'bootstrapping',
    DEMOTE: 'bootstrapping',
    CREDENTIALS_RENEWED: 'bootstrapping',
  },
  idle: {
    ASSIGN_TASK: 'working',
    SUSPEND: 'suspended',
    DRAIN: 'suspended',
    QUARANTINE: 'quarantined',
    CRASH: 'failed',
    TERMINATE: 'terminated',
    PROMOTE: 'idle',
    DEMOTE: 'idle',
    CREDENTIALS_RENEWED: 'idle',
  },
  working: {
    TASK_DONE: 'idle',
    TASK_FAILED: 'idle',
    SUSPEND: 'suspended',
    DRAIN: 'working',
    QUARANTINE: 'quarantined',
    CRASH: 'failed',
    TERMINATE: 'terminated',
    PROMOTE: 'working',
    DEMOTE: 'idle', // T1 → T0 can no longer run the exec task
    CREDENTIALS_RENEWED: 'working',
  },
  suspended: {
    RESUME: 'idle',
    SUSPEND: 'suspended',
    DRAIN: 'suspended',
    QUARANTINE: 'quarantined',
    CRASH: 'failed',
    TERMINATE: 'terminated',
    PROMOTE: 'suspended',
    DEMOTE: 'suspended',
    CREDENTIALS_RENEWED: 'suspended',
  },
  failed: {
    BOOTSTRAP: 'bootstrapping',
    QUARANTINE: 'quarantined',
    TERMINATE: 'terminated',
    PROMOTE: 'failed',
    DEMOTE: 'failed',
    CREDENTIALS_RENEWED: 'failed',
  },
  quarantined: {
    RELEASE: 'bootstrapping',
    QUARANTINE: 'quarantined',
    CRASH: 'quarantined',
    TERMINATE: 'terminated',
    PROMOTE: 'quarantined',
    DEMOTE: 'quarantined',
    CREDENTIALS_RENEWED: 'quarantined',
  },
  terminated: {},
};

describe('agent lifecycle machine', () => {
  it('starts in created with the context from its input', () => {
    const { actor } = spawn();
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('created');
    expect(snap.context).toMatchObject({
      agentId: 'agent-1',
      tier: 'T1',
      team: 'red',
      role: 'coder',
      currentTask: null,
      restarts: 0,
      maxRestarts: DEFAULT_MAX_BOOTSTRAP_RETRIES,
      lastError: null,
      violations: [],
    });
  });

  it('defaults to least privilege when no tier is given', () => {
    const actor = createActor(lifecycleMachine, { input: { agentId: 'x' } }).start();
    expect(actor.getSnapshot().context.tier).toBe('T0');
  });

  it('lists the eight states', () => {
    expect([...lifecycleStates]).toEqual([
      'created',
      'bootstrapping',
      'idle',
      'working',
      'suspended',
      'failed',
      'quarantined',
      'terminated',
    ]);
  });

  it('allows exactly the events of the transition table in each state', () => {
    for (const state of lifecycleStates) {
      expect(allowedEvents(state), state).toEqual(Object.keys(TRANSITIONS[state]).sort());
    }
    expect(allowedEvents('nonsense')).toEqual([]);
  });

  describe('each transition, one by one', () => {
    for (const state of lifecycleStates) {
      for (const [type, target] of Object.entries(TRANSITIONS[state])) {
        it(`goes from ${state} to ${target} on ${type}`, () => {
          const { actor } = inState(state);
          actor.send(SAMPLE[type as LifecycleEventType]);
          expect(actor.getSnapshot().value).toBe(target);
        });
      }
    }
  });

  describe('every forbidden transition is ignored', () => {
    for (const state of lifecycleStates) {
      const forbidden = ALL_EVENT_TYPES.filter((t) => !(t in TRANSITIONS[state]));
      for (const type of forbidden) {
        it(`ignores ${type} in ${state}, state and context unchanged`, () => {
          const { actor, hooks: h } = inState(state);
          const before = actor.getSnapshot();
          vi.clearAllMocks();
          expect(canAccept(before, SAMPLE[type])).toBe(false);
          // A terminated actor is stopped; XState would only warn about the send.
          if (state !== 'terminated') actor.send(SAMPLE[type]);
          const after = actor.getSnapshot();
          expect(after.value).toBe(state);
          expect(after.context).toEqual(before.context);
          for (const fn of Object.values(h)) expect(fn).not.toHaveBeenCalled();
        });
      }
    }
  });

  it('runs the preflight hook on entering bootstrapping', () => {
    const { actor, hooks: h } = spawn();
    actor.send({ type: 'BOOTSTRAP' });
    expect(h.runPreflight).toHaveBeenCalledWith({ agentId: 'agent-1', tier: 'T1', attempt: 0 });
  });

  it('records the preflight error and retries bootstrap up to maxRestarts', () => {
    const { actor, hooks: h } = inState('failed', { maxRestarts: 2 });
    expect(actor.getSnapshot().context.lastError).toEqual({ code: null, message: 'no credentials' });
    actor.send({ type: 'BOOTSTRAP' });
    expect(actor.getSnapshot().value).toBe('bootstrapping');
    expect(actor.getSnapshot().context.restarts).toBe(1);
    expect(h.runPreflight).toHaveBeenLastCalledWith({ agentId: 'agent-1', tier: 'T1', attempt: 1 });
    actor.send({ type: 'CRASH', error: { code: 'GOV_ERR_ACTOR_CRASHED', message: 'died' } });
    expect(actor.getSnapshot().context.lastError).toEqual({ code: 'GOV_ERR_ACTOR_CRASHED', message: 'died' });
    actor.send({ type: 'BOOTSTRAP' });
    actor.send({ type: 'PREFLIGHT_FAILED' });
    expect(actor.getSnapshot().context.restarts).toBe(2);
    expect(canAccept(actor.getSnapshot(), { type: 'BOOTSTRAP' })).toBe(false);
    actor.send({ type: 'BOOTSTRAP' });
    expect(actor.getSnapshot().value).toBe('failed');
    expect(actor.getSnapshot().context.restarts).toBe(2);
  });

  it('clears the last error after a successful preflight', () => {
    const { actor } = inState('failed');
    actor.send({ type: 'BOOTSTRAP' });
    actor.send({ type: 'PREFLIGHT_OK' });
    expect(actor.getSnapshot().context.lastError).toBeNull();
    expect(actor.getSnapshot().context.credentialsValid).toBe(true);
  });

  it('starts an accepted task and clears it when done', () => {
    const { actor, hooks: h } = inState('idle');
    actor.send({ type: 'ASSIGN_TASK', task: { id: 't1', kind: 'http' } });
    expect(actor.getSnapshot().value).toBe('working');
    expect(actor.getSnapshot().context.currentTask).toEqual({ id: 't1', kind: 'http' });
    expect(h.startTask).toHaveBeenCalledWith({ agentId: 'agent-1', task: { id: 't1', kind: 'http' } });
    actor.send({ type: 'TASK_DONE', taskId: 't1' });
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context.currentTask).toBeNull();
  });

  it('records a failed task error and returns to idle', () => {
    const { actor } = inState('working');
    actor.send({
      type: 'TASK_FAILED',
      taskId: 'task-1',
      error: { code: 'GOV_ERR_TIMEOUT', message: 'slow' },
    });
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context.lastError).toEqual({ code: 'GOV_ERR_TIMEOUT', message: 'slow' });
    expect(actor.getSnapshot().context.currentTask).toBeNull();
  });

  it('drains a working agent: its task is not aborted, it takes no new one, and when the task ends it is suspended with the drain reason, not idle', () => {
    for (const end of [
      { type: 'TASK_DONE', taskId: 'task-1' },
      { type: 'TASK_FAILED', taskId: 'task-1', error: 'boom' },
    ] as const) {
      const { actor, hooks: h } = inState('working');
      actor.send({ type: 'DRAIN', reason: 'drain by client-alice' });
      expect(actor.getSnapshot().value).toBe('working');
      expect(h.abortTask).not.toHaveBeenCalled();
      actor.send({ type: 'ASSIGN_TASK', task: { id: 'task-2', kind: 'noop' } });
      expect(actor.getSnapshot().context.currentTask?.id).toBe('task-1');
      actor.send(end);
      expect(actor.getSnapshot().value).toBe('suspended');
      expect(actor.getSnapshot().context).toMatchObject({
        suspendReason: 'drain by client-alice',
        drainReason: null,
        currentTask: null,
      });
      // Resumed, it works again, and a later task ends idle (the drain is not remembered).
      actor.send({ type: 'RESUME' });
      actor.send({ type: 'ASSIGN_TASK', task: { id: 'task-3', kind: 'noop' } });
      actor.send({ type: 'TASK_DONE', taskId: 'task-3' });
      expect(actor.getSnapshot().value).toBe('idle');
    }
  });

  it('drains an idle agent at once, and a drain survives a persisted snapshot taken mid-task', () => {
    const idle = inState('idle');
    idle.actor.send({ type: 'DRAIN', reason: 'drain' });
    expect(idle.actor.getSnapshot()).toMatchObject({
      value: 'suspended',
      context: { suspendReason: 'drain' },
    });
    const { actor } = inState('working');
    actor.send({ type: 'DRAIN', reason: 'rolling restart' });
    const restored = restoreLifecycle(JSON.stringify(actor.getPersistedSnapshot())).start();
    restored.send({ type: 'TASK_DONE', taskId: 'task-1' });
    expect(restored.getSnapshot()).toMatchObject({
      value: 'suspended',
      context: { suspendReason: 'rolling restart' },
    });
  });

  it('ignores a second task while working', () => {
    const { actor, hooks: h } = inState('working');
    vi.clearAllMocks();
    actor.send({ type: 'ASSIGN_TASK', task: { id: 'other', kind: 'noop' } });
    expect(actor.getSnapshot().context.currentTask?.id).toBe('task-1');
    expect(h.startTask).not.toHaveBeenCalled();
  });

  describe('tier guards on tasks', () => {
    it('refuses a side-effecting task to a T0 observer, stays idle and reports the violation', () => {
      const { actor, hooks: h } = inState('idle', { tier: 'T0' });
      actor.send({ type: 'ASSIGN_TASK', task: { id: 'x1', kind: 'exec' }, at: 42 });
      const snap = actor.getSnapshot();
      expect(snap.value).toBe('idle');
      expect(snap.context.currentTask).toBeNull();
      expect(h.startTask).not.toHaveBeenCalled();
      const violation = {
        kind: 'task-tier',
        agentId: 'agent-1',
        tier: 'T0',
        reason: 'task x1 of kind exec needs T1, agent is T0',
        taskId: 'x1',
        taskKind: 'exec',
        requiredTier: 'T1',
        at: 42,
      };
      expect(h.reportPolicyViolation).toHaveBeenCalledExactlyOnceWith(violation);
      expect(snap.context.violations).toEqual([violation]);
    });

    it('lets a T0 observer run harmless tasks', () => {
      for (const kind of ['noop', 'sleep', 'fail'] as const) {
        const { actor } = inState('idle', { tier: 'T0' });
        actor.send({ type: 'ASSIGN_TASK', task: { id: kind, kind } });
        expect(actor.getSnapshot().value).toBe('working');
      }
    });

    it('honours a task requiredTier stricter than its kind', () => {
      const { actor, hooks: h } = inState('idle', { tier: 'T1' });
      actor.send({ type: 'ASSIGN_TASK', task: { id: 'p', kind: 'noop', requiredTier: 'T2' } });
      expect(actor.getSnapshot().value).toBe('idle');
      expect(h.reportPolicyViolation).toHaveBeenCalledWith(
        expect.objectContaining({ requiredTier: 'T2', taskId: 'p' }),
      );
    });

    it('never lets a lenient requiredTier lower the kind minimum', () => {
      expect(tierAllowsTask('T0', { id: 'e', kind: 'exec', requiredTier: 'T0' })).toBe(false);
      expect(tierAllowsTask('T2', { id: 'e', kind: 'exec', requiredTier: 'T1' })).toBe(true);
    });

    it('refuses unknown task kinds', () => {
      const { actor, hooks: h } = inState('idle', { tier: 'T2' });
      actor.send({ type: 'ASSIGN_TASK', task: { id: 'u', kind: 'shell' as 'exec' } });
      expect(actor.getSnapshot().value).toBe('idle');
      expect(h.reportPolicyViolation).toHaveBeenCalledWith(expect.objectContaining({ requiredTier: null }));
    });

    it('keeps only the newest violations up to the limit', () => {
      const { actor } = inState('idle', { tier: 'T0', violationLimit: 2 });
      for (const id of ['a', 'b', 'c']) actor.send({ type: 'ASSIGN_TASK', task: { id, kind: 'exec' } });
      expect(actor.getSnapshot().context.violations.map((v) => v.taskId)).toEqual(['b', 'c']);
    });
  });

  describe('suspension', () => {
    it('aborts the running task when suspended', () => {
      const { actor, hooks: h } = inState('working');
      actor.send({ type: 'SUSPEND', reason: 'budget-exhausted' });
      expect(actor.getSnapshot().context).toMatchObject({
        currentTask: null,
        suspendReason: 'budget-exhausted',
      });
      expect(h.abortTask).toHaveBeenCalledWith({
        agentId: 'agent-1',
        task: { id: 'task-1', kind: 'exec' },
        reason: 'suspended',
      });
    });

    it('resumes after a budget suspension while credentials stay valid', () => {
      const { actor } = inState('suspended');
      actor.send({ type: 'RESUME' });
      expect(actor.getSnapshot().value).toBe('idle');
      expect(actor.getSnapshot().context.suspendReason).toBeNull();
    });

    it('refuses to resume after credentials were revoked until they are renewed', () => {
      const { actor, hooks: h } = inState('idle');
      actor.send({ type: 'SUSPEND', reason: 'credentials-revoked' });
      expect(actor.getSnapshot().context.credentialsValid).toBe(false);
      actor.send({ type: 'RESUME' });
      expect(actor.getSnapshot().value).toBe('suspended');
      expect(h.rejectCommand).toHaveBeenCalledWith(
        expect.objectContaining({ command: 'RESUME', reason: 'credentials-invalid' }),
      );
      actor.send({ type: 'CREDENTIALS_RENEWED' });
      actor.send({ type: 'RESUME' });
      expect(actor.getSnapshot().value).toBe('idle');
    });

    it('remembers a revocation that arrives while already suspended', () => {
      const { actor } = inState('suspended');
      actor.send({ type: 'SUSPEND', reason: 'credentials-revoked' });
      actor.send({ type: 'RESUME' });
      expect(actor.getSnapshot().value).toBe('suspended');
      expect(actor.getSnapshot().context.suspendReason).toBe('credentials-revoked');
    });
  });

  describe('quarantine', () => {
    it('records and reports the violation, aborting the running task', () => {
      const { actor, hooks: h } = inState('working');
      actor.send({ type: 'QUARANTINE', reason: 'wrote outside sandbox', at: 99 });
      const snap = actor.getSnapshot();
      expect(snap.value).toBe('quarantined');
      expect(snap.context.quarantineReason).toBe('wrote outside sandbox');
      const v = {
        kind: 'policy',
        agentId: 'agent-1',
        tier: 'T1',
        reason: 'wrote outside sandbox',
        taskId: 'task-1',
        taskKind: 'exec',
        requiredTier: null,
        at: 99,
      };
      expect(snap.context.violations).toEqual([v]);
      expect(h.reportPolicyViolation).toHaveBeenCalledExactlyOnceWith(v);
      expect(h.abortTask).toHaveBeenCalledWith(expect.objectContaining({ reason: 'quarantined' }));
      expect(snap.context.currentTask).toBeNull();
    });

    it('is left only by a RELEASE from a T2, back to bootstrapping', () => {
      const { actor, hooks: h } = inState('quarantined');
      for (const byTier of ['T0', 'T1'] as const) {
        actor.send({ type: 'RELEASE', byTier });
        expect(actor.getSnapshot().value).toBe('quarantined');
        expect(h.rejectCommand).toHaveBeenLastCalledWith({
          command: 'RELEASE',
          reason: 'tier-forbidden',
          agentId: 'agent-1',
          tier: 'T1',
          byTier,
        });
      }
      for (const e of [SAMPLE.RESUME, SAMPLE.BOOTSTRAP, SAMPLE.PREFLIGHT_OK, SAMPLE.ASSIGN_TASK])
        actor.send(e);
      expect(actor.getSnapshot().value).toBe('quarantined');
      h.runPreflight.mockClear();
      actor.send({ type: 'RELEASE', byTier: 'T2' });
      expect(actor.getSnapshot().value).toBe('bootstrapping');
      expect(actor.getSnapshot().context.quarantineReason).toBeNull();
      expect(h.runPreflight).toHaveBeenCalledOnce();
    });

    it('keeps a crash inside quarantine but records the error', () => {
      const { actor } = inState('quarantined');
      actor.send({ type: 'CRASH', error: 'oom' });
      expect(actor.getSnapshot().value).toBe('quarantined');
      expect(actor.getSnapshot().context.lastError).toEqual({ code: null, message: 'oom' });
    });
  });

  describe('promotion and demotion', () => {
    it('promotes and demotes one step when a T2 asks, reporting the change', () => {
      const { actor, hooks: h } = inState('idle', { tier: 'T0' });
      actor.send({ type: 'PROMOTE', byTier: 'T2' });
      expect(actor.getSnapshot().context.tier).toBe('T1');
      expect(h.tierChanged).toHaveBeenLastCalledWith({
        agentId: 'agent-1',
        from: 'T0',
        to: 'T1',
        byTier: 'T2',
      });
      actor.send({ type: 'PROMOTE', byTier: 'T2' });
      expect(actor.getSnapshot().context.tier).toBe('T2');
      actor.send({ type: 'DEMOTE', byTier: 'T2' });
      expect(actor.getSnapshot().context.tier).toBe('T1');
      expect(h.tierChanged).toHaveBeenLastCalledWith({
        agentId: 'agent-1',
        from: 'T2',
        to: 'T1',
        byTier: 'T2',
      });
    });

    it('refuses promotion or demotion asked by T0 or T1', () => {
      const { actor, hooks: h } = inState('idle', { tier: 'T1' });
      for (const byTier of ['T0', 'T1'] as const) {
        for (const type of ['PROMOTE', 'DEMOTE'] as const) {
          actor.send({ type, byTier });
          expect(actor.getSnapshot().context.tier).toBe('T1');
          expect(h.rejectCommand).toHaveBeenLastCalledWith({
            command: type,
            reason: 'tier-forbidden',
            agentId: 'agent-1',
            tier: 'T1',
            byTier,
          });
        }
      }
      expect(h.tierChanged).not.toHaveBeenCalled();
    });

    it('refuses to promote above T2 or demote below T0', () => {
      const top = inState('idle', { tier: 'T2' });
      top.actor.send({ type: 'PROMOTE', byTier: 'T2' });
      expect(top.actor.getSnapshot().context.tier).toBe('T2');
      expect(top.hooks.rejectCommand).toHaveBeenCalledWith(expect.objectContaining({ reason: 'tier-bound' }));
      const bottom = inState('idle', { tier: 'T0' });
      bottom.actor.send({ type: 'DEMOTE', byTier: 'T2' });
      expect(bottom.actor.getSnapshot().context.tier).toBe('T0');
      expect(bottom.hooks.rejectCommand).toHaveBeenCalledWith(
        expect.objectContaining({ reason: 'tier-bound' }),
      );
    });

    it('aborts the current task when a demotion makes it forbidden', () => {
      const { actor, hooks: h } = inState('working'); // T1 running exec
      actor.send({ type: 'DEMOTE', byTier: 'T2' });
      const snap = actor.getSnapshot();
      expect(snap.value).toBe('idle');
      expect(snap.context.tier).toBe('T0');
      expect(snap.context.currentTask).toBeNull();
      expect(h.abortTask).toHaveBeenCalledWith({
        agentId: 'agent-1',
        task: { id: 'task-1', kind: 'exec' },
        reason: 'demoted',
      });
      expect(h.tierChanged).toHaveBeenCalledWith({ agentId: 'agent-1', from: 'T1', to: 'T0', byTier: 'T2' });
    });

    it('keeps working when the demoted tier may still run the task', () => {
      const { actor, hooks: h } = inState('idle', { tier: 'T2' });
      actor.send({ type: 'ASSIGN_TASK', task: { id: 'e', kind: 'exec' } });
      actor.send({ type: 'DEMOTE', byTier: 'T2' });
      expect(actor.getSnapshot().value).toBe('working');
      expect(actor.getSnapshot().context.tier).toBe('T1');
      expect(h.abortTask).not.toHaveBeenCalled();
    });

    it('ignores a demotion asked by a non-admin while working', () => {
      const { actor } = inState('working');
      actor.send({ type: 'DEMOTE', byTier: 'T1' });
      expect(actor.getSnapshot().value).toBe('working');
      expect(actor.getSnapshot().context.tier).toBe('T1');
    });
  });

  describe('termination', () => {
    it('is final and releases resources', () => {
      const { actor, hooks: h } = inState('idle');
      actor.send({ type: 'TERMINATE' });
      expect(actor.getSnapshot().status).toBe('done');
      expect(h.releaseResources).toHaveBeenCalledWith({ agentId: 'agent-1' });
    });

    it('aborts the running task', () => {
      const { actor, hooks: h } = inState('working');
      actor.send({ type: 'TERMINATE' });
      expect(h.abortTask).toHaveBeenCalledWith(expect.objectContaining({ reason: 'terminated' }));
    });

    it('can be reached from every live state', () => {
      for (const state of lifecycleStates) {
        if (state === 'terminated') continue;
        const { actor } = inState(state);
        actor.send({ type: 'TERMINATE' });
        expect(actor.getSnapshot().value).toBe('terminated');
      }
    });
  });

  describe('persistence', () => {
    it.each(['working', 'suspended', 'quarantined'] as const)(
      'resumes in %s with context intact after a JSON round trip',
      (state) => {
        const { actor } = inState(state);
        actor.send({ type: 'PROMOTE', byTier: 'T2' });
        const json = JSON.stringify(actor.getPersistedSnapshot());
        actor.stop();
        const restored = restoreLifecycle(JSON.parse(json)).start();
        expect(restored.getSnapshot().value).toBe(state);
        expect(restored.getSnapshot().context).toEqual(actor.getSnapshot().context);
        expect(restored.getSnapshot().context.tier).toBe('T2');
      },
    );

    it('accepts the JSON text itself and keeps obeying the machine rules', () => {
      const { actor } = inState('working');
      const restored = restoreLifecycle(JSON.stringify(actor.getPersistedSnapshot())).start();
      expect(restored.getSnapshot().context.currentTask).toEqual({ id: 'task-1', kind: 'exec' });
      restored.send({ type: 'RESUME' }); // forbidden in working
      expect(restored.getSnapshot().value).toBe('working');
      restored.send({ type: 'TASK_DONE' });
      expect(restored.getSnapshot().value).toBe('idle');
    });

    it('keeps a restored quarantine closed to everyone but a T2', () => {
      const { actor } = inState('quarantined');
      const restored = restoreLifecycle(JSON.stringify(actor.getPersistedSnapshot())).start();
      restored.send({ type: 'RELEASE', byTier: 'T1' });
      expect(restored.getSnapshot().value).toBe('quarantined');
      restored.send({ type: 'RELEASE', byTier: 'T2' });
      expect(restored.getSnapshot().value).toBe('bootstrapping');
    });

    it('wires hooks when given a provided machine and does not re-run entry hooks', () => {
      const { actor } = inState('suspended');
      const h = hooks();
      const { machine } = spawn({}, h);
      const restored = restoreLifecycle(actor.getPersistedSnapshot(), machine).start();
      expect(h.runPreflight).not.toHaveBeenCalled();
      restored.send({ type: 'QUARANTINE', reason: 'r' });
      expect(h.reportPolicyViolation).toHaveBeenCalledOnce();
    });

    it('restores a terminated agent as done', () => {
      const { actor } = inState('terminated');
      const restored = restoreLifecycle(JSON.stringify(actor.getPersistedSnapshot())).start();
      expect(restored.getSnapshot().status).toBe('done');
    });

    it('rejects input that is not a persisted lifecycle snapshot', () => {
      expect(() => restoreLifecycle('{not json')).toThrow(DecodeError);
      expect(() => restoreLifecycle(null)).toThrow(DecodeError);
      expect(() => restoreLifecycle({ value: 'flying', context: { agentId: 'a', tier: 'T1' } })).toThrow(
        DecodeError,
      );
      expect(() => restoreLifecycle({ value: 'idle', context: { agentId: 'a', tier: 'T7' } })).toThrow(
        DecodeError,
      );
    });
  });
});
