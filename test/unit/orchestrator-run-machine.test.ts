import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  dispatchable,
  newRun,
  nextDueAt,
  type RunRecord,
  step,
} from '../../actors/orchestrator/run-machine.ts';
import { instantiatePipeline, parsePipeline } from '../../protocols/pipeline/index.ts';

function pipeline(yaml: string) {
  const r = parsePipeline(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return instantiatePipeline(r.pipeline);
}

const DIAMOND = `
name: diamond
version: 1
stages:
  - { id: a, task: { kind: noop } }
  - { id: b, needs: [a], task: { kind: noop }, retries: { max: 2, backoffMs: 100, factor: 3 } }
  - { id: c, needs: [a], task: { kind: noop }, timeoutMs: 500 }
  - { id: d, needs: [b, c], task: { kind: noop } }
`;

function started(yaml = DIAMOND): RunRecord {
  return step(newRun({ runId: 'r1', pipeline: pipeline(yaml), owner: 'o1', now: 0 }), { type: 'start' }, 0)
    .run;
}

/** Dispatches `stageId` and has it succeed. */
function complete(run: RunRecord, stageId: string, now: number): RunRecord {
  let r = step(run, { type: 'dispatch', stageId, agentId: 'ag', taskId: `t-${stageId}-${now}` }, now).run;
  r = step(r, { type: 'result', taskId: `t-${stageId}-${now}`, status: 'succeeded' }, now + 1).run;
  return r;
}

describe('run machine', () => {
  it('offers stages for dispatch only once their needs are done, in declaration order', () => {
    let run = started();
    expect(dispatchable(run, 0).map((s) => s.id)).toEqual(['a']);
    run = complete(run, 'a', 1);
    expect(dispatchable(run, 2).map((s) => s.id)).toEqual(['b', 'c']);
    run = complete(run, 'b', 3);
    expect(dispatchable(run, 4).map((s) => s.id)).toEqual(['c']);
    run = complete(run, 'c', 5);
    expect(dispatchable(run, 6).map((s) => s.id)).toEqual(['d']);
    const end = step(
      step(run, { type: 'dispatch', stageId: 'd', agentId: 'x', taskId: 'td' }, 7).run,
      { type: 'result', taskId: 'td', status: 'succeeded' },
      8,
    );
    expect(end.run.status).toBe('succeeded');
    expect(end.events.map((e) => e.event)).toEqual(['stage-accepted', 'stage-succeeded', 'run-succeeded']);
    expect(end.effects).toEqual([{ kind: 'finished', status: 'succeeded' }]);
  });

  it('asks for the assign as an effect and records the attempt, agent and deadline', () => {
    const s = step(started(), { type: 'dispatch', stageId: 'a', agentId: 'ag-1', taskId: 't1' }, 10);
    expect(s.effects).toEqual([{ kind: 'assign', stageId: 'a', taskId: 't1', attempt: 1, agentId: 'ag-1' }]);
    expect(s.run.stages.a).toMatchObject({
      status: 'dispatched',
      attempt: 1,
      agentId: 'ag-1',
      taskId: 't1',
      startedAt: 10,
    });
    expect(s.run.stages.a!.deadline).toBe(10 + s.run.pipeline.stages[0]!.timeoutMs);
  });

  it('ignores results of other or earlier attempts', () => {
    const run = step(started(), { type: 'dispatch', stageId: 'a', agentId: 'ag', taskId: 't-new' }, 1).run;
    const stale = step(run, { type: 'result', taskId: 't-old', status: 'succeeded' }, 2);
    expect(stale.changed).toBe(false);
    expect(stale.run).toBe(run);
    const done = step(run, { type: 'result', taskId: 't-new', status: 'succeeded' }, 2).run;
    expect(step(done, { type: 'result', taskId: 't-new', status: 'failed' }, 3).changed).toBe(false);
  });

  it('retries a failed attempt after backoffMs × factor^(n-1), then fails the stage and the run', () => {
    let run = complete(started(), 'a', 0);
    const fail = (r: RunRecord, now: number) => {
      const d = step(r, { type: 'dispatch', stageId: 'b', agentId: 'ag', taskId: `t${now}` }, now).run;
      return step(
        d,
        {
          type: 'result',
          taskId: `t${now}`,
          status: 'failed',
          error: { code: 'X', message: 'no', retryable: false },
        },
        now,
      );
    };
    let s = fail(run, 10);
    expect(s.run.stages.b).toMatchObject({ status: 'pending', retryAt: 110 });
    expect(s.events.map((e) => e.event)).toContain('stage-retrying');
    expect(dispatchable(s.run, 109).map((x) => x.id)).toEqual(['c']);
    expect(dispatchable(s.run, 110).map((x) => x.id)).toEqual(['b', 'c']);
    expect(nextDueAt(s.run, 0)).toBe(110);
    s = fail(s.run, 110);
    expect(s.run.stages.b!.retryAt).toBe(110 + 300);
    s = fail(s.run, 410);
    expect(s.run.stages.b).toMatchObject({ status: 'failed', attempt: 3 });
    expect(s.run.status).toBe('failed');
    expect(s.run.error).toMatchObject({ code: 'X', details: { stageId: 'b', attempts: 3 } });
    expect(s.run.stages.d!.status).toBe('skipped');
    run = s.run;
    expect(dispatchable(run, 10_000)).toEqual([]);
  });

  it('caps the backoff at maxBackoffMs', () => {
    const def = pipeline(
      'name: x\nversion: 1\nstages:\n  - { id: a, task: { kind: noop }, retries: { max: 9, backoffMs: 1000, factor: 10, maxBackoffMs: 5000 } }\n',
    ).stages[0]!;
    expect([1, 2, 3].map((n) => backoffMs(def, n))).toEqual([1000, 5000, 5000]);
  });

  it('times out an attempt: the task is cancelled on its agent and the attempt counts as failed', () => {
    let run = complete(started(), 'a', 0);
    run = step(run, { type: 'dispatch', stageId: 'c', agentId: 'slow', taskId: 'tc' }, 10).run;
    expect(nextDueAt(run, 0)).toBe(510);
    const s = step(run, { type: 'timeout', taskId: 'tc' }, 510);
    expect(s.events.map((e) => e.event)).toEqual([
      'stage-timed-out',
      'stage-failed',
      'stage-skipped',
      'stage-skipped',
      'run-failed',
    ]);
    expect(s.effects).toContainEqual({
      kind: 'cancel-task',
      stageId: 'c',
      taskId: 'tc',
      attempt: 1,
      agentId: 'slow',
      reason: 'stage timed out after 500 ms',
    });
    expect(s.run.error?.code).toBe('GOV_ERR_TIMEOUT');
  });

  it('retries an attempt lost with its agent at once, on another agent, without using up retries', () => {
    let run = started('name: x\nversion: 1\nstages:\n  - { id: a, task: { kind: noop } }\n');
    run = step(run, { type: 'dispatch', stageId: 'a', agentId: 'dead', taskId: 't1' }, 5).run;
    const s = step(
      run,
      { type: 'lost', taskId: 't1', error: { code: 'GOV_ERR_AGENT_LOST', message: 'gone', retryable: true } },
      9,
    );
    expect(s.run.stages.a).toMatchObject({ status: 'pending', retryAt: 9, lost: 1, avoid: ['dead'] });
    expect(s.run.status).toBe('running');
  });

  it('a refused dispatch is not an attempt', () => {
    let run = step(started(), { type: 'dispatch', stageId: 'a', agentId: 'busy', taskId: 't1' }, 1).run;
    run = step(
      run,
      {
        type: 'refused',
        taskId: 't1',
        agentId: 'busy',
        error: { code: 'GOV_ERR_AGENT_BUSY', message: 'busy', retryable: true },
      },
      2,
    ).run;
    expect(run.stages.a).toMatchObject({ status: 'pending', attempt: 0 });
    expect(dispatchable(run, 2).map((s) => s.id)).toEqual(['a']);
  });

  it('cancel stops in-flight tasks and child runs and cancels everything pending', () => {
    let run = started(
      'name: x\nversion: 1\nstages:\n  - { id: a, task: { kind: noop } }\n  - { id: kid, agent: { tier: T1 }, task: { kind: pipeline, name: t } }\n  - { id: z, needs: [a], task: { kind: noop } }\ntemplates:\n  t:\n    stages:\n      - { id: q, task: { kind: noop } }\n',
    );
    run = step(run, { type: 'dispatch', stageId: 'a', agentId: 'ag', taskId: 'ta' }, 1).run;
    run = step(run, { type: 'start-child', stageId: 'kid', childRunId: 'r-child' }, 1).run;
    const s = step(run, { type: 'cancel', reason: 'operator' }, 2);
    expect(s.run.status).toBe('cancelled');
    expect(Object.values(s.run.stages).map((x) => x.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(s.effects).toEqual([
      { kind: 'cancel-task', stageId: 'a', taskId: 'ta', attempt: 1, agentId: 'ag', reason: 'operator' },
      { kind: 'cancel-child', stageId: 'kid', childRunId: 'r-child', reason: 'operator' },
      { kind: 'finished', status: 'cancelled' },
    ]);
    expect(s.run.error?.code).toBe('GOV_ERR_RUN_CANCELLED');
  });

  it('a child run that finishes decides its stage', () => {
    let run = started(
      'name: x\nversion: 1\nstages:\n  - { id: kid, agent: { tier: T1 }, task: { kind: pipeline, file: c.yaml } }\n',
    );
    run = step(run, { type: 'start-child', stageId: 'kid', childRunId: 'r-c' }, 1).run;
    expect(step(run, { type: 'child-finished', childRunId: 'r-other', status: 'succeeded' }, 2).changed).toBe(
      false,
    );
    const s = step(run, { type: 'child-finished', childRunId: 'r-c', status: 'succeeded' }, 2);
    expect(s.run.status).toBe('succeeded');
  });

  it('events of a child run carry the parent run id', () => {
    const child = newRun({
      runId: 'r-c',
      pipeline: pipeline('name: c\nversion: 1\nstages:\n  - { id: a, task: { kind: noop } }\n'),
      owner: 'o',
      now: 0,
      parentRunId: 'r-p',
    });
    const s = step(child, { type: 'start' }, 0);
    expect(s.events).toEqual([{ runId: 'r-c', parentRunId: 'r-p', event: 'run-started' }]);
  });

  it('contain ends the run at once: in-flight tasks cancelled, pending stages never dispatched nor retried, status contained with its cause', () => {
    let run = started();
    run = complete(run, 'a', 1);
    run = step(run, { type: 'dispatch', stageId: 'b', agentId: 'ag-b', taskId: 'tb' }, 2).run;
    // c failed once and waits for its retry: a contained run must not retry it.
    run = step(run, { type: 'dispatch', stageId: 'c', agentId: 'ag-c', taskId: 'tc' }, 2).run;
    const s = step(run, { type: 'contain', cause: 'budget-exhausted', reason: 'error budget exhausted' }, 3);
    expect(s.run.status).toBe('contained');
    expect(s.run.error).toMatchObject({
      code: 'GOV_ERR_RUN_CONTAINED',
      details: { cause: 'budget-exhausted' },
    });
    expect(s.effects.filter((e) => e.kind === 'cancel-task').map((e) => e.agentId)).toEqual(['ag-b', 'ag-c']);
    expect(s.effects.at(-1)).toEqual({ kind: 'finished', status: 'contained' });
    expect(s.events.at(-1)).toMatchObject({ event: 'run-contained', cause: 'budget-exhausted' });
    expect(s.events.some((e) => e.event === 'stage-skipped')).toBe(false);
    expect(s.run.stages.d!.status).toBe('cancelled');
    expect(dispatchable(s.run, 10_000)).toEqual([]);
    expect(nextDueAt(s.run, 0)).toBeUndefined();
    // A result that comes after the containment changes nothing (the orchestrator rejects and audits it).
    expect(step(s.run, { type: 'result', taskId: 'tb', status: 'succeeded' }, 4).changed).toBe(false);
    expect(step(s.run, { type: 'contain', cause: 'policy-violation', reason: 'again' }, 5).changed).toBe(
      false,
    );
  });

  it('starts the schedule-to-start clock of a stage when it becomes ready, and fails the attempt when no agent took it in time (it counts)', () => {
    const yaml =
      'name: w\nversion: 1\nstages:\n  - { id: a, task: { kind: noop }, scheduleToStartMs: 1000, retries: { max: 1, backoffMs: 50 } }\n  - { id: b, needs: [a], task: { kind: noop }, scheduleToStartMs: 300 }\n';
    let run = started(yaml);
    expect(run.stages.a!.waitDeadline).toBe(1000);
    expect(run.stages.b!.waitDeadline).toBeUndefined();
    expect(nextDueAt(run, 0)).toBe(1000);
    expect(step(run, { type: 'schedule-timeout', stageId: 'a' }, 999).changed).toBe(false);
    let s = step(run, { type: 'schedule-timeout', stageId: 'a' }, 1000);
    expect(s.events).toMatchObject([
      {
        event: 'stage-retrying',
        stageId: 'a',
        attempt: 1,
        error: { code: 'GOV_ERR_SCHEDULE_TO_START_TIMEOUT' },
      },
    ]);
    run = s.run;
    // The retry waits from the end of its pause.
    expect(run.stages.a).toMatchObject({ status: 'pending', attempt: 1, retryAt: 1050, waitDeadline: 2050 });
    s = step(run, { type: 'schedule-timeout', stageId: 'a' }, 2050);
    expect(s.events.map((e) => e.event)).toEqual(['stage-failed', 'stage-skipped', 'run-failed']);
    expect(s.run.error?.code).toBe('GOV_ERR_SCHEDULE_TO_START_TIMEOUT');
  });

  it('a dispatched stage has no schedule-to-start bound; its dependents get theirs when it is done', () => {
    const yaml =
      'name: w\nversion: 1\nstages:\n  - { id: a, task: { kind: noop } }\n  - { id: b, needs: [a], task: { kind: noop }, scheduleToStartMs: 300 }\n';
    let run = started(yaml);
    run = step(run, { type: 'dispatch', stageId: 'a', agentId: 'ag', taskId: 'ta' }, 5).run;
    expect(run.stages.a!.waitDeadline).toBeUndefined();
    run = step(run, { type: 'result', taskId: 'ta', status: 'succeeded' }, 20).run;
    expect(run.stages.b!.waitDeadline).toBe(320);
    expect(run.pipeline.stages[0]!.scheduleToStartMs).toBe(5 * 60_000);
  });
});
