/**
 * The run machine's steps one by one (docs/orchestrator.md): what each input does to the record, which
 * events and effects it produces, and which inputs it ignores (stale, duplicate, after the end).
 * orchestrator-run-machine.test.ts covers the main paths; this file pins the rest.
 */
import { describe, expect, it } from 'vitest';
import {
  dispatchable,
  isInFlight,
  isTerminalRun,
  isTerminalStage,
  newRun,
  nextDueAt,
  type RunRecord,
  type SerializedError,
  stageDef,
  stageOfTask,
  step,
  waitExpired,
} from '../../actors/orchestrator/run-machine.ts';
import { DEFAULT_MAX_LOST_ATTEMPTS } from '../../actors/orchestrator/options.ts';
import { instantiatePipeline, parsePipeline } from '../../protocols/pipeline/index.ts';
import { DEFAULT_SCHEDULE_TO_START_MS } from '../../protocols/pipeline/options.ts';

function pipeline(yaml: string) {
  const r = parsePipeline(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return instantiatePipeline(r.pipeline);
}

const ONE =
  'name: one\nversion: 1\nstages:\n  - { id: a, task: { kind: noop }, timeoutMs: 1000, retries: { max: 2, backoffMs: 1000 } }\n';
const TWO = `
name: two
version: 1
stages:
  - { id: a, task: { kind: noop }, timeoutMs: 1000 }
  - { id: b, needs: [a], task: { kind: noop } }
`;
const CHILD = `
name: parent
version: 1
stages:
  - { id: kid, agent: { tier: T1 }, task: { kind: pipeline, file: c.yaml }, timeoutMs: 2000 }
`;

const fresh = (yaml: string, extra: { parentRunId?: string } = {}) =>
  newRun({ runId: 'r', pipeline: pipeline(yaml), owner: 'o', now: 0, ...extra });
const started = (yaml: string, extra: { parentRunId?: string } = {}) =>
  step(fresh(yaml, extra), { type: 'start' }, 5).run;
const dispatched = (run: RunRecord, stageId = 'a', taskId = 't1', agentId = 'ag', now = 10) =>
  step(run, { type: 'dispatch', stageId, agentId, taskId }, now).run;
const err = (code = 'E', retryable = true): SerializedError => ({ code, message: 'bad', retryable });

describe('a new run', () => {
  it('has every stage pending with no attempt, and keeps the parent, parent stage and requester given', () => {
    const run = newRun({
      runId: 'r9',
      pipeline: pipeline(TWO),
      owner: 'o1',
      now: 42,
      parentRunId: 'p',
      parentStageId: 'ps',
      requestedBy: 'alice',
    });
    expect(run).toMatchObject({
      v: 1,
      runId: 'r9',
      owner: 'o1',
      status: 'pending',
      createdAt: 42,
      parentRunId: 'p',
      parentStageId: 'ps',
      requestedBy: 'alice',
    });
    expect(run.stages).toEqual({
      a: { stageId: 'a', status: 'pending', attempt: 0, lost: 0, avoid: [] },
      b: { stageId: 'b', status: 'pending', attempt: 0, lost: 0, avoid: [] },
    });
    expect(run.startedAt).toBeUndefined();
    const plain = fresh(ONE);
    expect('parentRunId' in plain || 'parentStageId' in plain || 'requestedBy' in plain).toBe(false);
  });

  it('starts once: running, stamped, run-started; a second start changes nothing', () => {
    const s = step(fresh(ONE), { type: 'start' }, 5);
    expect(s).toMatchObject({ changed: true, effects: [] });
    expect(s.run).toMatchObject({ status: 'running', startedAt: 5 });
    expect(s.events).toEqual([{ runId: 'r', event: 'run-started' }]);
    expect(step(s.run, { type: 'start' }, 6).changed).toBe(false);
  });

  it('resumes a running run (run-resumed, startedAt kept) but not a finished one', () => {
    const run = started(ONE);
    const s = step(run, { type: 'resume' }, 99);
    expect(s.events).toEqual([{ runId: 'r', event: 'run-resumed' }]);
    expect(s.run.startedAt).toBe(5);
    const over = step(run, { type: 'cancel', reason: 'x' }, 7).run;
    expect(step(over, { type: 'resume' }, 8).changed).toBe(false);
    expect(step(over, { type: 'start' }, 8).changed).toBe(false);
  });

  it('with no stages left to run, a resume finishes it as succeeded', () => {
    let run = dispatched(started(ONE));
    run = { ...run, stages: { a: { ...run.stages.a!, status: 'succeeded' } } };
    const s = step(run, { type: 'resume' }, 20);
    expect(s.run.status).toBe('succeeded');
    expect(s.events.map((e) => e.event)).toEqual(['run-resumed', 'run-succeeded']);
    expect(s.effects).toEqual([{ kind: 'finished', status: 'succeeded' }]);
  });
});

describe('dispatch and accept', () => {
  it('dispatches only a pending stage of a live run', () => {
    const run = dispatched(started(ONE));
    expect(run.stages.a).toEqual({
      stageId: 'a',
      status: 'dispatched',
      attempt: 1,
      lost: 0,
      avoid: [],
      taskId: 't1',
      agentId: 'ag',
      childRunId: undefined,
      startedAt: 10,
      deadline: 1010,
      retryAt: undefined,
      fraction: undefined,
    });
    expect(step(run, { type: 'dispatch', stageId: 'a', agentId: 'x', taskId: 't2' }, 11).changed).toBe(false);
    expect(step(run, { type: 'dispatch', stageId: 'nope', agentId: 'x', taskId: 't2' }, 11).changed).toBe(
      false,
    );
    const over = step(started(ONE), { type: 'cancel', reason: 'x' }, 6).run;
    expect(step(over, { type: 'dispatch', stageId: 'a', agentId: 'x', taskId: 't2' }, 11).changed).toBe(
      false,
    );
  });

  it('publishes stage-dispatched with the attempt and agent', () => {
    const s = step(started(ONE), { type: 'dispatch', stageId: 'a', agentId: 'ag', taskId: 't1' }, 10);
    expect(s.events).toEqual([
      { runId: 'r', event: 'stage-dispatched', stageId: 'a', attempt: 1, agentId: 'ag' },
    ]);
  });

  it('an accept moves the attempt to running once, naming the agent; a late or stale accept changes nothing', () => {
    const run = dispatched(started(ONE));
    const s = step(run, { type: 'accepted', taskId: 't1', agentId: 'ag' }, 11);
    expect(s.run.stages.a!.status).toBe('running');
    expect(s.events).toEqual([
      { runId: 'r', event: 'stage-accepted', stageId: 'a', attempt: 1, agentId: 'ag' },
    ]);
    expect(s.effects).toEqual([]);
    expect(step(s.run, { type: 'accepted', taskId: 't1', agentId: 'ag' }, 12).changed).toBe(false);
    expect(step(run, { type: 'accepted', taskId: 'other', agentId: 'ag' }, 12).changed).toBe(false);
  });

  it('a refusal of a running attempt (accepted already) changes nothing; of a dispatched one it undoes the dispatch', () => {
    const run = dispatched(started(ONE));
    const running = step(run, { type: 'accepted', taskId: 't1', agentId: 'ag' }, 11).run;
    expect(step(running, { type: 'refused', taskId: 't1', agentId: 'ag', error: err() }, 12).changed).toBe(
      false,
    );
    const s = step(run, { type: 'refused', taskId: 't1', agentId: 'ag', error: err() }, 12);
    expect(s.run.stages.a).toMatchObject({
      status: 'pending',
      attempt: 0,
      taskId: undefined,
      agentId: undefined,
      deadline: undefined,
      startedAt: undefined,
    });
    expect(s.events).toEqual([]);
    // Ready again: its schedule-to-start clock restarts from the refusal.
    expect(s.run.stages.a!.waitDeadline).toBe(12 + DEFAULT_SCHEDULE_TO_START_MS);
  });
});

describe('progress and results', () => {
  it('progress implies the accept, records the fraction and is published with it', () => {
    const run = dispatched(started(ONE));
    const s = step(run, { type: 'progress', taskId: 't1', fraction: 0.25 }, 11);
    expect(s.run.stages.a).toMatchObject({ status: 'running', fraction: 0.25 });
    expect(s.events).toEqual([
      { runId: 'r', event: 'stage-accepted', stageId: 'a', attempt: 1, agentId: 'ag' },
      { runId: 'r', event: 'stage-progress', stageId: 'a', attempt: 1, agentId: 'ag', fraction: 0.25 },
    ]);
    const again = step(s.run, { type: 'progress', taskId: 't1' }, 12);
    expect(again.events).toEqual([
      { runId: 'r', event: 'stage-progress', stageId: 'a', attempt: 1, agentId: 'ag' },
    ]);
    expect(again.run.stages.a!.fraction).toBe(0.25);
    expect(step(run, { type: 'progress', taskId: 'stale' }, 12).changed).toBe(false);
  });

  it('a success records the output, clears the deadline and the last error, and finishes a one-stage run', () => {
    let run = dispatched(started(ONE));
    run = step(run, { type: 'result', taskId: 't1', status: 'failed', error: err() }, 11).run;
    run = dispatched(run, 'a', 't2', 'ag2', run.stages.a!.retryAt);
    const s = step(run, { type: 'result', taskId: 't2', status: 'succeeded', output: { n: 1 } }, 20);
    expect(s.run.stages.a).toMatchObject({
      status: 'succeeded',
      finishedAt: 20,
      deadline: undefined,
      fraction: 1,
      output: { n: 1 },
      error: undefined,
      attempt: 2,
    });
    expect(s.events).toEqual([
      { runId: 'r', event: 'stage-accepted', stageId: 'a', attempt: 2, agentId: 'ag2' },
      { runId: 'r', event: 'stage-succeeded', stageId: 'a', attempt: 2, agentId: 'ag2' },
      { runId: 'r', event: 'run-succeeded' },
    ]);
    expect(s.run).toMatchObject({ status: 'succeeded', finishedAt: 20 });
    expect(s.run.error).toBeUndefined();
  });

  it('a success of one stage of two leaves the run running with the next stage to do', () => {
    const run = dispatched(started(TWO));
    const s = step(run, { type: 'result', taskId: 't1', status: 'succeeded' }, 20);
    expect(s.run.status).toBe('running');
    expect(s.effects).toEqual([]);
    expect(s.events.map((e) => e.event)).toEqual(['stage-accepted', 'stage-succeeded']);
  });

  it('a failure or cancellation reported without an error becomes a retryable internal error', () => {
    for (const status of ['failed', 'cancelled'] as const) {
      const s = step(dispatched(started(ONE)), { type: 'result', taskId: 't1', status }, 11);
      expect(s.run.stages.a!.error).toEqual({
        code: 'GOV_ERR_INTERNAL',
        message: `task ${status} without an error`,
        retryable: true,
      });
    }
  });

  it('after a failed attempt the retry is pending with the error and pause; the next attempt avoids the agent', () => {
    const s = step(
      dispatched(started(ONE)),
      { type: 'result', taskId: 't1', status: 'failed', error: err() },
      11,
    );
    expect(s.run.stages.a).toMatchObject({
      status: 'pending',
      attempt: 1,
      lost: 0,
      avoid: ['ag'],
      error: err(),
      retryAt: 11 + 1000,
      deadline: undefined,
      fraction: undefined,
    });
    expect(s.events).toEqual([
      { runId: 'r', event: 'stage-accepted', stageId: 'a', attempt: 1, agentId: 'ag' },
      { runId: 'r', event: 'stage-retrying', stageId: 'a', attempt: 1, error: err(), agentId: 'ag' },
    ]);
    expect(nextDueAt(s.run, 0)).toBe(1011);
    // The same agent failing again is listed once.
    let run = dispatched(s.run, 'a', 't2', 'ag', 1011);
    run = step(run, { type: 'result', taskId: 't2', status: 'failed', error: err() }, 1012).run;
    expect(run.stages.a!.avoid).toEqual(['ag']);
  });

  it('results after the run ended change nothing', () => {
    const run = dispatched(started(TWO));
    const over = step(run, { type: 'cancel', reason: 'stop' }, 11).run;
    for (const input of [
      { type: 'result', taskId: 't1', status: 'succeeded' },
      { type: 'progress', taskId: 't1' },
      { type: 'timeout', taskId: 't1' },
      { type: 'lost', taskId: 't1', error: err() },
      { type: 'cancel', reason: 'again' },
    ] as const)
      expect(step(over, input, 12).changed, input.type).toBe(false);
  });
});

describe('failure policies', () => {
  const withPolicy = (onFailure: string) => `
name: p
version: 1
stages:
  - { id: a, task: { kind: noop }, onFailure: ${onFailure} }
  - { id: b, needs: [a], task: { kind: noop } }
  - { id: c, task: { kind: noop } }
`;
  const failA = (yaml: string) => {
    const run = dispatched(started(yaml));
    return step(run, { type: 'result', taskId: 't1', status: 'failed', error: err('X', false) }, 11);
  };

  it('fail: the run fails with an error naming the stage and its attempts; the others are skipped', () => {
    const s = failA(withPolicy('fail'));
    expect(s.run.status).toBe('failed');
    expect(s.run.error).toEqual({
      code: 'X',
      message: 'stage a failed after 1 attempt(s): bad',
      retryable: false,
      details: { stageId: 'a', attempts: 1 },
    });
    expect(s.events).toContainEqual({
      runId: 'r',
      event: 'stage-failed',
      stageId: 'a',
      attempt: 1,
      error: err('X', false),
      agentId: 'ag',
    });
    expect(s.events.filter((e) => e.event === 'stage-skipped').map((e) => e.stageId)).toEqual(['b', 'c']);
    expect(s.events.at(-1)).toEqual({ runId: 'r', event: 'run-failed', error: s.run.error });
    expect(s.run.stages.a).toMatchObject({ status: 'failed', finishedAt: 11, deadline: undefined });
  });

  it('skip-dependents: the stage fails, its dependents are skipped, the rest carries on', () => {
    const s = failA(withPolicy('skip-dependents'));
    expect(s.run.status).toBe('running');
    expect(s.run.stages.b!.status).toBe('skipped');
    expect(s.run.stages.c!.status).toBe('pending');
    expect(s.events.map((e) => [e.event, e.stageId])).toEqual([
      ['stage-accepted', 'a'],
      ['stage-failed', 'a'],
      ['stage-skipped', 'b'],
    ]);
    // c succeeding then ends the run: failed stages with skip-dependents do not fail it.
    const run = dispatched(s.run, 'c', 'tc', 'ag', 12);
    expect(step(run, { type: 'result', taskId: 'tc', status: 'succeeded' }, 13).run.status).toBe('succeeded');
  });

  it('continue: the stage fails and its dependents still run', () => {
    const s = failA(withPolicy('continue'));
    expect(s.run.status).toBe('running');
    expect(s.run.stages.b!.status).toBe('pending');
    expect(dispatchable(s.run, 12).map((d) => d.id)).toEqual(['b', 'c']);
    // fail and skip-dependents leave nothing depending on a to dispatch
    expect(dispatchable(failA(withPolicy('skip-dependents')).run, 12).map((d) => d.id)).toEqual(['c']);
    expect(s.events.map((e) => e.event)).toEqual(['stage-accepted', 'stage-failed']);
  });
});

describe('timeouts and lost attempts', () => {
  it('a timed-out attempt is cancelled on its agent, published and retried with a timeout error', () => {
    const yaml =
      'name: t\nversion: 1\nstages:\n  - { id: a, task: { kind: noop }, timeoutMs: 1000, retries: { max: 1, backoffMs: 50 } }\n';
    const run = dispatched(started(yaml));
    expect(step(run, { type: 'timeout', taskId: 'other' }, 1010).changed).toBe(false);
    const s = step(run, { type: 'timeout', taskId: 't1' }, 1010);
    expect(s.events[0]).toEqual({
      runId: 'r',
      event: 'stage-timed-out',
      stageId: 'a',
      attempt: 1,
      agentId: 'ag',
    });
    expect(s.effects).toEqual([
      {
        kind: 'cancel-task',
        stageId: 'a',
        taskId: 't1',
        attempt: 1,
        agentId: 'ag',
        reason: 'stage timed out after 1000 ms',
      },
    ]);
    expect(s.run.stages.a).toMatchObject({
      status: 'pending',
      retryAt: 1060,
      error: {
        code: 'GOV_ERR_TIMEOUT',
        message: 'stage a attempt 1 timed out after 1000 ms',
        retryable: true,
        details: { stageId: 'a', attempt: 1, timeoutMs: 1000 },
      },
    });
  });

  it(`retries attempts lost to infrastructure at once up to ${DEFAULT_MAX_LOST_ATTEMPTS} times, then counts them against the retries (regression: losses past the free ones were never counted, so a stage whose agents kept dying retried forever)`, () => {
    const yaml =
      'name: l\nversion: 1\nstages:\n  - { id: a, task: { kind: noop }, retries: { max: 0, backoffMs: 0 } }\n';
    let run = started(yaml);
    const lose = (n: number) => {
      run = dispatched(run, 'a', `t${n}`, `ag${n}`, 100 * n);
      return step(run, { type: 'lost', taskId: `t${n}`, error: err('GOV_ERR_AGENT_LOST') }, 100 * n + 1);
    };
    for (let n = 1; n <= DEFAULT_MAX_LOST_ATTEMPTS; n++) {
      const s = lose(n);
      expect(s.run.stages.a).toMatchObject({ status: 'pending', lost: n, retryAt: 100 * n + 1 });
      run = s.run;
    }
    expect(run.stages.a!.avoid).toEqual(['ag1', 'ag2', 'ag3']);
    const last = lose(DEFAULT_MAX_LOST_ATTEMPTS + 1);
    expect(last.run.stages.a).toMatchObject({ status: 'failed', lost: DEFAULT_MAX_LOST_ATTEMPTS + 1 });
    expect(last.run.status).toBe('failed');
  });

  it('a lost attempt still counts toward a later ordinary failure only once its losses are used up', () => {
    const yaml =
      'name: l\nversion: 1\nstages:\n  - { id: a, task: { kind: noop }, retries: { max: 1, backoffMs: 10 } }\n';
    let run = dispatched(started(yaml), 'a', 't1', 'ag1', 10);
    run = step(run, { type: 'lost', taskId: 't1', error: err() }, 11).run;
    run = dispatched(run, 'a', 't2', 'ag2', 11);
    // attempt 2, one of them lost: one counted failure, within retries.max = 1
    const s = step(run, { type: 'result', taskId: 't2', status: 'failed', error: err() }, 12);
    expect(s.run.stages.a).toMatchObject({ status: 'pending', attempt: 2, lost: 1, retryAt: 22 });
  });
});

describe('child pipelines', () => {
  const child = () => step(started(CHILD), { type: 'start-child', stageId: 'kid', childRunId: 'rc' }, 10);

  it('starting a child runs the stage as the child run, with a deadline, published and asked as an effect', () => {
    const s = child();
    expect(s.run.stages.kid).toMatchObject({
      status: 'running',
      attempt: 1,
      taskId: 'rc',
      childRunId: 'rc',
      agentId: undefined,
      startedAt: 10,
      deadline: 2010,
      retryAt: undefined,
    });
    expect(s.events).toEqual([{ runId: 'r', event: 'stage-dispatched', stageId: 'kid', attempt: 1 }]);
    expect(s.effects).toEqual([{ kind: 'start-child', stageId: 'kid', childRunId: 'rc' }]);
    expect(step(s.run, { type: 'start-child', stageId: 'kid', childRunId: 'rc2' }, 11).changed).toBe(false);
    const over = step(started(CHILD), { type: 'cancel', reason: 'x' }, 6).run;
    expect(step(over, { type: 'start-child', stageId: 'kid', childRunId: 'rc' }, 11).changed).toBe(false);
  });

  it('a child that fails fails its stage with its error, or a non-retryable one naming the child', () => {
    const s = step(child().run, { type: 'child-finished', childRunId: 'rc', status: 'cancelled' }, 20);
    expect(s.run.stages.kid!.error).toEqual({
      code: 'GOV_ERR_INTERNAL',
      message: 'child run rc cancelled',
      retryable: false,
    });
    const withError = step(
      child().run,
      { type: 'child-finished', childRunId: 'rc', status: 'failed', error: err('CHILD') },
      20,
    );
    expect(withError.run.stages.kid!.error).toEqual(err('CHILD'));
  });

  it('a child that succeeds completes the stage, published without an agent', () => {
    const s = step(child().run, { type: 'child-finished', childRunId: 'rc', status: 'succeeded' }, 20);
    expect(s.run.stages.kid).toMatchObject({
      status: 'succeeded',
      finishedAt: 20,
      fraction: 1,
      deadline: undefined,
    });
    expect(s.events).toEqual([
      { runId: 'r', event: 'stage-succeeded', stageId: 'kid', attempt: 1 },
      { runId: 'r', event: 'run-succeeded' },
    ]);
  });

  it('a timed-out child stage cancels the child run', () => {
    const s = step(child().run, { type: 'timeout', taskId: 'rc' }, 2010);
    expect(s.effects[0]).toEqual({
      kind: 'cancel-child',
      stageId: 'kid',
      childRunId: 'rc',
      reason: 'stage timed out after 2000 ms',
    });
    expect(s.events[0]).toEqual({ runId: 'r', event: 'stage-timed-out', stageId: 'kid', attempt: 1 });
  });
});

describe('cancel', () => {
  it('cancels pending stages without publishing them skipped, and carries the reason', () => {
    const s = step(dispatched(started(TWO)), { type: 'cancel', reason: 'operator' }, 11);
    expect(s.run.stages.a).toMatchObject({ status: 'cancelled', finishedAt: 11, deadline: undefined });
    expect(s.run.stages.b).toMatchObject({ status: 'cancelled', retryAt: undefined });
    expect(s.events).toEqual([
      {
        runId: 'r',
        event: 'run-cancelled',
        error: { code: 'GOV_ERR_RUN_CANCELLED', message: 'run cancelled: operator', retryable: false },
      },
    ]);
    expect(s.run).toMatchObject({ status: 'cancelled', finishedAt: 11 });
  });

  it('events of a child run carry its parent on every event', () => {
    const s = step(started(ONE, { parentRunId: 'p' }), { type: 'cancel', reason: 'x' }, 6);
    expect(s.events.every((e) => e.parentRunId === 'p')).toBe(true);
    expect(s.events).toHaveLength(1);
  });
});

describe('helpers', () => {
  it('name terminal and in-flight statuses', () => {
    expect(
      ['pending', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => isTerminalRun(s as never)),
    ).toEqual([false, false, true, true, true]);
    expect(
      ['pending', 'dispatched', 'running', 'succeeded', 'failed', 'skipped', 'cancelled'].map((s) => [
        isTerminalStage(s as never),
        isInFlight(s as never),
      ]),
    ).toEqual([
      [false, false],
      [false, true],
      [false, true],
      [true, false],
      [true, false],
      [true, false],
      [true, false],
    ]);
  });

  it('stageDef refuses an unknown stage, naming the run', () => {
    expect(() => stageDef(fresh(ONE), 'zz')).toThrow('run r has no stage zz');
  });

  it('stageOfTask finds only an in-flight attempt', () => {
    const run = dispatched(started(ONE));
    expect(stageOfTask(run, 't1')?.stageId).toBe('a');
    const done = step(run, { type: 'result', taskId: 't1', status: 'succeeded' }, 11).run;
    expect(stageOfTask(done, 't1')).toBeUndefined();
  });

  it('nextDueAt is the earliest of retry pauses and deadlines, ignoring finished stages', () => {
    const yaml = `
name: d
version: 1
stages:
  - { id: a, task: { kind: noop }, timeoutMs: 500 }
  - { id: b, task: { kind: noop }, timeoutMs: 300 }
  - { id: c, task: { kind: noop }, timeoutMs: 100 }
`;
    let run = fresh(yaml);
    expect(nextDueAt(run, 0)).toBeUndefined();
    run = step(run, { type: 'start' }, 0).run;
    expect(nextDueAt(run, 0)).toBe(DEFAULT_SCHEDULE_TO_START_MS);
    run = dispatched(run, 'a', 'ta', 'ag', 0);
    run = dispatched(run, 'b', 'tb', 'ag', 0);
    expect(nextDueAt(run, 0)).toBe(300);
    run = dispatched(run, 'c', 'tc', 'ag', 0);
    run = step(run, { type: 'result', taskId: 'tc', status: 'succeeded' }, 1).run;
    expect(nextDueAt(run, 0)).toBe(300);
    // At 300 the deadline of b is due now, not again: the next is a's at 500.
    expect(nextDueAt(run, 300)).toBe(500);
  });

  it('regression: a retry pause already over is not due again while its stage waits for an agent (the run timer re-armed at 0 ms until an agent came)', () => {
    const yaml = `
name: r
version: 1
stages:
  - { id: a, task: { kind: noop }, retries: { max: 2, backoffMs: 100 } }
`;
    let run = step(fresh(yaml), { type: 'start' }, 0).run;
    run = dispatched(run, 'a', 'ta', 'ag', 0);
    run = step(run, { type: 'result', taskId: 'ta', status: 'failed' }, 10).run;
    const retryAt = run.stages.a!.retryAt!;
    expect(retryAt).toBeGreaterThan(10);
    expect(nextDueAt(run, 10)).toBe(retryAt);
    // Past the pause, with no agent yet: only the schedule-to-start bound is still ahead.
    const later = nextDueAt(run, retryAt + 1);
    expect(later === undefined || later > retryAt + 1).toBe(true);
  });
});

describe('containment', () => {
  it('stops a live run where it stands: what runs is cancelled, pending stages cancelled, the run ends contained with the cause', () => {
    const run = dispatched(started(TWO));
    const s = step(run, { type: 'contain', cause: 'budget-exhausted', reason: 'too many errors' }, 20);
    const error = {
      code: 'GOV_ERR_RUN_CONTAINED',
      message: 'run contained (budget-exhausted): too many errors',
      retryable: false,
      details: { cause: 'budget-exhausted' },
    };
    expect(s.run).toMatchObject({ status: 'contained', finishedAt: 20, error });
    expect(s.run.stages.a!.status).toBe('cancelled');
    expect(s.run.stages.b).toMatchObject({
      status: 'cancelled',
      waitDeadline: undefined,
      retryAt: undefined,
    });
    expect(s.events).toEqual([{ runId: 'r', event: 'run-contained', error, cause: 'budget-exhausted' }]);
    expect(s.effects).toEqual([
      {
        kind: 'cancel-task',
        stageId: 'a',
        taskId: 't1',
        attempt: 1,
        agentId: 'ag',
        reason: 'run contained: too many errors',
      },
      { kind: 'finished', status: 'contained' },
    ]);
    expect(isTerminalRun('contained')).toBe(true);
    expect(step(s.run, { type: 'contain', cause: 'x', reason: 'again' }, 21).changed).toBe(false);
    expect(step(s.run, { type: 'resume' }, 21).changed).toBe(false);
  });
});

describe('schedule-to-start', () => {
  const WAIT = `
name: w
version: 1
stages:
  - { id: a, task: { kind: noop }, scheduleToStartMs: 100, retries: { max: 1, backoffMs: 50 } }
  - { id: b, needs: [a], task: { kind: noop }, scheduleToStartMs: 100 }
  - { id: kid, agent: { tier: T1 }, task: { kind: pipeline, file: c.yaml } }
`;

  it('starts the clock of a stage when it becomes ready, not before, and never for a child pipeline', () => {
    const run = started(WAIT);
    expect(run.stages.a!.waitDeadline).toBe(105);
    expect(run.stages.b!.waitDeadline).toBeUndefined();
    expect(run.stages.kid!.waitDeadline).toBeUndefined();
    const fresh0 = fresh(WAIT);
    expect(fresh0.stages.a!.waitDeadline).toBeUndefined();
    let r = dispatched(run, 'a', 't1', 'ag', 10);
    expect(r.stages.a!.waitDeadline).toBeUndefined();
    r = step(r, { type: 'result', taskId: 't1', status: 'succeeded' }, 30).run;
    expect(r.stages.b!.waitDeadline).toBe(130);
  });

  it('lists the stages whose bound has passed, only in a running run', () => {
    const run = started(WAIT);
    expect(waitExpired(run, 104)).toEqual([]);
    expect(waitExpired(run, 105)).toEqual(['a']);
    expect(waitExpired(fresh(WAIT), 10_000)).toEqual([]);
  });

  it('fails the attempt nobody took with a retryable timeout that counts against retries, then retries after the pause', () => {
    const run = started(WAIT);
    expect(step(run, { type: 'schedule-timeout', stageId: 'a' }, 104).changed).toBe(false);
    expect(step(run, { type: 'schedule-timeout', stageId: 'b' }, 1_000).changed).toBe(false);
    expect(step(run, { type: 'schedule-timeout', stageId: 'zz' }, 1_000).changed).toBe(false);
    const s = step(run, { type: 'schedule-timeout', stageId: 'a' }, 105);
    const error = {
      code: 'GOV_ERR_SCHEDULE_TO_START_TIMEOUT',
      message: 'stage a attempt 1: no agent took it within 100 ms (scheduleToStartMs)',
      retryable: true,
      details: { stageId: 'a', attempt: 1, scheduleToStartMs: 100 },
    };
    expect(s.run.stages.a).toMatchObject({ status: 'pending', attempt: 1, error, retryAt: 155 });
    // Ready again once its pause ends: the new bound runs from there.
    expect(s.run.stages.a!.waitDeadline).toBe(255);
    expect(s.events).toEqual([{ runId: 'r', event: 'stage-retrying', stageId: 'a', attempt: 1, error }]);
    // The second timeout uses up retries.max = 1: the stage and the run fail.
    const again = step(s.run, { type: 'schedule-timeout', stageId: 'a' }, 255);
    expect(again.run.stages.a).toMatchObject({ status: 'failed', attempt: 2 });
    expect(again.run.status).toBe('failed');
    expect(step(again.run, { type: 'schedule-timeout', stageId: 'a' }, 999).changed).toBe(false);
  });
});
