/**
 * Identity from the subject, never from the body (issue #11): attackers holding genuine T0 and T1 agent
 * credentials report results and write audit events that speak for another agent. The broker refuses
 * the other agent's subjects; on their own subjects the orchestrator and the ledger writer refuse the
 * claim — not applied, published as `identity.refused.v1` on the feed and recorded so in the ledger —
 * and the victim's stage, and what the ledger says about the victim, are unchanged.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActorHandle } from '../../actors/runtime/index.ts';
import { ensureStreams } from '../../bus/streams.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { NoEligibleAgentError } from '../../protocols/vocabulary/errors.ts';
import type { Principal } from '../../protocols/permissions.ts';
import { agentResultsSubject, auditSubject, serviceSubject } from '../../protocols/subjects.ts';
import { connectWatched } from '../harness/index.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';
import { startWriter } from './ledger-helpers.ts';

const rig = new OrchestratorRig();
let writer: ActorHandle;
let runId: string;
let taskId: string;

const T0: Principal = { role: 'agent', id: 'mallory-0', tier: 'T0' };
const T1: Principal = { role: 'agent', id: 'mallory-1', tier: 'T1' };

beforeAll(async () => {
  await rig.start();
  await ensureStreams(rig.client);
  writer = await startWriter(rig.nats.url, 'lw-identity', rig.servers.tempDir('agov-identity-'));
  rig.servers.onStop(async () => {
    await writer.stop();
  });
  await rig.orchestrator();
  const victim = await rig.agent('victim-1', { tier: 'T1' });
  runId = await rig.submit(
    'name: victim\nversion: 1\nstages:\n  - { id: long, task: { kind: sleep, ms: 120000 } }\n',
  );
  await rig.event(runId, 'stage-accepted');
  taskId = victim.started.find((t) => t.runId === runId)!.taskId;
}, 60_000);

afterAll(async () => {
  await rig.client
    .ask(serviceSubject('orchestrator'), { type: 'run.cancel.v1', body: { runId, reason: 'test over' } })
    .catch(() => undefined);
  await rig.servers.stopAll();
});

/** A raw connection as `principal`, collecting the permission violations the server reports. */
async function as(principal: Principal): Promise<{ nc: NatsConnection; violations: string[] }> {
  const { nc, violations } = await connectWatched(rig.nats, principal);
  rig.servers.onStop(() => nc.close());
  return { nc, violations };
}

const envelope = (type: string, from: string, body: unknown, run?: string) =>
  JSON.stringify({ sv: 1, type, id: randomUUID(), ts: Date.now(), from, ...(run ? { run } : {}), body });

const forgedResult = (agentId: string, from: string) =>
  envelope(
    'agent.task.result.v1',
    from,
    { taskId, runId, stageId: 'long', attempt: 1, agentId, status: 'succeeded', durationMs: 1 },
    runId,
  );

const refusal = (sender: string) => (e: Envelope) =>
  e.type === 'identity.refused.v1' && (e.body as { sender: string }).sender === sender;

async function stage() {
  return (await rig.state(runId)).stages.find((s) => s.stageId === 'long')!;
}

async function ledger(query: Record<string, unknown>) {
  const r = await rig.client.ask(serviceSubject('ledger-writer'), {
    type: 'ledger.query.v1',
    body: query,
  } as never);
  return (r.body as { entries: Array<{ type: string; sender?: string; agent?: string; data: unknown }> })
    .entries;
}

