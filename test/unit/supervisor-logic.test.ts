import { describe, expect, it } from 'vitest';
import { childSpec, supervisorSpec, validateSupervisorSpec } from '../../supervisors/child-spec.ts';
import type { ChildSpec, SupervisorSpec } from '../../supervisors/child-spec.ts';
import type { RestartType, Strategy } from '../../supervisors/supervisor-options.ts';
import {
  backoffDelayMs,
  countChildren,
  deleteChild,
  initSupervisor,
  isNormalExit,
  onChildExit,
  onChildStartFailed,
  onChildStarted,
  onRestartDue,
  restartChild,
  startChild,
  stopSupervisor,
  terminateChild,
  whichChildren,
} from '../../supervisors/supervisor-logic.ts';
import type {
  ChildExitReason,
  SupervisorCommand,
  SupervisorState,
  SupervisorStep,
} from '../../supervisors/supervisor-logic.ts';
import {
  DEFAULT_INTENSITY,
  DEFAULT_PERIOD_MS,
  DEFAULT_STRATEGY,
  DEFAULT_SUPERVISOR_SHUTDOWN,
  DEFAULT_WORKER_SHUTDOWN_MS,
} from '../../supervisors/supervisor-options.ts';
import { ConfigError, InvalidTransitionError, NotFoundError } from '../../protocols/vocabulary/errors.ts';
import type { GovError } from '../../protocols/vocabulary/errors.ts';

function worker(
  id: string,
  restart: RestartType = 'permanent',
  shutdownMs: ChildSpec['shutdownMs'] = 1000,
): ChildSpec {
  return { id, start: { kind: 'actor', actorKind: 'echo', actorId: id }, restart, shutdownMs };
}

function spec(
  strategy: Strategy,
  children: ChildSpec[],
  extra: Partial<SupervisorSpec> = {},
): SupervisorSpec {
  return { id: 'sup', strategy, intensity: 10, periodMs: 60_000, children, ...extra };
}

/** Commands as short strings: "start a", "stop b", "schedule b 100", "escalate reached_max_restart_intensity". */
function brief(commands: SupervisorCommand[]): string[] {
  return commands.map((c): string => {
    if (c.type === 'start') return `start ${c.childId}`;
    if (c.type === 'stop') return `stop ${c.childId}`;
    if (c.type === 'schedule-restart') return `schedule ${c.childId} ${c.delayMs}`;
    return `escalate ${c.cause}`;
  });
}

/**
 * Plays the runtime: carries out the commands in order, reporting each start as started
 * (or failed, for ids in `failing`), until nothing is left. Returns every command issued.
 */
function settle(
  step: SupervisorStep,
  now: number,
  failing: Set<string> = new Set(),
): { state: SupervisorState; log: string[] } {
  let state = step.state;
  const queue = [...step.commands];
  const log: string[] = [];
  while (queue.length > 0) {
    const cmd = queue.shift()!;
    log.push(...brief([cmd]));
    if (cmd.type !== 'start') continue;
    const next = failing.has(cmd.childId)
      ? onChildStartFailed(state, cmd.childId, 'cannot start', now)
      : onChildStarted(state, cmd.childId, now);
    state = next.state;
    queue.push(...next.commands);
  }
  return { state, log };
}

function boot(s: SupervisorSpec, now = 0): SupervisorState {
  const { state, log } = settle(initSupervisor(s, now), now);
  expect(log).toEqual(s.children.map((c) => `start ${c.id}`));
  expect(state.phase).toBe('running');
  return state;
}

function exit(
  state: SupervisorState,
  childId: string,
  reason: ChildExitReason,
  now: number,
  failing?: Set<string>,
) {
  return settle(onChildExit(state, { childId, reason }, now), now, failing);
}

function statuses(state: SupervisorState): Record<string, string> {
  return Object.fromEntries(whichChildren(state).map((c) => [c.id, c.status]));
}

