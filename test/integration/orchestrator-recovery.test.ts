import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoRespondersError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox, allAgentResults, serviceSubject } from '../../protocols/subjects.ts';
import { collect, waitFor } from '../harness/index.ts';
import { isSupEvent, startSupervisor, treeOf } from '../harness/supervision.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';

const rig = new OrchestratorRig();

beforeAll(async () => {
  await rig.start();
  for (const id of ['rec-1', 'rec-2', 'rec-3']) await rig.agent(id);
});
afterAll(() => rig.stop());

const chain = (name: string, sleepMs: number) => `
name: ${name}
version: 1
stages:
  - { id: a, task: { kind: noop } }
  - { id: b, needs: [a], task: { kind: sleep, ms: ${sleepMs} } }
  - { id: c, needs: [b], task: { kind: noop } }
  - { id: d, needs: [c], task: { kind: noop } }
`;

describe('orchestrator recovery', () => {
  it('resumes a run after the orchestrator is killed mid-run, without running a completed stage twice', async () => {
    const first = await rig.orchestrator('orch-rec');
    const runId = await rig.submit(chain('resume-in-host', 1500));
    await rig.event(runId, 'stage-accepted', (e) => e.stageId === 'b');
    await rig.kill(first);
    // Premise: the kill came mid-run, with stage b still running.
    const ended = ['stage-succeeded', 'stage-failed', 'stage-retrying'];
    expect(rig.events(runId).filter((e) => e.stageId === 'b' && ended.includes(e.event))).toEqual([]);
    expect(rig.executions(runId)).toEqual({ a: 1, b: 1 });
    const second = await rig.orchestrator('orch-rec');
    await rig.event(runId, 'run-resumed');
    expect((await rig.finished(runId)).event).toBe('run-succeeded');
    expect(rig.executions(runId)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
    await second.stop();
  });

  it('resumes a run after the orchestrator OS process is SIGKILLed and started again', async () => {
    const orchestrator = await rig.orchestratorProcess('orch-proc');
    const proc = await orchestrator.start();
    const runId = await rig.submit(chain('resume-process', 6000));
    await rig.event(runId, 'stage-accepted', (e) => e.stageId === 'b');
    proc.signal('SIGKILL');
    expect((await proc.exited).signal).toBe('SIGKILL');
    const again = await orchestrator.start();
    expect((await rig.finished(runId, 45_000)).event).toBe('run-succeeded');
    expect(rig.executions(runId)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
    await again.stop(5_000);
  });

  it('resumes a run after its supervisor restarts the SIGKILLed orchestrator process, without running a completed stage twice', async () => {
    const sup = await startSupervisor(rig.nats.url, {
      id: 'sup-orch',
      strategy: 'one_for_one',
      intensity: 5,
      periodMs: 60_000,
      children: [
        {
          id: 'orch-sup',
          start: {
            kind: 'process',
            actorKind: 'orchestrator',
            actorId: 'orch-sup',
            env: { AGOV_NO_BUNDLE: '1' },
          },
          shutdownMs: 5_000,
        },
      ],
    });
    rig.servers.onStop(() => sup.stop('test over', 10_000).then(() => undefined));
    const orchestratorPid = async () => {
      const child = (await treeOf(rig.client, 'sup-orch')).children[0]!;
      return child.status === 'running' ? child.pid : undefined;
    };
    const first = await waitFor('the supervised orchestrator running', orchestratorPid, 60_000, 100);
    const runId = await rig.submit(chain('resume-supervised', 6000));
    await rig.event(runId, 'stage-accepted', (e) => e.stageId === 'b');
    process.kill(first, 'SIGKILL');
    // Nobody but the supervisor starts an orchestrator here: the run can only finish on its replacement.
    expect((await rig.finished(runId, 60_000)).event).toBe('run-succeeded');
    const restarted = rig.feed.seen.filter((e) =>
      isSupEvent(e, { supervisorId: 'sup-orch', event: 'child-started', childId: 'orch-sup' }),
    );
    expect(restarted).toHaveLength(2);
    expect(await orchestratorPid()).not.toBe(first);
    expect(rig.events(runId).some((e) => e.event === 'run-resumed')).toBe(true);
    expect(rig.executions(runId)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
    // Its orchestrator must not outlive the test: it would answer for the ones that follow.
    await sup.stop('test over', 10_000);
  });

  it('takes a result sent while no orchestrator runs once one starts again, so the stage runs exactly once', async () => {
    const results = collect(rig.client, allAgentResults('orchestrator'));
    await results.ready();
    const first = await rig.orchestrator('orch-durable');
    const runId = await rig.submit(chain('result-while-down', 800));
    await rig.event(runId, 'stage-accepted', (e) => e.stageId === 'b');
    await rig.kill(first);
    // Stage b's agent reports while no orchestrator is up: the RESULTS stream keeps the result.
    await results.next(
      (e) => e.type === 'agent.task.result.v1' && e.body.runId === runId && e.body.stageId === 'b',
    );
    results.close();
    // Premise: the result really arrived while no orchestrator ran (nobody answers on its inbox or service).
    for (const subject of [actorInbox('orchestrator', 'orch-durable'), serviceSubject('orchestrator')])
      await expect(
        rig.client.ask(subject, { type: 'actor.ping.v1', body: {} }, { timeoutMs: 1_000 }),
      ).rejects.toBeInstanceOf(NoRespondersError);
    const second = await rig.orchestrator('orch-durable');
    expect((await rig.finished(runId)).event).toBe('run-succeeded');
    expect(rig.executions(runId)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
    expect(rig.events(runId).filter((e) => e.event === 'stage-retrying')).toEqual([]);
    const state = await rig.state(runId);
    expect(state.stages.map((s) => [s.stageId, s.status, s.attempt])).toEqual([
      ['a', 'succeeded', 1],
      ['b', 'succeeded', 1],
      ['c', 'succeeded', 1],
      ['d', 'succeeded', 1],
    ]);
    await second.stop();
  });

  it('adopts at start a run whose owner died with its agent: nothing else about the run arrives, and the heir finishes it', async () => {
    const owner = await rig.orchestrator('orch-owner');
    const runId = await rig.submit(chain('adopt-on-start', 4000));
    const accepted = await rig.event(runId, 'stage-accepted', (e) => e.stageId === 'b');
    // The owner and stage b's agent die together: no result, progress or heartbeat will name the run, so
    // only the heir's start-up adoption (recover) can pick it up.
    await rig.kill(owner);
    const agent = rig.agents.find((a) => a.id === accepted.agentId);
    if (!agent) throw new Error(`stage b ran on an unknown agent ${accepted.agentId}`);
    await agent.kill();
    const heir = await rig.orchestrator('orch-heir-1');
    const resumed = await rig.feed.next(
      (e) => e.type === 'run.event.v1' && e.body.runId === runId && e.body.event === 'run-resumed',
    );
    expect(resumed.from).toBe(actorInbox('orchestrator', 'orch-heir-1'));
    const end = await rig.finishedEnvelope(runId);
    expect(end.body.event).toBe('run-succeeded');
    expect(end.from).toBe(actorInbox('orchestrator', 'orch-heir-1'));
    // Stage a ran once; b ran again on a live agent (its first agent died), c and d once.
    expect(rig.executions(runId)).toEqual({ a: 1, b: 2, c: 1, d: 1 });
    await heir.stop();
  });

  it("adopts a run whose owner died when the run's next result reaches a live orchestrator that saw the owner alive", async () => {
    const owner = await rig.orchestrator('orch-owner-2');
    const runId = await rig.submit(chain('adopt-on-result', 1500));
    await rig.event(runId, 'stage-accepted', (e) => e.stageId === 'b');
    // Started while the owner lives: its recover() leaves the run alone.
    const heir = await rig.orchestrator('orch-heir-2');
    await rig.kill(owner);
    const end = await rig.finishedEnvelope(runId);
    expect(end.body.event).toBe('run-succeeded');
    expect(end.from).toBe(actorInbox('orchestrator', 'orch-heir-2'));
    expect(rig.executions(runId)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
    await heir.stop();
  });

  it('retries the stage of an agent killed mid-task on another agent', async () => {
    const orch = await rig.orchestrator('orch-agents');
    const victimA = await rig.agent('victim-a', { role: 'fragile' });
    const victimB = await rig.agent('victim-b', { role: 'fragile' });
    const runId = await rig.submit(`
name: agent-dies
version: 1
stages:
  - { id: work, agent: { role: fragile }, task: { kind: sleep, ms: 1500 } }
`);
    const accepted = await rig.event(runId, 'stage-accepted');
    const victim = accepted.agentId === victimA.id ? victimA : victimB;
    const survivor = victim === victimA ? victimB : victimA;
    await victim.kill();
    const retrying = await rig.event(runId, 'stage-retrying');
    expect(retrying.error).toMatchObject({ code: 'GOV_ERR_AGENT_LOST', retryable: true });
    expect((await rig.finished(runId)).event).toBe('run-succeeded');
    const state = await rig.state(runId);
    expect(state.stages[0]).toMatchObject({ status: 'succeeded', attempt: 2, agentId: survivor.id });
    await orch.stop();
  });
});
