/**
 * The supervisor reducer facing the reports a real runtime produces out of order: a start reported
 * twice, a start that lands after the child was no longer wanted, an exit or a failed start after
 * termination, a restart timer firing late. None may start, stop or count anything twice.
 */
import { describe, expect, it } from 'vitest';
import type { ChildSpec, SupervisorSpec } from '../../supervisors/child-spec.ts';
import {
  countChildren,
  deleteChild,
  initSupervisor,
  onChildExit,
  onChildStartFailed,
  onChildStarted,
  onRestartDue,
  restartChild,
  startChild,
  stopSupervisor,
  type SupervisorState,
  terminateChild,
} from '../../supervisors/supervisor-logic.ts';
import { InvalidTransitionError, NotFoundError } from '../../protocols/vocabulary/errors.ts';

const worker = (id: string, restart: ChildSpec['restart'] = 'permanent'): ChildSpec => ({
  id,
  start: { kind: 'actor', actorKind: 'echo', actorId: id },
  restart,
  shutdownMs: 1000,
});
const spec = (children: ChildSpec[], extra: Partial<SupervisorSpec> = {}): SupervisorSpec => ({
  id: 'sup',
  strategy: 'one_for_one',
  intensity: 10,
  periodMs: 60_000,
  children,
  ...extra,
});

/** Every child started, one at a time, as the runtime would report. */
function running(s: SupervisorSpec): SupervisorState {
  let step = initSupervisor(s, 0);
  for (const c of s.children) step = onChildStarted(step.state, c.id, 0);
  expect(step.state.phase).toBe('running');
  return step.state;
}

describe('late and duplicate reports', () => {
  it('a start reported twice changes nothing and starts nothing more', () => {
    const first = onChildStarted(initSupervisor(spec([worker('a'), worker('b')]), 0).state, 'a', 0);
    const again = onChildStarted(first.state, 'a', 0);
    expect(again.commands).toEqual([]);
    expect(again.state).toEqual(first.state);
    expect(countChildren(again.state)).toEqual({ specs: 2, active: 1 });
  });

  it('a start that lands after the child was terminated is stopped again with its own shutdown', () => {
    let state = initSupervisor(spec([worker('a')]), 0).state;
    state = terminateChild(state, 'a').state;
    const late = onChildStarted(state, 'a', 0);
    expect(late.commands).toEqual([{ type: 'stop', childId: 'a', shutdownMs: 1000 }]);
    expect(countChildren(late.state)).toEqual({ specs: 1, active: 0 });
  });

  it('a start of a child the supervisor does not know is killed outright', () => {
    const state = running(spec([worker('a')]));
    expect(onChildStarted(state, 'ghost', 0).commands).toEqual([
      { type: 'stop', childId: 'ghost', shutdownMs: 'brutal_kill' },
    ]);
  });

  it('a start that lands after the supervisor stopped is stopped again', () => {
    const step = initSupervisor(spec([worker('a')]), 0);
    const stopped = stopSupervisor(step.state);
    expect(stopped.state.phase).toBe('terminated');
    expect(onChildStarted(stopped.state, 'a', 0).commands).toEqual([
      { type: 'stop', childId: 'a', shutdownMs: 1000 },
    ]);
  });

  it('a failed start of a child that is not starting, or after termination, changes nothing', () => {
    const state = running(spec([worker('a')]));
    const ignored = onChildStartFailed(state, 'a', 'boom', 5);
    expect(ignored.commands).toEqual([]);
    expect(ignored.state).toEqual(state);
    const starting = initSupervisor(spec([worker('a')]), 0).state;
    const over = stopSupervisor(starting).state;
    expect(onChildStartFailed(over, 'a', 'boom', 5)).toEqual({ state: over, commands: [] });
  });

  it('an exit after termination, or of a child not running, changes nothing', () => {
    const state = running(spec([worker('a'), worker('b')]));
    const over = stopSupervisor(state).state;
    expect(onChildExit(over, { childId: 'a', reason: { error: 'x' } }, 5)).toEqual({
      state: over,
      commands: [],
    });
    const restarting = onChildExit(state, { childId: 'a', reason: { error: 'x' } }, 5).state;
    // a is starting again: a second exit report for the old incarnation is not a second crash.
    const twice = onChildExit(restarting, { childId: 'a', reason: { error: 'x' } }, 6);
    expect(twice.commands).toEqual([]);
    expect(twice.state.restarts).toEqual([5]);
    expect(onChildExit(state, { childId: 'ghost', reason: 'normal' }, 5).commands).toEqual([]);
  });

  it('a restart timer that fires after termination starts nothing', () => {
    const s = spec([worker('a')], { backoff: { initialMs: 100, factor: 2, maxMs: 1000 } });
    const crashed = onChildExit(running(s), { childId: 'a', reason: { error: 'x' } }, 5);
    expect(crashed.commands).toEqual([{ type: 'schedule-restart', childId: 'a', delayMs: 100 }]);
    const over = stopSupervisor(crashed.state).state;
    expect(onRestartDue(over, 'a', 105).commands).toEqual([]);
    // On a live supervisor the same timer starts the child.
    expect(onRestartDue(crashed.state, 'a', 105).commands).toEqual([
      { type: 'start', childId: 'a', start: s.children[0]!.start },
    ]);
  });

  it('stopping a stopped supervisor issues nothing', () => {
    const over = stopSupervisor(running(spec([worker('a')]))).state;
    expect(stopSupervisor(over).commands).toEqual([]);
  });
});