describe('supervisor logic', () => {
  describe('starting', () => {
    it('starts children one at a time in list order', () => {
      const step = initSupervisor(spec('one_for_one', [worker('a'), worker('b'), worker('c')]), 0);
      expect(brief(step.commands)).toEqual(['start a']);
      expect(step.state.phase).toBe('starting');
      const s1 = onChildStarted(step.state, 'a', 0);
      expect(brief(s1.commands)).toEqual(['start b']);
      const s2 = onChildStarted(s1.state, 'b', 0);
      expect(brief(s2.commands)).toEqual(['start c']);
      const s3 = onChildStarted(s2.state, 'c', 0);
      expect(s3.commands).toEqual([]);
      expect(s3.state.phase).toBe('running');
      expect(statuses(s3.state)).toEqual({ a: 'running', b: 'running', c: 'running' });
    });

    it('puts the start descriptor in the start command', () => {
      const step = initSupervisor(spec('one_for_one', [worker('a')]), 0);
      expect(step.commands).toEqual([
        { type: 'start', childId: 'a', start: { kind: 'actor', actorKind: 'echo', actorId: 'a' } },
      ]);
    });

    it('is running at once with no children', () => {
      const step = initSupervisor(spec('one_for_one', []), 0);
      expect(step.commands).toEqual([]);
      expect(step.state.phase).toBe('running');
    });

    it('stops the started children in reverse order and escalates when a child fails to start', () => {
      const s = spec('one_for_one', [worker('a'), worker('b'), worker('c'), worker('d')]);
      const { state, log } = settle(initSupervisor(s, 0), 0, new Set(['c']));
      expect(log).toEqual([
        'start a',
        'start b',
        'start c',
        'stop b',
        'stop a',
        'escalate failed_to_start_child',
      ]);
      expect(state.phase).toBe('terminated');
      expect(state.escalation).toEqual({
        type: 'escalate',
        reason: { shutdown: 'failed_to_start_child' },
        cause: 'failed_to_start_child',
        childId: 'c',
        error: 'cannot start',
      });
    });

    it('rejects an invalid spec with ConfigError', () => {
      expect(() => initSupervisor(spec('one_for_one', [worker('a'), worker('a')]), 0)).toThrow(ConfigError);
      expect(() => initSupervisor(spec('one_for_one', [], { intensity: -1 }), 0)).toThrow(ConfigError);
      expect(() => initSupervisor(spec('one_for_one', [], { periodMs: 0 }), 0)).toThrow(ConfigError);
      expect(() => initSupervisor(spec('simple_one_for_one' as Strategy, []), 0)).toThrow(ConfigError);
      expect(() => initSupervisor(spec('one_for_one', [worker('a', 'permanent', -5)]), 0)).toThrow(
        ConfigError,
      );
      expect(() => initSupervisor(spec('one_for_one', [worker('a', 'sometimes' as RestartType)]), 0)).toThrow(
        ConfigError,
      );
      expect(() =>
        initSupervisor(spec('one_for_one', [], { backoff: { initialMs: 100, maxMs: 50, factor: 2 } }), 0),
      ).toThrow(ConfigError);
    });

    it('accepts a nice value from 0 to 19 on a process child and rejects anything else', () => {
      const withNice = (nice: unknown, kind: 'process' | 'actor' = 'process'): SupervisorSpec =>
        spec('one_for_one', [
          {
            id: 'p',
            start: { kind, actorKind: 'echo', actorId: 'p', nice } as ChildSpec['start'],
            restart: 'permanent',
            shutdownMs: 1000,
          },
        ]);
      for (const ok of [0, 10, 19]) expect(() => validateSupervisorSpec(withNice(ok))).not.toThrow();
      expect(() => validateSupervisorSpec(withNice(undefined))).not.toThrow();
      // Negative = higher priority, which needs privileges; fractions and strings are mistakes.
      for (const bad of [-1, -20, 20, 2.5, '10', null])
        expect(() => validateSupervisorSpec(withNice(bad)), String(bad)).toThrow(ConfigError);
      // An in-host actor has no process of its own to deprioritise.
      expect(() => validateSupervisorSpec(withNice(10, 'actor'))).toThrow(ConfigError);
    });

    it('validates nested supervisor specs too', () => {
      const nested = spec('one_for_all', [worker('x'), worker('x')]);
      const parent = spec('one_for_one', [
        {
          id: 'sub',
          start: { kind: 'supervisor', spec: nested },
          restart: 'permanent',
          shutdownMs: 'infinity',
        },
      ]);
      expect(() => validateSupervisorSpec(parent)).toThrow(ConfigError);
    });
  });

  describe('strategy × restart type × exit reason', () => {
    const reasons: Array<[string, ChildExitReason, boolean]> = [
      ['normal', 'normal', false],
      ['shutdown', 'shutdown', false],
      ['{shutdown}', { shutdown: 'done' }, false],
      ['{error}', { error: 'boom' }, true],
    ];
    const restartsOf: Record<Strategy, string[]> = {
      one_for_one: ['start b'],
      one_for_all: ['stop c', 'stop a', 'start a', 'start b', 'start c'],
      rest_for_one: ['stop c', 'start b', 'start c'],
    };
    const strategies: Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];
    const types: RestartType[] = ['permanent', 'transient', 'temporary'];

    for (const strategy of strategies) {
      for (const type of types) {
        for (const [label, reason, abnormal] of reasons) {
          const restarted = type === 'permanent' || (type === 'transient' && abnormal);
          it(`${strategy}: a ${type} child exiting ${label} is ${restarted ? 'restarted' : 'not restarted'}`, () => {
            const state = boot(spec(strategy, [worker('a'), worker('b', type), worker('c')]));
            const { state: after, log } = exit(state, 'b', reason, 1000);
            if (restarted) {
              expect(log).toEqual(restartsOf[strategy]);
              expect(statuses(after)).toEqual({ a: 'running', b: 'running', c: 'running' });
              expect(after.restarts).toEqual([1000]);
            } else {
              expect(log).toEqual([]);
              expect(after.restarts).toEqual([]);
              const expected: Record<string, string> =
                type === 'temporary'
                  ? { a: 'running', c: 'running' }
                  : { a: 'running', b: 'stopped', c: 'running' };
              expect(statuses(after)).toEqual(expected);
            }
          });
        }
      }
    }

    it('rest_for_one leaves the children before the failed one alone', () => {
      const state = boot(spec('rest_for_one', [worker('a'), worker('b'), worker('c'), worker('d')]));
      expect(exit(state, 'b', { error: 'x' }, 1).log).toEqual([
        'stop d',
        'stop c',
        'start b',
        'start c',
        'start d',
      ]);
      expect(exit(state, 'd', { error: 'x' }, 1).log).toEqual(['start d']);
      expect(exit(state, 'a', { error: 'x' }, 1).log).toEqual([
        'stop d',
        'stop c',
        'stop b',
        'start a',
        'start b',
        'start c',
        'start d',
      ]);
    });

    it('stops siblings with their own shutdown setting', () => {
      const state = boot(
        spec('one_for_all', [
          worker('a', 'permanent', 'brutal_kill'),
          worker('b'),
          worker('c', 'permanent', 'infinity'),
        ]),
      );
      const step = onChildExit(state, { childId: 'b', reason: { error: 'x' } }, 1);
      expect(step.commands.slice(0, 2)).toEqual([
        { type: 'stop', childId: 'c', shutdownMs: 'infinity' },
        { type: 'stop', childId: 'a', shutdownMs: 'brutal_kill' },
      ]);
    });

    it('removes temporary siblings stopped by a group restart instead of restarting them', () => {
      const state = boot(
        spec('one_for_all', [worker('a', 'temporary'), worker('b'), worker('c', 'temporary')]),
      );
      const { state: after, log } = exit(state, 'b', { error: 'x' }, 1);
      expect(log).toEqual(['stop c', 'stop a', 'start b']);
      expect(whichChildren(after).map((c) => c.id)).toEqual(['b']);
    });

    it('starts again, like OTP, a transient sibling that had exited normally', () => {
      let state = boot(spec('one_for_all', [worker('a', 'transient'), worker('b')]));
      state = exit(state, 'a', 'normal', 1).state;
      expect(statuses(state)).toEqual({ a: 'stopped', b: 'running' });
      const { state: after, log } = exit(state, 'b', { error: 'x' }, 2);
      expect(log).toEqual(['start a', 'start b']);
      expect(statuses(after)).toEqual({ a: 'running', b: 'running' });
    });

    it('keeps count of each child restarts and last exit', () => {
      let state = boot(spec('one_for_one', [worker('a')]));
      state = exit(state, 'a', { error: 'one' }, 1).state;
      state = exit(state, 'a', 'normal', 2).state;
      expect(whichChildren(state)[0]).toMatchObject({
        restartCount: 2,
        lastExit: 'normal',
        status: 'running',
      });
    });
  });

  describe('restart intensity', () => {
    it('stops every running child in reverse order and escalates when exceeded', () => {
      let state = boot(
        spec('one_for_one', [worker('a'), worker('b'), worker('c')], { intensity: 1, periodMs: 5000 }),
      );
      state = exit(state, 'b', { error: 'x' }, 1000).state;
      const { state: after, log } = exit(state, 'b', { error: 'x' }, 2000);
      expect(log).toEqual(['stop c', 'stop a', 'escalate reached_max_restart_intensity']);
      expect(after.phase).toBe('terminated');
      expect(after.escalation).toMatchObject({
        reason: { shutdown: 'reached_max_restart_intensity' },
        childId: 'b',
      });
      expect(countChildren(after)).toEqual({ specs: 3, active: 0 });
    });

    it('escalates at the first restart with intensity 0', () => {
      const state = boot(spec('one_for_all', [worker('a'), worker('b')], { intensity: 0 }));
      expect(exit(state, 'a', 'normal', 1).log).toEqual(['stop b', 'escalate reached_max_restart_intensity']);
    });

    it('counts restarts of every child together', () => {
      let state = boot(spec('one_for_one', [worker('a'), worker('b')], { intensity: 1, periodMs: 5000 }));
      state = exit(state, 'a', { error: 'x' }, 0).state;
      expect(exit(state, 'b', { error: 'x' }, 10).log).toEqual([
        'stop a',
        'escalate reached_max_restart_intensity',
      ]);
    });

    it('forgets restarts older than the period (sliding window)', () => {
      let state = boot(spec('one_for_one', [worker('a')], { intensity: 1, periodMs: 5000 }));
      state = exit(state, 'a', { error: 'x' }, 0).state;
      const late = exit(state, 'a', { error: 'x' }, 5001);
      expect(late.log).toEqual(['start a']);
      expect(late.state.restarts).toEqual([5001]);
    });

    it('still counts a restart exactly one period old, as OTP does', () => {
      let state = boot(spec('one_for_one', [worker('a')], { intensity: 1, periodMs: 5000 }));
      state = exit(state, 'a', { error: 'x' }, 0).state;
      expect(exit(state, 'a', { error: 'x' }, 5000).log).toEqual(['escalate reached_max_restart_intensity']);
    });

    it('slides: only the restarts inside the last period count', () => {
      let state = boot(spec('one_for_one', [worker('a')], { intensity: 3, periodMs: 1000 }));
      for (const t of [0, 400, 800, 1200]) {
        const r = exit(state, 'a', { error: 'x' }, t);
        expect(r.log, `at ${t}`).toEqual(['start a']);
        state = r.state;
      }
      expect(state.restarts).toEqual([400, 800, 1200]);
      expect(exit(state, 'a', { error: 'x' }, 1300).log).toEqual(['escalate reached_max_restart_intensity']);
    });

    it('does not count exits that are not restarted', () => {
      let state = boot(
        spec('one_for_one', [worker('a', 'transient'), worker('b', 'temporary')], { intensity: 0 }),
      );
      state = exit(state, 'a', 'shutdown', 1).state;
      state = exit(state, 'b', { error: 'x' }, 2).state;
      expect(state.phase).toBe('running');
      expect(state.restarts).toEqual([]);
    });
  });

  describe('failed restarts', () => {
    it('counts a failed restart as another restart and retries until the intensity is spent', () => {
      const state = boot(spec('one_for_one', [worker('a'), worker('b')], { intensity: 2 }));
      const { state: after, log } = exit(state, 'b', { error: 'x' }, 1, new Set(['b']));
      expect(log).toEqual(['start b', 'start b', 'stop a', 'escalate reached_max_restart_intensity']);
      expect(after.restarts).toEqual([1, 1, 1]);
    });

    it('recovers when a retried start succeeds', () => {
      const state = boot(spec('one_for_one', [worker('a')], { intensity: 5 }));
      const failed = settle(
        onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 1),
        1,
        new Set(['a']),
      );
      expect(failed.state.phase).toBe('terminated'); // keeps failing: gives up
      const step = onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 1);
      const once = onChildStartFailed(step.state, 'a', 'flaky', 1);
      expect(brief(once.commands)).toEqual(['start a']);
      const ok = onChildStarted(once.state, 'a', 1);
      expect(statuses(ok.state)).toEqual({ a: 'running' });
      expect(ok.state.restarts).toEqual([1, 1]);
    });

    it('one_for_all: a sibling failing to start restarts the whole group again', () => {
      const state = boot(spec('one_for_all', [worker('a'), worker('b'), worker('c')]));
      const s1 = onChildExit(state, { childId: 'b', reason: { error: 'x' } }, 1);
      expect(brief(s1.commands)).toEqual(['stop c', 'stop a', 'start a']);
      const s2 = onChildStarted(s1.state, 'a', 1);
      expect(brief(s2.commands)).toEqual(['start b']);
      const s3 = onChildStartFailed(s2.state, 'b', 'nope', 1);
      expect(brief(s3.commands)).toEqual(['stop a', 'start a']);
      expect(s3.state.restarts).toEqual([1, 1]);
      const { state: done, log } = settle(s3, 1);
      expect(log).toEqual(['stop a', 'start a', 'start b', 'start c']);
      expect(statuses(done)).toEqual({ a: 'running', b: 'running', c: 'running' });
    });

    it('rest_for_one: a later child failing to start restarts from that child on', () => {
      const state = boot(spec('rest_for_one', [worker('a'), worker('b'), worker('c'), worker('d')]));
      const s1 = settle(onChildExit(state, { childId: 'b', reason: { error: 'x' } }, 1), 1, new Set());
      expect(s1.log).toEqual(['stop d', 'stop c', 'start b', 'start c', 'start d']);
      // Now c fails once while restarting after b crashes again.
      const s2 = onChildExit(s1.state, { childId: 'b', reason: { error: 'x' } }, 2);
      const s3 = onChildStarted(s2.state, 'b', 2);
      expect(brief(s3.commands)).toEqual(['start c']);
      const s4 = onChildStartFailed(s3.state, 'c', 'nope', 2);
      expect(brief(s4.commands)).toEqual(['start c']);
      expect(statuses(s4.state)).toEqual({ a: 'running', b: 'running', c: 'starting', d: 'pending' });
    });
  });

  describe('backoff', () => {
    const backoff = { initialMs: 100, maxMs: 1000, factor: 2 };

    it('computes min(maxMs, initialMs * factor^(k-1))', () => {
      expect([1, 2, 3, 4, 5, 6].map((k) => backoffDelayMs(backoff, k))).toEqual([
        100, 200, 400, 800, 1000, 1000,
      ]);
      expect(backoffDelayMs(undefined, 3)).toBe(0);
    });

    it('schedules restarts with growing delays and starts only when the timer fires', () => {
      let state = boot(spec('one_for_one', [worker('a')], { intensity: 10, periodMs: 60_000, backoff }));
      const delays: number[] = [];
      for (let i = 0; i < 6; i++) {
        const t = i * 10;
        const step = onChildExit(state, { childId: 'a', reason: { error: 'x' } }, t);
        expect(step.commands).toHaveLength(1);
        const [cmd] = step.commands;
        if (cmd?.type !== 'schedule-restart') throw new Error(`expected schedule-restart, got ${cmd?.type}`);
        delays.push(cmd.delayMs);
        expect(statuses(step.state)).toEqual({ a: 'pending' });
        const due = onRestartDue(step.state, 'a', t + cmd.delayMs);
        expect(brief(due.commands)).toEqual(['start a']);
        state = onChildStarted(due.state, 'a', t + cmd.delayMs).state;
      }
      expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    });

    it('starts again from the initial delay once earlier restarts leave the period', () => {
      let state = boot(spec('one_for_one', [worker('a')], { intensity: 10, periodMs: 1000, backoff }));
      for (const t of [0, 10]) {
        const step = onChildExit(state, { childId: 'a', reason: { error: 'x' } }, t);
        state = settle(onRestartDue(step.state, 'a', t), t).state;
      }
      const later = onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 5000);
      expect(brief(later.commands)).toEqual(['schedule a 100']);
    });

    it('keeps the delay per child', () => {
      let state = boot(spec('one_for_one', [worker('a'), worker('b')], { intensity: 10, backoff }));
      const a1 = onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 0);
      state = settle(onRestartDue(a1.state, 'a', 100), 100).state;
      const a2 = onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 200);
      expect(brief(a2.commands)).toEqual(['schedule a 200']);
      const b1 = onChildExit(a2.state, { childId: 'b', reason: { error: 'x' } }, 210);
      expect(brief(b1.commands)).toEqual(['schedule b 100']);
    });

    it('stops siblings at once and delays only the starts', () => {
      const state = boot(spec('one_for_all', [worker('a'), worker('b'), worker('c')], { backoff }));
      const step = onChildExit(state, { childId: 'b', reason: { error: 'x' } }, 0);
      expect(brief(step.commands)).toEqual(['stop c', 'stop a', 'schedule b 100']);
      expect(settle(onRestartDue(step.state, 'b', 100), 100).log).toEqual(['start a', 'start b', 'start c']);
    });

    it('lets a later restart take over children already waiting; the earlier timer then does nothing', () => {
      const state = boot(spec('rest_for_one', [worker('a'), worker('b'), worker('c')], { backoff }));
      const c1 = onChildExit(state, { childId: 'c', reason: { error: 'x' } }, 0);
      expect(brief(c1.commands)).toEqual(['schedule c 100']);
      const a1 = onChildExit(c1.state, { childId: 'a', reason: { error: 'x' } }, 10);
      expect(brief(a1.commands)).toEqual(['stop b', 'schedule a 100']);
      expect(onRestartDue(a1.state, 'c', 100).commands).toEqual([]);
      expect(settle(onRestartDue(a1.state, 'a', 110), 110).log).toEqual(['start a', 'start b', 'start c']);
    });

    it('restarts at once when the computed delay is 0', () => {
      const state = boot(
        spec('one_for_one', [worker('a')], { backoff: { initialMs: 0, maxMs: 0, factor: 1 } }),
      );
      expect(brief(onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 0).commands)).toEqual([
        'start a',
      ]);
    });

    it('still escalates past the intensity, without scheduling', () => {
      let state = boot(spec('one_for_one', [worker('a'), worker('b')], { intensity: 1, backoff }));
      state = settle(
        onRestartDue(onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 0).state, 'a', 100),
        100,
      ).state;
      expect(exit(state, 'a', { error: 'x' }, 200).log).toEqual([
        'stop b',
        'escalate reached_max_restart_intensity',
      ]);
    });
  });

  describe('stopping the supervisor', () => {
    it('stops running children in reverse start order with their shutdown settings', () => {
      let state = boot(
        spec('one_for_one', [worker('a', 'permanent', 'brutal_kill'), worker('b', 'transient'), worker('c')]),
      );
      state = exit(state, 'b', 'normal', 1).state;
      const step = stopSupervisor(state);
      expect(step.commands).toEqual([
        { type: 'stop', childId: 'c', shutdownMs: 1000 },
        { type: 'stop', childId: 'a', shutdownMs: 'brutal_kill' },
      ]);
      expect(step.state.phase).toBe('terminated');
    });

    it('ignores later exits, timers and stops, and refuses dynamic changes', () => {
      const state = stopSupervisor(
        boot(spec('one_for_one', [worker('a')], { backoff: { initialMs: 5, maxMs: 5, factor: 1 } })),
      ).state;
      expect(onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 1).commands).toEqual([]);
      expect(onRestartDue(state, 'a', 1).commands).toEqual([]);
      expect(stopSupervisor(state).commands).toEqual([]);
      expect(() => startChild(state, worker('z'))).toThrow(InvalidTransitionError);
      expect(() => terminateChild(state, 'a')).toThrow(InvalidTransitionError);
    });

    it('stops a child whose start completes after the supervisor stopped', () => {
      const step = initSupervisor(spec('one_for_one', [worker('a')]), 0);
      const stopped = stopSupervisor(step.state);
      expect(stopped.commands).toEqual([]);
      expect(brief(onChildStarted(stopped.state, 'a', 1).commands)).toEqual(['stop a']);
    });
  });

  describe('dynamic children', () => {
    it('appends a started child at the end of the start order', () => {
      const state = boot(spec('rest_for_one', [worker('a'), worker('b')]));
      const { state: withC, log } = settle(startChild(state, worker('c')), 1);
      expect(log).toEqual(['start c']);
      expect(whichChildren(withC).map((c) => c.id)).toEqual(['a', 'b', 'c']);
      expect(exit(withC, 'a', { error: 'x' }, 2).log).toEqual([
        'stop c',
        'stop b',
        'start a',
        'start b',
        'start c',
      ]);
    });

    it('refuses an id already in use', () => {
      let state = boot(spec('one_for_one', [worker('a', 'transient')]));
      try {
        startChild(state, worker('a'));
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidTransitionError);
        expect((err as GovError).details).toMatchObject({ reason: 'already_started' });
      }
      state = exit(state, 'a', 'normal', 1).state;
      expect(() => startChild(state, worker('a'))).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ reason: 'already_present' }) }),
      );
    });

    it('validates the new child spec', () => {
      const state = boot(spec('one_for_one', []));
      expect(() => startChild(state, { ...worker('x'), shutdownMs: 1.5 })).toThrow(ConfigError);
    });

    it('forgets a dynamic child whose start fails', () => {
      const state = boot(spec('one_for_one', [worker('a')]));
      const step = startChild(state, worker('b'));
      const failed = onChildStartFailed(step.state, 'b', 'nope', 1);
      expect(failed.commands).toEqual([]);
      expect(whichChildren(failed.state).map((c) => c.id)).toEqual(['a']);
      expect(failed.state.restarts).toEqual([]);
    });

    it('terminates a child without restarting it, keeping its spec', () => {
      const state = boot(spec('one_for_all', [worker('a'), worker('b')], { intensity: 0 }));
      const step = terminateChild(state, 'b');
      expect(step.commands).toEqual([{ type: 'stop', childId: 'b', shutdownMs: 1000 }]);
      expect(statuses(step.state)).toEqual({ a: 'running', b: 'stopped' });
      // The exit caused by the stop is ignored, and does not count against the intensity.
      expect(exit(step.state, 'b', 'shutdown', 1).log).toEqual([]);
    });

    it('removes a terminated temporary child', () => {
      const state = boot(spec('one_for_one', [worker('a', 'temporary')]));
      expect(whichChildren(terminateChild(state, 'a').state)).toEqual([]);
    });

    it('cancels a pending restart when the child is terminated', () => {
      const state = boot(
        spec('one_for_one', [worker('a')], { backoff: { initialMs: 50, maxMs: 50, factor: 1 } }),
      );
      const crashed = onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 0);
      const terminated = terminateChild(crashed.state, 'a');
      expect(terminated.commands).toEqual([]);
      expect(onRestartDue(terminated.state, 'a', 50).commands).toEqual([]);
    });

    it('restarts a kept child that is not running, and only such a child', () => {
      const state = boot(spec('one_for_one', [worker('a')]));
      expect(() => restartChild(state, 'a')).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ reason: 'running' }) }),
      );
      const stopped = terminateChild(state, 'a').state;
      const { state: again, log } = settle(restartChild(stopped, 'a'), 1);
      expect(log).toEqual(['start a']);
      expect(statuses(again)).toEqual({ a: 'running' });
      // A failing manual restart leaves the child kept and stopped.
      const failed = onChildStartFailed(restartChild(stopped, 'a').state, 'a', 'nope', 1);
      expect(statuses(failed.state)).toEqual({ a: 'stopped' });
      expect(failed.state.restarts).toEqual([]);
    });

    it('deletes only a kept child that is not running', () => {
      const state = boot(
        spec('one_for_one', [worker('a'), worker('b')], { backoff: { initialMs: 9, maxMs: 9, factor: 1 } }),
      );
      expect(() => deleteChild(state, 'a')).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ reason: 'running' }) }),
      );
      const waiting = onChildExit(state, { childId: 'b', reason: { error: 'x' } }, 0).state;
      expect(() => deleteChild(waiting, 'b')).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ reason: 'restarting' }) }),
      );
      const deleted = deleteChild(terminateChild(state, 'a').state, 'a');
      expect(deleted.commands).toEqual([]);
      expect(whichChildren(deleted.state).map((c) => c.id)).toEqual(['b']);
    });

    it('throws NotFoundError for unknown ids', () => {
      const state = boot(spec('one_for_one', [worker('a')]));
      expect(() => terminateChild(state, 'zz')).toThrow(NotFoundError);
      expect(() => restartChild(state, 'zz')).toThrow(NotFoundError);
      expect(() => deleteChild(state, 'zz')).toThrow(NotFoundError);
    });
  });

  describe('robustness', () => {
    it('ignores exits of unknown or not-running children', () => {
      const state = boot(spec('one_for_one', [worker('a')]));
      expect(onChildExit(state, { childId: 'ghost', reason: { error: 'x' } }, 1).commands).toEqual([]);
      const pending = onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 1).state; // a is starting
      expect(onChildExit(pending, { childId: 'a', reason: { error: 'x' } }, 2).commands).toEqual([]);
      expect(onChildStartFailed(state, 'a', 'late', 1).commands).toEqual([]);
    });

    it('never mutates the state it is given', () => {
      const state = boot(
        spec('one_for_all', [worker('a'), worker('b')], { backoff: { initialMs: 1, maxMs: 1, factor: 1 } }),
      );
      const frozen = JSON.stringify(state);
      onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 1);
      terminateChild(state, 'b');
      stopSupervisor(state);
      startChild(state, worker('c'));
      expect(JSON.stringify(state)).toBe(frozen);
    });

    it('keeps working from a JSON round trip of its state', () => {
      const state = JSON.parse(
        JSON.stringify(boot(spec('rest_for_one', [worker('a'), worker('b')]))),
      ) as SupervisorState;
      expect(exit(state, 'a', { error: 'x' }, 1).log).toEqual(['stop b', 'start a', 'start b']);
    });
  });

  describe('escalation seen from the parent', () => {
    it('gives a supervisor exit reason that a transient parent entry treats as normal and a permanent one restarts', () => {
      const child = boot(spec('one_for_one', [worker('w')], { intensity: 0 }));
      const { state: dead } = exit(child, 'w', { error: 'x' }, 1);
      const reason = dead.escalation!.reason;
      expect(isNormalExit(reason)).toBe(true);
      const sub = (restart: RestartType): ChildSpec => ({
        id: 'sub',
        start: { kind: 'supervisor', spec: spec('one_for_one', [worker('w')]) },
        restart,
        shutdownMs: 'infinity',
      });
      const transientParent = boot(spec('one_for_one', [sub('transient')]));
      expect(exit(transientParent, 'sub', reason, 2).log).toEqual([]);
      const permanentParent = boot(spec('one_for_one', [sub('permanent')]));
      expect(exit(permanentParent, 'sub', reason, 2).log).toEqual(['start sub']);
    });

    it('classifies exit reasons like OTP', () => {
      expect(isNormalExit('normal')).toBe(true);
      expect(isNormalExit('shutdown')).toBe(true);
      expect(isNormalExit({ shutdown: 'why' })).toBe(true);
      expect(isNormalExit({ error: 'boom' })).toBe(false);
      expect(isNormalExit({ error: { code: 'GOV_ERR_ACTOR_CRASHED', message: 'x', retryable: true } })).toBe(
        false,
      );
    });
  });

  describe('spec helpers and defaults', () => {
    it('follows the OTP defaults', () => {
      expect(DEFAULT_STRATEGY).toBe('one_for_one');
      expect(DEFAULT_INTENSITY).toBe(1);
      expect(DEFAULT_PERIOD_MS).toBe(5000);
      expect(DEFAULT_WORKER_SHUTDOWN_MS).toBe(5000);
      expect(DEFAULT_SUPERVISOR_SHUTDOWN).toBe('infinity');
      expect(supervisorSpec({ id: 's' })).toEqual({
        id: 's',
        strategy: 'one_for_one',
        intensity: 1,
        periodMs: 5000,
        children: [],
      });
    });

    it('fills child defaults: permanent, 5000 ms for workers, infinity for supervisors', () => {
      expect(childSpec({ id: 'w', start: { kind: 'process', actorKind: 'k', actorId: 'w' } })).toEqual({
        id: 'w',
        start: { kind: 'process', actorKind: 'k', actorId: 'w' },
        restart: 'permanent',
        shutdownMs: 5000,
      });
      const nested = supervisorSpec({ id: 'inner' });
      expect(childSpec({ id: 's', start: { kind: 'supervisor', spec: nested } }).shutdownMs).toBe('infinity');
    });

    it('fills backoff defaults when asked for backoff', () => {
      expect(supervisorSpec({ id: 's', backoff: true }).backoff).toEqual({
        initialMs: 100,
        maxMs: 30_000,
        factor: 2,
      });
      expect(supervisorSpec({ id: 's', backoff: { initialMs: 5 } }).backoff).toEqual({
        initialMs: 5,
        maxMs: 30_000,
        factor: 2,
      });
    });
  });
});