describe('an agent that speaks for another agent', () => {
  for (const principal of [T0, T1]) {
    const self = principal.role === 'agent' ? principal.id : '';
    it(`as a ${principal.role === 'agent' ? principal.tier : ''} agent, cannot publish results or audit events on the victim's subjects, nor on the shared ones of before`, async () => {
      const { nc, violations } = await as(principal);
      for (const subject of [
        agentResultsSubject('orchestrator', 'victim-1'),
        'gov.results.orchestrator',
        auditSubject('agent', 'agent-victim-1'),
        auditSubject('agent'),
      ]) {
        nc.publish(subject, forgedResult('victim-1', `gov.actor.agent.${self}`));
        await nc.flush();
        await expect
          .poll(() => violations.join('\n'), { timeout: 10_000 })
          .toContain(`Permissions Violation for Publish to "${subject}"`);
      }
      expect((await stage()).status).toBe('running');
    });
  }

  it('as a T0 agent, reports a result naming the victim on its own subject: not applied, refused on the feed and in the ledger', async () => {
    const { nc, violations } = await as(T0);
    const refused = rig.feed.next(refusal('mallory-0'), 15_000);
    nc.publish(
      agentResultsSubject('orchestrator', 'mallory-0'),
      forgedResult('victim-1', 'gov.actor.agent.mallory-0'),
    );
    await nc.flush();
    expect((await refused).body).toMatchObject({
      sender: 'mallory-0',
      messageType: 'agent.task.result.v1',
      claimed: { agentId: 'victim-1' },
      runId,
    });
    expect(violations).toEqual([]);
    expect(await stage()).toMatchObject({ status: 'running', attempt: 1, agentId: 'victim-1' });
    expect(rig.events(runId).map((e) => e.event)).not.toContain('stage-succeeded');
    await expect
      .poll(async () => (await ledger({ run: runId, type: 'identity.refused.v1' })).length, {
        timeout: 15_000,
      })
      .toBeGreaterThanOrEqual(1);
  });

  it('as a T1 agent, reports a result in its own name for the victim’s task: not applied, refused on the feed and in the ledger', async () => {
    const { nc, violations } = await as(T1);
    const refused = rig.feed.next(refusal('mallory-1'), 15_000);
    nc.publish(
      agentResultsSubject('orchestrator', 'mallory-1'),
      forgedResult('mallory-1', 'gov.actor.agent.mallory-1'),
    );
    await nc.flush();
    expect((await refused).body).toMatchObject({
      sender: 'mallory-1',
      messageType: 'agent.task.result.v1',
      claimed: { taskId, stageId: 'long' },
      runId,
    });
    expect(violations).toEqual([]);
    expect(await stage()).toMatchObject({ status: 'running', attempt: 1, agentId: 'victim-1' });
    await expect
      .poll(async () => (await ledger({ run: runId, type: 'identity.refused.v1' })).length, {
        timeout: 15_000,
      })
      .toBe(2);
    const entries = await ledger({ run: runId, type: 'identity.refused.v1' });
    expect(entries.map((e) => (e.data as { sender: string }).sender).sort()).toEqual([
      'mallory-0',
      'mallory-1',
    ]);
  });

  it('as a T1 agent, writes an audit event naming the victim on its own audit subject: the ledger records the refusal under the verified sender, nothing as the victim', async () => {
    const { nc, violations } = await as(T1);
    const refused = rig.feed.next(refusal('agent-mallory-1'), 15_000);
    const forged = envelope('agent.transition.v1', 'gov.actor.agent.victim-1', {
      agentId: 'victim-1',
      from: 'idle',
      to: 'quarantined',
      event: 'QUARANTINE',
      tier: 'T2',
    });
    nc.publish(auditSubject('agent', 'agent-mallory-1'), forged);
    await nc.flush();
    expect((await refused).body).toMatchObject({
      sender: 'agent-mallory-1',
      messageType: 'agent.transition.v1',
      claimed: { agentId: 'victim-1' },
    });
    expect(violations).toEqual([]);
    const recorded = await ledger({ type: 'identity.refused.v1' });
    expect(recorded.filter((e) => e.sender === 'agent-mallory-1')).toHaveLength(1);
    expect(await ledger({ agent: 'victim-1', type: 'agent.transition.v1' })).toEqual([]);
  });

  it('as a T0 agent, registers on its own T0 subject and heartbeats stating T2: believed T0, so no T2 stage is admitted for it', async () => {
    const { nc, violations } = await as(T0);
    const status = { agentId: 'mallory-0', state: 'idle', tier: 'T2', restarts: 0 };
    const from = 'gov.actor.agent.mallory-0';
    const heartbeat = envelope('actor.heartbeat.v1', from, {
      actorId: 'mallory-0',
      kind: 'agent',
      seq: 1,
      pid: 1,
      host: 'x',
      uptimeMs: 1,
      mailboxDepth: 0,
      processed: 0,
      intervalMs: 100,
      status,
    });
    const announce = () => {
      nc.publish('gov.agents.register.T0.mallory-0', envelope('agent.register.v1', from, status));
      nc.publish('gov.sys.hb.agent.mallory-0', heartbeat);
    };
    announce();
    const beating = setInterval(announce, 100);
    try {
      const refused = await rig
        .submit(
          'name: t2\nversion: 1\nstages:\n  - { id: admin, task: { kind: noop }, agent: { tier: T2 } }\n',
          {},
          undefined,
          1_500,
        )
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NoEligibleAgentError);
    } finally {
      clearInterval(beating);
    }
    expect(violations).toEqual([]);
  });

  it('control: the victim’s genuine audit event and the attacker’s own are recorded as they are (the checks above can fail)', async () => {
    const { nc } = await as(T1);
    const own = envelope('agent.transition.v1', 'gov.actor.agent.mallory-1', {
      agentId: 'mallory-1',
      from: 'idle',
      to: 'idle',
      event: 'RESTORE',
      tier: 'T1',
    });
    nc.publish(auditSubject('agent', 'agent-mallory-1'), own);
    await nc.flush();
    await expect
      .poll(
        async () => (await ledger({ agent: 'mallory-1', type: 'agent.transition.v1' })).map((e) => e.sender),
        {
          timeout: 15_000,
        },
      )
      .toEqual(['agent-mallory-1']);
  });
});
