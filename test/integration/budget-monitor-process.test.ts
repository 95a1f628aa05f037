/**
 * The budget monitor in its own OS process, SIGKILLed at the two moments chaos found fatal to a
 * breach: holding a run's `run-accepted` it had taken but not acked, and in the middle of acting on a
 * breach it had latched. The token authority and the orchestrator are stand-ins served by the test,
 * so it decides when they answer.
 */
import type { Msg } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { BreachStore } from '../../actors/error-budget/breach-store.ts';
import { budgetPolicyFromPipeline } from '../../actors/error-budget/pipeline-budget.ts';
import { compileBudget, DEFAULT_KEY_PREFIX } from '../../actors/error-budget/budget-policy.ts';
import { budgetKeys, RedisBudgetStore } from '../../actors/error-budget/budget-store.ts';
import { WarnOutbox } from '../../actors/error-budget/warn-outbox.ts';
import { systemClock } from '../../infra/clock/index.ts';
import { DEFAULT_BUDGET_RUN_KEY_PREFIX } from '../../actors/error-budget/budget-monitor-options.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../bus/bus.ts';
import { AUDIT_STREAM, ensureStreams } from '../../bus/streams.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { BodyIn, BodyOf } from '../../protocols/catalog.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import {
  allObs,
  auditSubject,
  serviceQueue,
  serviceSubject,
  startedSubject,
} from '../../protocols/subjects.ts';
import { type ProcessChild, spawnProcessChild } from '../../supervisors/process-child.ts';
import {
  auditStreamCounts,
  collect,
  credsFor,
  serve,
  TestServers,
  testBus,
  waitFor,
} from '../harness/index.ts';
import { governance, publishRunEvent } from './governance-setup.ts';

const servers = new TestServers();
let nats: NatsServer;
let redisUrl: string;
let client: Bus;
let feed: ReturnType<typeof collect>;
let started: ReturnType<typeof collect>;
const monitors: ProcessChild[] = [];
let incarnations = 0;
/** token.revoke.v1 requests the stand-in token authority received; it answers only while `answering`. */
const revokes: Array<BodyOf<'token.revoke.v1'>> = [];
let answering = true;
const diagnostics: Array<BodyOf<'run.request.v1'>> = [];

const DURABLE = 'budget-monitor';
/** Long enough that a restarted monitor handles later events before the unacked one comes again. */
const ACK_WAIT_MS = 25_000;

async function spawnMonitor(args: Record<string, unknown> = {}): Promise<ProcessChild> {
  const child = spawnProcessChild({
    kind: 'budget-monitor',
    id: 'bm-proc',
    natsUrl: nats.url,
    credentials: await credsFor(nats, { role: 'actor', kind: 'budget-monitor', id: 'bm-proc' }),
    args: { redisUrl, ackWaitMs: ACK_WAIT_MS, breachLeaseMs: 2_000, ...args },
    heartbeatMs: 500,
  });
  monitors.push(child);
  const n = ++incarnations;
  await started.next(() => started.seen.length >= n, 60_000);
  return child;
}

async function sigkill(child: ProcessChild): Promise<void> {
  child.signal('SIGKILL');
  expect((await child.exited).signal).toBe('SIGKILL');
}

async function consumer() {
  const jsm = await client.jetstreamManager();
  return jsm.consumers.info(AUDIT_STREAM, DURABLE);
}

const budgetOf = (maxErrors: number) =>
  governance({ errorBudget: { kind: 'count', maxErrors, windowMs: 600_000 } });

const failure = (runId: string, attempt: number, event: 'stage-retrying' | 'stage-failed') =>
  ({
    runId,
    event,
    stageId: 'boom',
    attempt,
    agentId: 'ag-x',
    error: { code: 'GOV_ERR_INTERNAL', message: 'exit 1', retryable: true },
  }) satisfies BodyIn<'run.event.v1'>;

const budgetEvent = (runId: string, event: string) => (e: Envelope) =>
  e.type === 'budget.event.v1' && e.body.runId === runId && e.body.event === event;
const handoffReady = (runId: string) => (e: Envelope) =>
  e.type === 'handoff.ready.v1' && e.body.runId === runId;

async function breached(runId: string): Promise<boolean> {
  const r = await client.ask(serviceSubject('budget-monitor'), {
    type: 'budget.status.v1',
    body: { runId },
  });
  return r.type === 'budget.state.v1' && r.body.breached;
}

