import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineInvalidError } from '../../protocols/vocabulary/errors.ts';
import { agentResultsSubject, serviceSubject } from '../../protocols/subjects.ts';
import { CLOCK_SLACK_MS, waitFor } from '../harness/index.ts';
import { RESULTS_STREAM } from '../../bus/streams.ts';
import { DEFAULT_RESULTS_DURABLE } from '../../actors/orchestrator/options.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';

const rig = new OrchestratorRig();

beforeAll(async () => {
  await rig.start();
  await rig.orchestrator();
  for (const id of ['pool-1', 'pool-2', 'pool-3']) await rig.agent(id);
});
afterAll(() => rig.stop());

const stageState = async (runId: string) =>
  Object.fromEntries((await rig.state(runId)).stages.map((s) => [s.stageId, s]));

describe('orchestrator runs pipelines on agents', () => {
  it('runs a DAG with a parallel branch in dependency order, the branches at the same time', async () => {
    const runId = await rig.submit(`
name: diamond
version: 1
stages:
  - { id: a, task: { kind: noop } }
  - { id: b, needs: [a], task: { kind: sleep, ms: 300 } }
  - { id: c, needs: [a], task: { kind: sleep, ms: 300 } }
  - { id: d, needs: [b, c], task: { kind: noop } }
`);
    expect((await rig.finished(runId)).event).toBe('run-succeeded');
    const s = await stageState(runId);
    expect(Object.values(s).map((x) => x.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    expect(s.b!.startedAt!).toBeGreaterThanOrEqual(s.a!.finishedAt!);
    expect(s.c!.startedAt!).toBeGreaterThanOrEqual(s.a!.finishedAt!);
    expect(s.b!.startedAt!).toBeLessThan(s.c!.finishedAt!);
    expect(s.c!.startedAt!).toBeLessThan(s.b!.finishedAt!);
    expect(s.d!.startedAt!).toBeGreaterThanOrEqual(Math.max(s.b!.finishedAt!, s.c!.finishedAt!));
    expect(s.b!.agentId).not.toBe(s.c!.agentId);
    expect(rig.executions(runId)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
  });

  it('acts on a report as the agent publishes it, once, and acks its durable copy once the state is stored, leaving nothing for redelivery', async () => {
    const runId = await rig.submit(
      'name: fast\nversion: 1\nstages:\n  - { id: a, task: { kind: noop } }\n  - { id: b, needs: [a], task: { kind: sleep, ms: 20 } }\n',
    );
    expect((await rig.finished(runId)).event).toBe('run-succeeded');
    expect(rig.executions(runId)).toEqual({ a: 1, b: 1 });
    // Regression: the durable copy of a progress report was applied again, a second stage-progress event.
    expect(rig.events(runId).filter((e) => e.event === 'stage-progress')).toHaveLength(1);
    const consumer = await rig.client.consumer(
      { stream: RESULTS_STREAM, config: { durable_name: DEFAULT_RESULTS_DURABLE } },
      { declare: false },
    );
    await waitFor('every durable result copy acked', async () => {
      const info = await consumer.info();
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });
  });

  it('gives each task PIPELINE_ID and PARENT_PIPELINE_ID in its environment', async () => {
    const runId = await rig.submit(
      'name: env\nversion: 1\nstages:\n  - { id: only, task: { kind: noop } }\n',
    );
    await rig.finished(runId);
    const agent = rig.agents.find((a) => a.started.some((t) => t.runId === runId))!;
    const task = agent.started.find((t) => t.runId === runId)!;
    expect(task.env).toEqual({ PIPELINE_ID: runId, PARENT_PIPELINE_ID: '' });
    // Each agent reports on its own subject, where only its credential may publish.
    expect(task.replyTo).toBe(agentResultsSubject('orchestrator', agent.id));
  });

  it('retries a failing stage as declared, pausing backoffMs × factor between attempts, then fails the run', async () => {
    // The pause runs from the failure to the next dispatch. Run events cannot time it: each is stamped
    // when its state write is acknowledged, a write latency after the change. The agent's own clock can:
    // a fail task fails the instant it starts (before the orchestrator hears of it), and the next attempt
    // reaches the agent only after the orchestrator dispatched it, at failure + pause or later.
    const starts: number[] = [];
    await rig.agent('timed-retry', {
      role: 'timed-retry',
      // Beats at 100 ms (the rig's default) let a loaded machine's event-loop stall pass for a lost
      // agent, adding an uncounted attempt; this test is about the retry pauses, not loss detection.
      heartbeatMs: 1_000,
      onStart: (t) => {
        if (t.stageId === 'boom') starts.push(Date.now());
      },
    });
    const runId = await rig.submit(`
name: flaky
version: 1
stages:
  - id: boom
    agent: { role: timed-retry }
    task: { kind: fail, message: nope, code: DRILL }
    retries: { max: 2, backoffMs: 100, factor: 2 }
`);
    const end = await rig.finished(runId);
    expect(end.event).toBe('run-failed');
    expect(end.error).toMatchObject({ code: 'DRILL', details: { stageId: 'boom', attempts: 3 } });
    expect(rig.executions(runId)).toEqual({ boom: 3 });
    const dispatched = rig.events(runId).filter((e) => e.event === 'stage-dispatched');
    expect(dispatched.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(starts).toHaveLength(3);
    // Slack: a timer may fire early against Date.now() (test/harness/clock-slack.ts).
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(100 - CLOCK_SLACK_MS);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(200 - CLOCK_SLACK_MS);
    expect(rig.events(runId).filter((e) => e.event === 'stage-retrying')).toHaveLength(2);
  });

  it('times out a stage after timeoutMs, cancels the task on the agent and counts a failed attempt', async () => {
    const runId = await rig.submit(`
name: slow
version: 1
stages:
  - id: forever
    task: { kind: sleep, ms: 60000 }
    timeoutMs: 200
    retries: { max: 1, backoffMs: 0 }
`);
    const end = await rig.finished(runId);
    expect(end.event).toBe('run-failed');
    expect(end.error?.code).toBe('GOV_ERR_TIMEOUT');
    expect(
      rig
        .events(runId)
        .filter((e) => e.event === 'stage-timed-out')
        .map((e) => e.attempt),
    ).toEqual([1, 2]);
    expect(rig.executions(runId)).toEqual({ forever: 2 });
    // The agents were told to stop: none is still working on it.
    await waitFor('agents idle after the cancel', () => rig.agents.every((a) => a.state === 'idle'));
  });

  it('cancels a running run: the in-flight task is cancelled and pending stages never start', async () => {
    const runId = await rig.submit(`
name: long
version: 1
stages:
  - { id: first, task: { kind: sleep, ms: 60000 } }
  - { id: second, needs: [first], task: { kind: noop } }
`);
    await rig.event(runId, 'stage-accepted');
    const reply = await rig.client.ask(serviceSubject('orchestrator'), {
      type: 'run.cancel.v1',
      body: { runId, reason: 'test says stop' },
    });
    expect(reply.type === 'run.state.v1' && reply.body.status).toBe('cancelled');
    expect((await rig.finished(runId)).event).toBe('run-cancelled');
    const s = await stageState(runId);
    expect(s.first!.status).toBe('cancelled');
    expect(s.second!.status).toBe('cancelled');
    expect(rig.executions(runId)).toEqual({ first: 1 });
  });

  it('onFailure continue: the failed stage counts as done and the run succeeds', async () => {
    const runId = await rig.submit(`
name: tolerant
version: 1
stages:
  - { id: shaky, task: { kind: fail }, onFailure: continue }
  - { id: after, needs: [shaky], task: { kind: noop } }
`);
    expect((await rig.finished(runId)).event).toBe('run-succeeded');
    const s = await stageState(runId);
    expect([s.shaky!.status, s.after!.status]).toEqual(['failed', 'succeeded']);
  });

  it('onFailure skip-dependents: everything downstream is skipped, the other branch still runs', async () => {
    const runId = await rig.submit(`
name: skipper
version: 1
stages:
  - { id: drill, task: { kind: fail }, onFailure: skip-dependents }
  - { id: child, needs: [drill], task: { kind: noop } }
  - { id: grandchild, needs: [child], task: { kind: noop } }
  - { id: other, task: { kind: noop } }
`);
    expect((await rig.finished(runId)).event).toBe('run-succeeded');
    const s = await stageState(runId);
    expect([s.drill!.status, s.child!.status, s.grandchild!.status, s.other!.status]).toEqual([
      'failed',
      'skipped',
      'skipped',
      'succeeded',
    ]);
    expect(rig.executions(runId)).toEqual({ drill: 1, other: 1 });
  });

  it('onFailure fail: the run fails and stages not started are skipped', async () => {
    const runId = await rig.submit(`
name: strict
version: 1
stages:
  - { id: bad, task: { kind: fail, message: broken } }
  - { id: next, needs: [bad], task: { kind: noop } }
`);
    const end = await rig.finished(runId);
    expect(end.event).toBe('run-failed');
    expect(end.error?.message).toContain('stage bad failed after 1 attempt(s): broken');
    expect((await stageState(runId)).next!.status).toBe('skipped');
  });

  it('sends a stage only to an agent of at least its tier, role and team; admission refuses the run until one is registered, or waits for one when asked', async () => {
    const picky = `
name: picky
version: 1
stages:
  - id: build
    agent: { tier: T2, role: builder, team: core }
    task: { kind: noop }
`;
    await rig.agent('wrong-team', { tier: 'T2', role: 'builder', team: 'other' });
    await rig.agent('too-low', { tier: 'T1', role: 'builder', team: 'core' });
    await expect(rig.submit(picky, {}, undefined, 0)).rejects.toMatchObject({
      code: 'GOV_ERR_NO_ELIGIBLE_AGENT',
    });
    const submitted = rig.submit(picky, {}, undefined, 10_000);
    const right = await rig.agent('builder-t2', { tier: 'T2', role: 'builder', team: 'core' });
    const runId = await submitted;
    expect((await rig.finished(runId)).event).toBe('run-succeeded');
    expect((await stageState(runId)).build!.agentId).toBe(right.id);
  });

  it('refuses an invalid pipeline with GOV_ERR_PIPELINE_INVALID and its located diagnostics', async () => {
    const err = await rig
      .submit('name: broken\nversion: 1\nstages:\n  - { id: a, needs: [ghost], task: { kind: noop } }\n')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineInvalidError);
    expect((err as InstanceType<typeof PipelineInvalidError>).details?.diagnostics).toEqual([
      expect.objectContaining({ code: 'unknown-stage', line: 4, file: '<inline>' }),
    ]);
  });

  it('answers run.get for an unknown run with GOV_ERR_NOT_FOUND and lists runs newest first', async () => {
    await expect(rig.state('r-nope')).rejects.toMatchObject({ code: 'GOV_ERR_NOT_FOUND' });
    const reply = await rig.client.ask(serviceSubject('orchestrator'), {
      type: 'run.list.v1',
      body: { limit: 3 },
    });
    expect(reply.type === 'run.states.v1' && reply.body.runs.length).toBe(3);
    const runs = reply.type === 'run.states.v1' ? reply.body.runs : [];
    expect(runs[0]!.createdAt).toBeGreaterThanOrEqual(runs[1]!.createdAt);
  });
});