describe('counts and refusals', () => {
  it('counts specs and only running children as active', () => {
    let step = initSupervisor(spec([worker('a'), worker('b'), worker('c')]), 0);
    expect(countChildren(step.state)).toEqual({ specs: 3, active: 0 });
    step = onChildStarted(step.state, 'a', 0);
    expect(countChildren(step.state)).toEqual({ specs: 3, active: 1 });
  });

  it('refuses operations on a terminated supervisor, naming the operation', () => {
    const over = stopSupervisor(running(spec([worker('a')]))).state;
    for (const [op, run] of [
      ['start a child', () => startChild(over, worker('z'))],
      ['terminate a child', () => terminateChild(over, 'a')],
      ['restart a child', () => restartChild(over, 'a')],
      ['delete a child', () => deleteChild(over, 'a')],
    ] as const) {
      expect(run, op).toThrow(InvalidTransitionError);
      expect(run, op).toThrow(`supervisor sup is terminated; cannot ${op}`);
    }
  });

  it('refuses to restart or delete a child that is running or restarting, and an unknown one', () => {
    const state = running(spec([worker('a')]));
    expect(() => restartChild(state, 'a')).toThrow('supervisor sup: cannot restart child a: running');
    expect(() => deleteChild(state, 'a')).toThrow('supervisor sup: cannot delete child a: running');
    const s = spec([worker('a')], { backoff: { initialMs: 100, factor: 2, maxMs: 1000 } });
    const waiting = onChildExit(running(s), { childId: 'a', reason: { error: 'x' } }, 5).state;
    expect(() => deleteChild(waiting, 'a')).toThrow('supervisor sup: cannot delete child a: restarting');
    expect(() => terminateChild(state, 'nope')).toThrow(NotFoundError);
    expect(() => terminateChild(state, 'nope')).toThrow('supervisor sup has no child nope');
  });

  it('refuses a second child of the same id, telling a running one from a kept one', () => {
    const state = running(spec([worker('a', 'transient')]));
    expect(() => startChild(state, worker('a'))).toThrow('supervisor sup: child a already started');
    const kept = terminateChild(state, 'a').state;
    expect(() => startChild(kept, worker('a'))).toThrow('supervisor sup: child a already present');
  });
});