beforeAll(async () => {
  nats = await servers.nats();
  redisUrl = (await servers.redis()).url;
  client = await testBus(nats.url, 'budget-monitor-process-test');
  servers.onStop(() => client.close());
  await ensureStreams(client);
  feed = collect(client, allObs());
  started = collect(client, startedSubject('budget-monitor', 'bm-proc'));
  // The stand-in token authority: a request it does not answer hangs the monitor's revoke step.
  client.subscribeRaw(
    serviceSubject('token-authority'),
    (msg: Msg) => {
      const d = client.decode(msg.data);
      if (!d.ok || d.env.type !== 'token.revoke.v1') return;
      revokes.push(d.env.body);
      if (!answering) return;
      client.respond(
        msg,
        {
          type: 'token.revoked.v1',
          body: {
            runId: d.env.body.runId,
            accessor: `acc-${d.env.body.runId}`,
            revoked: true,
            revokedAt: Date.now(),
            reason: d.env.body.reason,
            suspendedAgents: d.env.body.quarantineAgents ?? [],
          },
        },
        d.env,
      );
    },
    { queue: serviceQueue('token-authority') },
  );
  serve(
    client,
    serviceSubject('orchestrator'),
    (req) => {
      if (req.type !== 'run.request.v1') return undefined;
      diagnostics.push(req.body);
      return {
        type: 'run.accepted.v1',
        body: { runId: `diag-${diagnostics.length}`, pipeline: 'diagnostic', stages: ['open'] },
      };
    },
    { queue: serviceQueue('orchestrator') },
  );
  await client.flush();
}, 120_000);

afterAll(async () => {
  for (const m of monitors) if (!m.hasExited) await m.stop(10_000);
  await servers.stopAll();
});

describe('a budget monitor in its own process, SIGKILLed', () => {
  it("while holding a run's unacked run-accepted still breaches that run on its declared budget once the event comes again (regression: chaos kill-budget-monitor — the failing run's errors were judged by the default budget and it never breached)", async () => {
    const first = await spawnMonitor();
    // Stopped, it takes delivery of run-accepted (the pull it had open) and never acks it.
    first.signal('SIGSTOP');
    await publishRunEvent(client, { runId: 'rk-1', event: 'run-accepted', governance: budgetOf(1) });
    await waitFor('run-accepted delivered to the stopped monitor', async () => {
      const c = await consumer();
      return c.num_pending === 0 && c.num_ack_pending === 1;
    });
    await sigkill(first);

    await spawnMonitor();
    await publishRunEvent(client, failure('rk-1', 1, 'stage-retrying'));
    await publishRunEvent(client, failure('rk-1', 2, 'stage-failed'));
    // The premise: both failures were handled while run-accepted still waits for its redelivery.
    await waitFor('the failures handled before run-accepted came again', async () => {
      const c = await consumer();
      return c.num_pending === 0 && c.num_ack_pending === 1 && c.num_redelivered === 0;
    });
    const errors = await client.ask(serviceSubject('budget-monitor'), {
      type: 'budget.status.v1',
      body: { runId: 'rk-1' },
    });
    expect(errors.type === 'budget.state.v1' && errors.body.windows[0]!.errors).toBe(2);

    // Two errors against maxErrors 1: the breach comes with the redelivered run-accepted.
    await feed.next(budgetEvent('rk-1', 'breach'), ACK_WAIT_MS + 30_000);
    expect(await breached('rk-1')).toBe(true);
    await feed.next(handoffReady('rk-1'), 30_000);
  }, 120_000);

  it('in the middle of acting on a breach it latched: its successor finishes the job — revoke, diagnostic, handoff report — once (regression: a latched breach whose monitor died was never acted on)', async () => {
    const victim = monitors.at(-1)!;
    answering = false;
    await publishRunEvent(client, { runId: 'rk-2', event: 'run-accepted', governance: budgetOf(1) });
    await publishRunEvent(client, failure('rk-2', 1, 'stage-retrying'));
    await publishRunEvent(client, failure('rk-2', 2, 'stage-failed'));
    // The premise: the breach is latched and announced, and the monitor waits on the revoke.
    await feed.next(budgetEvent('rk-2', 'breach'), 30_000);
    await waitFor('the revoke asked', () => revokes.some((r) => r.runId === 'rk-2'));
    expect(feed.seen.some(handoffReady('rk-2'))).toBe(false);
    await sigkill(victim);

    answering = true;
    await spawnMonitor();
    await feed.next(handoffReady('rk-2'), ACK_WAIT_MS + 30_000);
    expect(revokes.filter((r) => r.runId === 'rk-2').length).toBeGreaterThanOrEqual(2);
    expect(diagnostics.filter((d) => d.parentRunId === 'rk-2')).toHaveLength(1);
    const report = await client.ask(serviceSubject('handoff'), {
      type: 'handoff.get.v1',
      body: { runId: 'rk-2' },
    });
    expect(report.type === 'handoff.report.v1' && report.body.report).toMatchObject({
      runId: 'rk-2',
      token: { revoked: true, accessor: 'acc-rk-2' },
      diagnostic: { pipeline: 'diagnostic', runId: expect.stringMatching(/^diag-/) },
    });
    // Once: the successor does not act again on its next sweeps, nor on the redelivered failure.
    await waitFor(
      'the redelivered failure acked',
      async () => (await consumer()).num_ack_pending === 0,
      60_000,
    );
    expect(feed.seen.filter(handoffReady('rk-2'))).toHaveLength(1);
    expect(diagnostics.filter((d) => d.parentRunId === 'rk-2')).toHaveLength(1);
  }, 180_000);

  for (const [runId, announced] of [
    ['rk-3', undefined],
    ['rk-4', true],
  ] as const) {
    it(`${announced ? 'announced before its record was written, the publish cut off' : 'stored before it was announced'}: the breach event kept in the record is published by the successor under its id, once (the record is its outbox)`, async () => {
      // What a SIGKILL leaves: a pending breach whose event never reached the stream.
      const redis = new Redis(redisUrl);
      try {
        const breaches = new BreachStore(redis, DEFAULT_BUDGET_RUN_KEY_PREFIX, 600_000);
        const cut = client.wrap({
          type: 'budget.event.v1',
          body: { runId, event: 'breach', verdict: 'breach', windows: [] },
          run: runId,
        });
        // Claimed by the dead monitor for a moment, as its successor finds it once the lease lapsed.
        await breaches.open(
          {
            runId,
            reportId: `handoff-${runId}`,
            trigger: { at: Date.now(), source: 'orchestrator', stageId: 'boom', agentId: 'ag-x' },
            verdict: 'breach',
            breachedAt: Date.now(),
            windows: [],
            errorCount: 2,
            breachEvent: cut,
            auditIds: [cut.id],
            ...(announced ? { announced } : {}),
          },
          'dead-monitor',
          50,
        );
        expect((await auditStreamCounts(client)).has(cut.id)).toBe(false);
        await feed.next(handoffReady(runId), 60_000);
        const counts = await auditStreamCounts(client);
        expect(counts.get(cut.id)?.count).toBe(1);
        // The monitor announced the stored envelope, not a fresh breach event of its own.
        const breachIds = [...counts.values()].filter(
          (c) =>
            c.env.type === 'budget.event.v1' &&
            (c.env.body as { runId: string; event: string }).runId === runId &&
            (c.env.body as { event: string }).event === 'breach',
        );
        expect(breachIds.map((c) => c.env.id)).toEqual([cut.id]);
        // The record lists the breach event, then its handoff.ready: each in the stream once.
        await waitFor('the breach finished', async () => (await breaches.get(runId))?.done === true);
        const ids = (await breaches.get(runId))?.auditIds ?? [];
        const after = await auditStreamCounts(client);
        expect(ids[0]).toBe(cut.id);
        expect(ids.map((id) => [after.get(id)?.env.type, after.get(id)?.count])).toEqual([
          ['budget.event.v1', 1],
          ['handoff.ready.v1', 1],
        ]);
      } finally {
        redis.disconnect();
      }
    }, 120_000);
  }
  it('with the handoff report stored and its handoff.ready kept in the breach record, the publish cut off: the successor publishes that event under its id, once (regression: a resumed breach built a second handoff.ready under a new id)', async () => {
    const runId = 'rk-5';
    const redis = new Redis(redisUrl);
    try {
      const breaches = new BreachStore(redis, DEFAULT_BUDGET_RUN_KEY_PREFIX, 600_000);
      const breach = client.wrap({
        type: 'budget.event.v1',
        body: { runId, event: 'breach', verdict: 'breach', windows: [] },
        run: runId,
      });
      const ready = client.wrap({
        type: 'handoff.ready.v1',
        body: {
          reportId: `handoff-${runId}`,
          reportSha256: '0'.repeat(64),
          runId,
          createdAt: Date.now(),
          reason: 'budget-exhausted',
          tokenAccessor: `acc-${runId}`,
        },
        run: runId,
      });
      // Every step done but the announcement of the report: what a SIGKILL after the record's write
      // and before (or during) the handoff.ready publish leaves.
      await breaches.open(
        {
          runId,
          reportId: `handoff-${runId}`,
          trigger: { at: Date.now(), source: 'orchestrator', stageId: 'boom', agentId: 'ag-x' },
          verdict: 'breach',
          breachedAt: Date.now(),
          windows: [],
          errorCount: 2,
          breachEvent: breach,
          announced: true,
          implicated: [],
          token: { accessor: `acc-${runId}`, revoked: true, suspendedAgents: [] },
          diagnostic: { pipeline: 'diagnostic', runId: 'diag-rk-5' },
          held: true,
          handoffEvent: ready,
          auditIds: [breach.id, ready.id],
        },
        'dead-monitor',
        50,
      );
      expect((await auditStreamCounts(client)).has(ready.id)).toBe(false);
      await waitFor('the breach finished', async () => (await breaches.get(runId))?.done === true, 60_000);
      const counts = await auditStreamCounts(client);
      const readies = [...counts.values()].filter(
        (c) => c.env.type === 'handoff.ready.v1' && (c.env.body as { runId: string }).runId === runId,
      );
      expect(readies.map((c) => [c.env.id, c.count])).toEqual([[ready.id, 1]]);
      expect((await breaches.get(runId))?.auditIds).toEqual([breach.id, ready.id]);
      expect(diagnostics.filter((d) => d.parentRunId === runId)).toHaveLength(0);
    } finally {
      redis.disconnect();
    }
  }, 120_000);
  for (const stored of [false, true]) {
    it(`a warn latched by a monitor SIGKILLed before the stream had it (${stored ? 'its envelope kept' : 'no envelope kept yet'}): the event it had not acked comes back and the warn is published${stored ? ' under the kept id' : ''}, once (regression: the redelivered event counted as a duplicate and the warn was lost)`, async () => {
      const runId = stored ? 'rw-2' : 'rw-1';
      const errorBudget = { kind: 'count' as const, maxErrors: 5, windowMs: 600_000, warn: 0.2 };
      if (!monitors.some((m) => !m.hasExited)) await spawnMonitor();
      await publishRunEvent(client, {
        runId,
        event: 'run-accepted',
        governance: governance({ errorBudget }),
      });
      await waitFor(
        'the monitor took run-accepted',
        async () => {
          const c = await consumer();
          return c.num_pending === 0 && c.num_ack_pending === 0;
        },
        60_000,
      );
      const redis = new Redis(redisUrl);
      try {
        // What the kill leaves: the failure counted and the warn latched (owed) by the budget script,
        // nothing published, the event unacked (it comes back below).
        const budgets = new RedisBudgetStore({ redis, clock: systemClock });
        const failed = client.wrap({
          type: 'run.event.v1',
          body: failure(runId, 1, 'stage-retrying'),
          run: runId,
        });
        const report = await budgets.record(
          runId,
          compileBudget(budgetPolicyFromPipeline(errorBudget)),
          'error',
          {
            eventId: failed.id,
          },
        );
        expect([report.firstWarn, report.verdict]).toEqual([true, 'warn']);
        const kept = client.wrap({
          type: 'budget.event.v1',
          body: { runId, event: 'warn', verdict: 'warn', windows: [] },
          run: runId,
        });
        if (stored) {
          const warns = new WarnOutbox(redis, DEFAULT_KEY_PREFIX, {
            wrap: () => kept,
            publish: async () => {},
          });
          expect(await warns.keep(runId, kept)).toBe(true);
        }
        const warnsOf = async () =>
          [...(await auditStreamCounts(client)).values()].filter(
            (c) =>
              c.env.type === 'budget.event.v1' &&
              (c.env.body as { runId: string; event: string }).runId === runId &&
              (c.env.body as { event: string }).event === 'warn',
          );
        expect(await warnsOf()).toEqual([]);

        await client.publishDurable(auditSubject('run', client.principal()), failed);
        await feed.next(budgetEvent(runId, 'warn'), 60_000);
        await waitFor(
          'the redelivered event acked',
          async () => (await consumer()).num_ack_pending === 0,
          60_000,
        );
        const warns = await warnsOf();
        expect(warns.map((c) => c.count)).toEqual([1]);
        if (stored) expect(warns[0]!.env.id).toBe(kept.id);
        expect(await redis.hget(budgetKeys(runId)[2], 'warnPending')).toBeNull();
      } finally {
        redis.disconnect();
      }
    }, 120_000);
  }
});
