/**
 * The budget monitor's own decisions, one input at a time, over real nats-server (the feed, agent
 * commands) and redis-server (counters, run facts, quarantine), on a manual clock. The monitor is driven
 * directly (`onRunEvent`, `onReport`, `handle`, `releaseDue`) and the breach response is replaced by a
 * recorder, so each test sees exactly what the monitor decided; breach-response and the actors'
 * conversation are covered by governance-budget.test.ts. The actor kind is exercised at the end.
 */
import { busWarnSender, WarnOutbox } from '../../actors/error-budget/warn-outbox.ts';
import { DEFAULT_KEY_PREFIX } from '../../actors/error-budget/budget-policy.ts';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetMonitor, budgetMonitorKind } from '../../actors/error-budget/budget-monitor.ts';
import {
  type BudgetMonitorArgs,
  BudgetMonitorArgsSchema,
} from '../../actors/error-budget/budget-monitor-options.ts';
import { BreachStore } from '../../actors/error-budget/breach-store.ts';
import {
  BudgetRunStore,
  type RunFacts,
  type TimelineError,
} from '../../actors/error-budget/budget-run-store.ts';
import { type BudgetReport, RedisBudgetStore } from '../../actors/error-budget/budget-store.ts';
import { HandoffStore } from '../../actors/error-budget/handoff-store.ts';
import type { HandoffReport } from '../../actors/error-budget/handoff-report.ts';
import { QuarantineStore } from '../../actors/error-budget/quarantine-store.ts';
import { type ActorContext, runActor } from '../../actors/runtime/index.ts';
import type { Bus } from '../../bus/bus.ts';
import { ensureStreams } from '../../bus/streams.ts';
import { ManualClock } from '../../infra/index.ts';
import { DEFAULT_ERROR_BUDGET_WINDOW_MS } from '../../protocols/pipeline/options.ts';
import { createLogger } from '../../infra/logger.ts';
import type { BodyIn, BodyOf } from '../../protocols/catalog.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { InvalidMessageError, NotFoundError } from '../../protocols/index.ts';
import {
  actorInbox,
  allObs,
  errorsSubject,
  heartbeatSubject,
  serviceSubject,
} from '../../protocols/subjects.ts';
import { collect, TestServers, testBus, waitFor } from '../harness/index.ts';
import { governance, publishRunEvent } from './governance-setup.ts';

let servers: TestServers;
let client: Bus;
let redisUrl: string;
let natsUrl: string;
let feed: ReturnType<typeof collect>;

beforeAll(async () => {
  servers = new TestServers();
  const nats = await servers.nats();
  const redis = await servers.redis();
  natsUrl = nats.url;
  redisUrl = redis.url;
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
  await ensureStreams(client);
  feed = collect(client, allObs());
  await feed.ready();
});
afterAll(() => servers.stopAll());

interface Latched {
  runId: string;
  report: BudgetReport;
  trigger: TimelineError;
  facts: RunFacts;
}

/** A monitor on its own key prefixes and clock, its breach response recorded instead of acted on. */
async function monitor(over: Partial<Record<keyof BudgetMonitorArgs, unknown>> = {}) {
  const redis = redisOf();
  const p = `agov:test-bm:${randomUUID().slice(0, 8)}`;
  const args = BudgetMonitorArgsSchema.parse({
    redisUrl,
    keyPrefix: `${p}:gov`,
    budgetKeyPrefix: `${p}:budget`,
    handoffKeyPrefix: `${p}:handoff`,
    quarantineKeyPrefix: `${p}:q`,
    ...over,
  });
  const clock = new ManualClock(Date.now());
  const ctx = {
    id: 'bm-t',
    bus: client,
    clock,
    log: createLogger({}, 'error'),
    args,
  } as unknown as ActorContext;
  const m = new BudgetMonitor(
    ctx,
    args,
    new RedisBudgetStore({ redis, clock, keyPrefix: args.budgetKeyPrefix }),
    new BudgetRunStore(redis, args.keyPrefix, args.timelineErrors, 60_000),
    new HandoffStore(redis, args.handoffKeyPrefix),
    new QuarantineStore(redis, args.quarantineKeyPrefix),
    new BreachStore(redis, args.keyPrefix, 60_000),
    new WarnOutbox(redis, args.budgetKeyPrefix ?? DEFAULT_KEY_PREFIX, busWarnSender(client)),
  );
  const latched: Latched[] = [];
  m.responder.latched = async (runId, report, trigger, facts) => {
    latched.push({ runId, report, trigger, facts });
  };
  let seq = 0;
  /** Hands the monitor one run event as its consumer would (the next stream sequence). */
  const event = async (
    body: BodyIn<'run.event.v1'>,
    env = client.wrap({ type: 'run.event.v1', body, run: body.runId }),
  ) => {
    seq++;
    await m.onRunEvent(env as Envelope<'run.event.v1'>, { seq, redelivered: false });
    return env;
  };
  const report = async (body: BodyIn<'budget.report.v1'>) => {
    const env = client.wrap({ type: 'budget.report.v1', body }) as Envelope<'budget.report.v1'>;
    await m.onReport(env);
    return env;
  };
  const status = async (runId: string) => {
    const r = await m.handle(client.wrap({ type: 'budget.status.v1', body: { runId } }), 'svc');
    if (r?.type !== 'budget.state.v1') throw new Error(`status answered ${r?.type}`);
    return r.body;
  };
  const errorsOf = async (runId: string) => (await status(runId)).windows[0]?.errors;
  return { m, args, clock, redis, latched, event, report, status, errorsOf };
}

// The default window: counts made before a run's run-accepted use the stand-in default budget, whose
// bucket width follows its window (see docs/testing.md, budget-monitor).
const WINDOW_MS = DEFAULT_ERROR_BUDGET_WINDOW_MS;
const count = (maxErrors: number) =>
  governance({ errorBudget: { kind: 'count', maxErrors, windowMs: WINDOW_MS } });
const failed = (runId: string, attempt: number, over: Partial<BodyIn<'run.event.v1'>> = {}) =>
  ({
    runId,
    event: 'stage-failed',
    stageId: 'build',
    attempt,
    agentId: 'ag-1',
    error: { code: 'GOV_ERR_INTERNAL', message: `exit ${attempt}`, retryable: true },
    ...over,
  }) as BodyIn<'run.event.v1'>;
const errorReport = (runId: string, over: Partial<BodyIn<'budget.report.v1'>> = {}) =>
  ({
    runId,
    source: 'agent:ag-1',
    outcome: 'error',
    code: 'E_TOOL',
    message: 'bad',
    ...over,
  }) as BodyIn<'budget.report.v1'>;

const budgetEvents = (runId: string, event?: string) =>
  feed.seen.filter(
    (e): e is Envelope<'budget.event.v1'> =>
      e.type === 'budget.event.v1' &&
      e.body.runId === runId &&
      (event === undefined || e.body.event === event),
  );

/** Resolves once everything the monitor published before it has reached the feed (one connection keeps order). */
async function feedSettled(m: BudgetMonitor): Promise<void> {
  const marker = `marker-${randomUUID()}`;
  await (m as unknown as { emitBudget(b: BodyOf<'budget.event.v1'>): Promise<void> }).emitBudget({
    runId: marker,
    event: 'warn',
    verdict: 'warn',
  } as BodyOf<'budget.event.v1'>);
  await feed.next((e) => e.type === 'budget.event.v1' && e.body.runId === marker);
}

describe('budget monitor: counting run events', () => {
  it('counts stage-failed and stage-retrying as errors and stage-succeeded as a success, and nothing else', async () => {
    const t = await monitor();
    await t.event({ runId: 'r1', event: 'run-accepted', governance: count(100) });
    await t.event(failed('r1', 1));
    await t.event({ ...failed('r1', 2), event: 'stage-retrying' });
    await t.event({ runId: 'r1', event: 'stage-succeeded', stageId: 'build', attempt: 3, agentId: 'ag-1' });
    await t.event({ runId: 'r1', event: 'stage-dispatched', stageId: 'test', attempt: 1, agentId: 'ag-2' });
    await t.event({ runId: 'r1', event: 'run-succeeded' });
    const s = await t.status('r1');
    expect(s.windows[0]).toMatchObject({ errors: 2, total: 3 });
    expect(t.m.counted).toBe(3);
  });

  it("puts each error on the run's timeline with its code, message, stage, agent and the event's time, and remembers the failing stage and agent", async () => {
    const t = await monitor();
    await t.event({ runId: 'r2', event: 'run-accepted', governance: count(100) });
    const env = await t.event(failed('r2', 1, { stageId: 'deploy', agentId: 'ag-9' }));
    await t.event({ runId: 'r2', event: 'stage-succeeded', stageId: 'deploy', attempt: 2, agentId: 'ag-9' });
    expect(await t.m.runs.errors('r2')).toEqual([
      {
        at: env.ts,
        source: 'orchestrator',
        code: 'GOV_ERR_INTERNAL',
        message: 'exit 1',
        stageId: 'deploy',
        agentId: 'ag-9',
      },
    ]);
    expect(await t.m.runs.get('r2')).toMatchObject({ failingStage: 'deploy', failingAgent: 'ag-9' });
  });

  it('leaves the failing stage and agent unset for an error that names neither', async () => {
    const t = await monitor();
    await t.report(errorReport('r2b'));
    const facts = await t.m.runs.get('r2b');
    expect(facts.failingStage).toBeUndefined();
    expect(facts.failingAgent).toBeUndefined();
    expect(await t.m.runs.errors('r2b')).toHaveLength(1);
  });

  it("records the run's facts from its events: first and last sequence and time, parent, pipeline, budget, diagnostic, agents", async () => {
    const t = await monitor();
    const b = count(7);
    const first = await t.event({
      runId: 'r3',
      event: 'run-accepted',
      parentRunId: 'p3',
      governance: { ...b, diagnostic: 'diag-pipe' },
    });
    await t.event({ runId: 'r3', event: 'stage-accepted', stageId: 'a', attempt: 1, agentId: 'ag-b' });
    await t.event({ runId: 'r3', event: 'stage-dispatched', stageId: 'a', attempt: 1, agentId: 'ag-a' });
    await t.event({ runId: 'r3', event: 'stage-succeeded', stageId: 'a', attempt: 1, agentId: 'ag-c' });
    const last = await t.event({ runId: 'r3', event: 'run-succeeded', parentRunId: 'other' });
    const facts = await t.m.runs.get('r3');
    expect(facts).toMatchObject({
      pipeline: 'build',
      parentRunId: 'p3',
      budget: b.errorBudget,
      accepted: true,
      diagnostic: 'diag-pipe',
      firstSeq: 1,
      lastSeq: 5,
      firstTs: first.ts,
      lastTs: last.ts,
    });
    // Agents that took or were sent a stage; one that only reported success is not added.
    expect(await t.m.runs.agents('r3')).toEqual(['ag-a', 'ag-b']);
  });

  it('takes the diagnostic pipeline from the error budget when the governance block names none', async () => {
    const t = await monitor();
    await t.event({
      runId: 'r4',
      event: 'run-accepted',
      governance: governance({
        errorBudget: { kind: 'count', maxErrors: 3, windowMs: WINDOW_MS, diagnostic: 'budget-diag' },
      }),
    });
    expect((await t.m.runs.get('r4')).diagnostic).toBe('budget-diag');
  });

  it('counts a redelivered orchestrator event once, and does not count it in `counted`', async () => {
    const t = await monitor();
    await t.event({ runId: 'r5', event: 'run-accepted', governance: count(100) });
    const env = await t.event(failed('r5', 1));
    await t.event(failed('r5', 1), env);
    expect(await t.errorsOf('r5')).toBe(1);
    expect(t.m.counted).toBe(1);
    expect(await t.m.runs.errors('r5')).toHaveLength(1);
  });

  it('judges each run by its own budget, not by the first budget this monitor compiled', async () => {
    const t = await monitor();
    await t.event({ runId: 'r6-big', event: 'run-accepted', governance: count(100) });
    await t.event(failed('r6-big', 1));
    await t.event({ runId: 'r6-small', event: 'run-accepted', governance: count(1) });
    await t.event(failed('r6-small', 1));
    await t.event(failed('r6-small', 2));
    expect(t.latched.map((l) => l.runId)).toEqual(['r6-small']);
    expect((await t.status('r6-big')).verdict).toBe('ok');
    expect((await t.status('r6-small')).kind).toBe('count');
  });
});

describe('budget monitor: verdicts', () => {
  it('announces the first warn once on the feed with its windows, and not again on the next error', async () => {
    const t = await monitor();
    await t.event({ runId: 'w1', event: 'run-accepted', governance: count(4) });
    await t.event(failed('w1', 1));
    await t.event(failed('w1', 2));
    await feedSettled(t.m);
    expect(budgetEvents('w1')).toEqual([]);
    await t.event(failed('w1', 3)); // warn from ceil(4 × 0.75) = 3 errors
    await t.event(failed('w1', 4));
    await feedSettled(t.m);
    const warns = budgetEvents('w1');
    expect(warns.map((e) => e.body)).toEqual([
      {
        runId: 'w1',
        event: 'warn',
        verdict: 'warn',
        windows: [{ windowMs: WINDOW_MS, errors: 3, total: 3, burnRate: expect.any(Number) }],
      },
    ]);
    expect(t.latched).toEqual([]);
  });

  it('hands the first breach to the breach response once, with the report, the triggering error and the facts', async () => {
    const t = await monitor();
    await t.event({ runId: 'b1', event: 'run-accepted', governance: count(1) });
    await t.event(failed('b1', 1));
    const env = await t.event(failed('b1', 2, { agentId: 'ag-x' }));
    await t.event(failed('b1', 3));
    expect(t.latched).toHaveLength(1);
    expect(t.m.breaches).toBe(1);
    const l = t.latched[0] as Latched;
    expect(l.runId).toBe('b1');
    expect(l.report).toMatchObject({ firstBreach: true, breached: true, verdict: 'breach' });
    expect(l.trigger).toMatchObject({
      at: env.ts,
      agentId: 'ag-x',
      message: 'exit 2',
      source: 'orchestrator',
    });
    expect(l.facts).toMatchObject({ runId: 'b1', accepted: true });
  });

  it('does not announce the warn again when the run then breaches', async () => {
    const t = await monitor();
    await t.event({ runId: 'b2', event: 'run-accepted', governance: count(1) });
    await t.event(failed('b2', 1));
    await feedSettled(t.m);
    expect(budgetEvents('b2', 'warn')).toHaveLength(1);
    await t.event(failed('b2', 2));
    await feedSettled(t.m);
    expect(budgetEvents('b2', 'warn')).toHaveLength(1);
    expect(t.latched).toHaveLength(1);
  });

  it('announces a breach on the first error as a breach only, never as a warn', async () => {
    const t = await monitor();
    await t.event({ runId: 'b3', event: 'run-accepted', governance: count(0) });
    await t.event(failed('b3', 1));
    await feedSettled(t.m);
    expect(t.latched.map((l) => l.report.firstWarn && l.report.verdict)).toEqual(['breach']);
    expect(budgetEvents('b3', 'warn')).toEqual([]);
  });

  it("counts an orchestrator error before its run's run-accepted without a verdict, and judges it once run-accepted arrives", async () => {
    const t = await monitor();
    await t.event(failed('late', 1));
    await t.event(failed('late', 2));
    await t.event(failed('late', 3));
    expect(await t.errorsOf('late')).toBe(3);
    expect(t.latched).toEqual([]);
    expect((await t.status('late')).breached).toBe(false);
    await t.event({ runId: 'late', event: 'run-accepted', governance: count(1) });
    expect(t.latched).toHaveLength(1);
    // The judged breach's trigger is the last error counted.
    expect(t.latched[0]?.trigger).toMatchObject({ message: 'exit 3', stageId: 'build' });
    expect((await t.status('late')).breached).toBe(true);
  });

  it("latches nothing for orchestrator errors before run-accepted even past the stand-in budget's breach threshold", async () => {
    const t = await monitor();
    // The stand-in (the default budget) breaches above 5 errors; these 7 must wait for the run's own.
    for (let i = 1; i <= 7; i++) await t.event(failed('late-many', i));
    expect(t.latched).toEqual([]);
    expect((await t.status('late-many')).breached).toBe(false);
    await t.event({ runId: 'late-many', event: 'run-accepted', governance: count(100) });
    expect(t.latched).toEqual([]);
  });

  it('judging at run-accepted with nothing counted yet decides nothing, and the trigger of a judged breach without errors is the monitor itself', async () => {
    const t = await monitor();
    await t.event({ runId: 'quiet', event: 'run-accepted', governance: count(1) });
    expect(t.latched).toEqual([]);
    await feedSettled(t.m);
    expect(budgetEvents('quiet')).toEqual([]);
    // Successes only: judged at acceptance, still nothing.
    await t.event({ runId: 'succ', event: 'stage-succeeded', stageId: 'a', attempt: 1 });
    await t.event({ runId: 'succ', event: 'run-accepted', governance: count(1) });
    expect(t.latched).toEqual([]);
  });

  it('announces a warn judged at run-accepted, naming no child', async () => {
    const t = await monitor();
    await t.event(failed('late-warn', 1));
    await t.event({ runId: 'late-warn', event: 'run-accepted', governance: count(4) });
    await feedSettled(t.m);
    expect(budgetEvents('late-warn', 'warn')).toHaveLength(0);
    await t.event(failed('late-warn2', 1));
    await t.event(failed('late-warn2', 2));
    await t.event(failed('late-warn2', 3));
    await t.event({ runId: 'late-warn2', event: 'run-accepted', governance: count(4) });
    await feedSettled(t.m);
    const warns = budgetEvents('late-warn2', 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]?.body.childRunId).toBeUndefined();
    expect(t.latched).toEqual([]);
  });

  it('a report latches at once even for a run whose run-accepted was never seen (a report cannot be a stand-in)', async () => {
    const t = await monitor();
    // The stand-in default budget: breach needs more than a few errors; count until it latches.
    for (let i = 0; i < 50 && t.latched.length === 0; i++) await t.report(errorReport('tool-only'));
    expect(t.latched).toHaveLength(1);
    expect(t.latched[0]?.trigger).toMatchObject({ source: 'agent:ag-1', code: 'E_TOOL', at: t.clock.now() });
  });

  it('puts a breach latched before back to pending when a later outcome of the run is counted (its monitor may have died before writing it down)', async () => {
    const t = await monitor();
    await t.event({ runId: 'pend', event: 'run-accepted', governance: count(1) });
    await t.event(failed('pend', 1));
    await t.event(failed('pend', 2));
    expect(t.latched).toHaveLength(1);
    // The recorder wrote nothing down, as a monitor killed right after the latch.
    expect(await t.m.breachStore.pending()).not.toContain('pend');
    await t.event({ runId: 'pend', event: 'stage-succeeded', stageId: 'x', attempt: 1 });
    expect(await t.m.breachStore.pending()).toContain('pend');
    expect(t.latched).toHaveLength(1);
  });

  it('a duplicate of the breaching event also puts the latched breach back to pending', async () => {
    const t = await monitor();
    await t.event({ runId: 'pend2', event: 'run-accepted', governance: count(1) });
    await t.event(failed('pend2', 1));
    const env = await t.event(failed('pend2', 2));
    await t.event(failed('pend2', 2), env);
    expect(await t.m.breachStore.pending()).toContain('pend2');
    expect(t.m.counted).toBe(2);
  });

  it('does not put an unbreached run on the pending list', async () => {
    const t = await monitor();
    await t.event({ runId: 'fine', event: 'run-accepted', governance: count(10) });
    await t.event(failed('fine', 1));
    await t.event(failed('fine', 2));
    expect(await t.m.breachStore.pending()).not.toContain('fine');
  });
});

describe('budget monitor: ancestry', () => {
  it("charges every ancestor, each naming the run the error came from, and the run's own timeline names no child", async () => {
    const t = await monitor();
    await t.event({ runId: 'g', event: 'run-accepted', governance: count(100) });
    await t.event({ runId: 'p', event: 'run-accepted', parentRunId: 'g', governance: count(100) });
    await t.event({ runId: 'c', event: 'run-accepted', parentRunId: 'p', governance: count(100) });
    await t.report(errorReport('c'));
    expect(await t.errorsOf('c')).toBe(1);
    expect(await t.errorsOf('p')).toBe(1);
    expect(await t.errorsOf('g')).toBe(1);
    expect((await t.m.runs.errors('c'))[0]?.childRunId).toBeUndefined();
    expect((await t.m.runs.errors('p'))[0]?.childRunId).toBe('c');
    expect((await t.m.runs.errors('g'))[0]?.childRunId).toBe('c');
    expect(t.m.counted).toBe(3);
  });

  it('follows the chain maxAncestryDepth levels up and no further', async () => {
    const t = await monitor({ maxAncestryDepth: 2 });
    await t.report(errorReport('a3', { parentRunId: 'a2' }));
    await t.m.runs.setOnce('a2', { parentRunId: 'a1' });
    await t.m.runs.setOnce('a1', { parentRunId: 'a0' });
    await t.report(errorReport('a3'));
    expect(await t.errorsOf('a3')).toBe(2);
    expect(await t.errorsOf('a2')).toBe(2);
    expect(await t.errorsOf('a1')).toBe(1);
    expect(await t.errorsOf('a0')).toBe(0);
  });

  it('stops at a parentRunId cycle, charging each run of it once', async () => {
    const t = await monitor();
    await t.m.runs.setOnce('x', { parentRunId: 'y' });
    await t.m.runs.setOnce('y', { parentRunId: 'x' });
    await t.report(errorReport('x'));
    expect(await t.errorsOf('x')).toBe(1);
    expect(await t.errorsOf('y')).toBe(1);
  });

  it("a child's breaching error announces the parent's warn naming the child", async () => {
    const t = await monitor();
    await t.event({ runId: 'wp', event: 'run-accepted', governance: count(1) });
    await t.report(errorReport('wc', { parentRunId: 'wp' }));
    await feedSettled(t.m);
    const warns = budgetEvents('wp', 'warn');
    expect(warns.map((w) => w.body.childRunId)).toEqual(['wc']);
  });

  it('records the reporting agent of a report on its run, and the first parent only', async () => {
    const t = await monitor();
    await t.report(errorReport('rr', { agentId: 'ag-r', parentRunId: 'pp1' }));
    await t.report(errorReport('rr', { parentRunId: 'pp2' }));
    expect(await t.m.runs.agents('rr')).toEqual(['ag-r']);
    expect((await t.m.runs.get('rr')).parentRunId).toBe('pp1');
    expect(await t.errorsOf('pp1')).toBe(2);
    expect(await t.errorsOf('pp2')).toBe(0);
  });
});

describe('budget monitor: quarantine release', () => {
  const hold = (t: Awaited<ReturnType<typeof monitor>>, agentId: string, runId: string, o: object = {}) =>
    t.m.quarantine.hold({
      agentId,
      runId,
      reason: 'implicated',
      release: 'diagnostic-finished',
      since: 1,
      ...o,
    });

  for (const end of ['run-succeeded', 'run-failed', 'run-cancelled', 'run-contained'] as const) {
    it(`resumes the agents held for a diagnostic run when it ends (${end}), as T2, on their inboxes, and announces them per breached run`, async () => {
      const t = await monitor({ agentKind: 'agentx' });
      const diag = `diag-${end}`;
      const inbox = commands(
        'agentx',
        ['a', 'b', 'c', 'other'].map((x) => `${end}-${x}`),
      );
      await client.flush();
      await hold(t, `${end}-a`, 'breached-1', { diagnosticRunId: diag });
      await hold(t, `${end}-b`, 'breached-1', { diagnosticRunId: diag });
      await hold(t, `${end}-c`, 'breached-2', { diagnosticRunId: diag });
      await hold(t, `${end}-other`, 'breached-3', { diagnosticRunId: 'another-diag' });
      await t.event({ runId: diag, event: 'stage-dispatched', stageId: 's', attempt: 1, agentId: 'd' });
      expect(await t.m.quarantine.held()).toHaveLength(4);
      await t.event({ runId: diag, event: end });
      await feedSettled(t.m);
      await client.flush();
      expect(await t.m.quarantine.held()).toEqual([`${end}-other`]);
      const got = inbox.seen.sort((x, y) => x.subject.localeCompare(y.subject));
      expect(got.map((c) => c.subject)).toEqual(
        ['a', 'b', 'c'].map((x) => actorInbox('agentx', `${end}-${x}`)),
      );
      expect(got.map((c) => c.env.type === 'agent.command.v1' && c.env.body)).toEqual(
        ['a', 'b', 'c'].map(() => ({
          command: 'resume',
          byTier: 'T2',
          by: 'budget-monitor',
          reason: `diagnostic run ${diag} ended (${end})`,
        })),
      );
      expect(got.map((c) => c.env.run)).toEqual(['breached-1', 'breached-1', 'breached-2']);
      expect(budgetEvents('breached-1', 'agents-released').map((e) => e.body.agentIds)).toContainEqual([
        `${end}-a`,
        `${end}-b`,
      ]);
      expect(budgetEvents('breached-2', 'agents-released').map((e) => e.body.agentIds)).toContainEqual([
        `${end}-c`,
      ]);
      inbox.close();
    });
  }

  it('releases nobody when a run that is not a diagnostic ends, and an agent is resumed once however often its diagnostic ends', async () => {
    const t = await monitor();
    await hold(t, 'once-a', 'br-once', { diagnosticRunId: 'diag-once' });
    await t.event({ runId: 'plain', event: 'run-succeeded' });
    expect(await t.m.quarantine.held()).toEqual(['once-a']);
    await t.event({ runId: 'diag-once', event: 'stage-failed', stageId: 's', attempt: 1 });
    expect(await t.m.quarantine.held()).toEqual(['once-a']);
    await t.event({ runId: 'diag-once', event: 'run-failed' });
    await t.event({ runId: 'diag-once', event: 'run-failed' });
    await feedSettled(t.m);
    expect(budgetEvents('br-once', 'agents-released')).toHaveLength(1);
  });

  it('releases the holds whose cool-down is over, and only those', async () => {
    const t = await monitor();
    const now = t.clock.now();
    await hold(t, 'cool-a', 'br-cool', { release: 'cool-down', releaseAt: now - 1 });
    await hold(t, 'cool-b', 'br-cool', { release: 'cool-down', releaseAt: now + 60_000 });
    await t.m.releaseDue();
    await feedSettled(t.m);
    expect(await t.m.quarantine.held()).toEqual(['cool-b']);
    const released = budgetEvents('br-cool', 'agents-released');
    expect(released.map((e) => e.body.agentIds)).toEqual([['cool-a']]);
    expect(
      feed.seen.some(
        (e) =>
          e.type === 'budget.event.v1' && e.body.runId === 'br-cool' && e.body.event !== 'agents-released',
      ),
    ).toBe(false);
    // Nothing due: no event.
    await t.m.releaseDue();
    await feedSettled(t.m);
    expect(budgetEvents('br-cool', 'agents-released')).toHaveLength(1);
  });

  it('sends the resume command as JSON to an agent that asked for JSON deliveries, even after events that do not repeat the choice', async () => {
    const t = await monitor({ agentKind: 'agentj' });
    const raw: Array<{ subject: string; data: Uint8Array }> = [];
    const subs = ['ag-json', 'ag-mp'].map((id) =>
      client.subscribeRaw(actorInbox('agentj', id), (m) => raw.push({ subject: m.subject, data: m.data })),
    );
    await client.flush();
    await t.event({
      runId: 'enc',
      event: 'stage-dispatched',
      stageId: 's',
      attempt: 1,
      agentId: 'ag-json',
      agentEncoding: 'json',
    });
    // A later event that does not repeat the choice does not undo it.
    await t.event({ runId: 'enc', event: 'stage-succeeded', stageId: 's', attempt: 1, agentId: 'ag-json' });
    await t.event({ runId: 'enc', event: 'stage-dispatched', stageId: 's', attempt: 1, agentId: 'ag-mp' });
    await hold(t, 'ag-json', 'br-enc', { diagnosticRunId: 'diag-enc' });
    await hold(t, 'ag-mp', 'br-enc', { diagnosticRunId: 'diag-enc' });
    await t.event({ runId: 'diag-enc', event: 'run-succeeded' });
    await feedSettled(t.m);
    await client.flush();
    const text = (s: string) => new TextDecoder().decode(raw.find((r) => r.subject === s)?.data);
    expect(() => JSON.parse(text(actorInbox('agentj', 'ag-json')))).not.toThrow();
    expect(() => JSON.parse(text(actorInbox('agentj', 'ag-mp')))).toThrow();
    for (const sub of subs) sub.unsubscribe();
  });
});

describe('budget monitor: requests', () => {
  it('refuses a report sent on another run’s errors subject, and takes one on its own or on the service subject', async () => {
    const t = await monitor();
    const env = client.wrap({ type: 'budget.report.v1', body: errorReport('own') });
    await expect(t.m.handle(env, errorsSubject('someone-else'))).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(t.m.handle(env, errorsSubject('someone-else'))).rejects.toThrow(
      `budget report for run own sent on ${errorsSubject('someone-else')}`,
    );
    expect(await t.errorsOf('own')).toBe(0);
    expect(await t.m.handle(env, errorsSubject('own'))).toBeUndefined();
    expect(await t.m.handle({ ...env, id: randomUUID() }, serviceSubject('budget-monitor'))).toBeUndefined();
    expect(await t.errorsOf('own')).toBe(2);
  });

  it('answers a status with the run’s budget kind, verdict, latch and windows, and its parent', async () => {
    const t = await monitor();
    await t.event({ runId: 'st', event: 'run-accepted', parentRunId: 'st-p', governance: count(1) });
    await t.event(failed('st', 1));
    await t.event(failed('st', 2));
    const s = await t.status('st');
    expect(s).toMatchObject({
      runId: 'st',
      kind: 'count',
      verdict: 'breach',
      breached: true,
      parentRunId: 'st-p',
      windows: [{ windowMs: WINDOW_MS, errors: 2, total: 2 }],
    });
    expect(s.breachedAt).toEqual(expect.any(Number));
  });

  it('a reset clears the run’s counters and answers the fresh state', async () => {
    const t = await monitor();
    await t.event({ runId: 'rs', event: 'run-accepted', governance: count(1) });
    await t.event(failed('rs', 1));
    await t.event(failed('rs', 2));
    const r = await t.m.handle(
      client.wrap({ type: 'budget.reset.v1', body: { runId: 'rs', by: 'op' } }),
      'svc',
    );
    expect(r?.type === 'budget.state.v1' && r.body).toMatchObject({
      runId: 'rs',
      breached: false,
      verdict: 'ok',
      windows: [{ errors: 0 }],
    });
  });

  it('answers handoff reports by id, latest by run, lists them, and says which one it could not find', async () => {
    const t = await monitor();
    const report = (reportId: string, at: number) =>
      ({ reportId, runId: 'ho', createdAt: at }) as unknown as HandoffReport;
    const r1 = report('rep-1', 1);
    const r2 = report('rep-2', 2);
    await t.m.handoffs.put(r1);
    await t.m.handoffs.put(r2);
    const byId = await t.m.handle(
      client.wrap({ type: 'handoff.get.v1', body: { reportId: 'rep-1' } }),
      'svc',
    );
    expect(byId?.type === 'handoff.report.v1' && byId.body.report.reportId).toBe('rep-1');
    const latest = await t.m.handle(client.wrap({ type: 'handoff.get.v1', body: { runId: 'ho' } }), 'svc');
    expect(latest?.type === 'handoff.report.v1' && latest.body.report.reportId).toBe('rep-2');
    const list = await t.m.handle(client.wrap({ type: 'handoff.list.v1', body: { runId: 'ho' } }), 'svc');
    expect(list?.type === 'handoff.reports.v1' && list.body.runId).toBe('ho');
    expect(list?.type === 'handoff.reports.v1' && list.body.reports.map((r) => r.reportId).sort()).toEqual([
      'rep-1',
      'rep-2',
    ]);
    const get = (body: object) => t.m.handle(client.wrap({ type: 'handoff.get.v1', body } as never), 'svc');
    await expect(get({ reportId: 'nope' })).rejects.toThrow(
      new NotFoundError('no handoff report with id nope'),
    );
    await expect(get({ runId: 'nope-run' })).rejects.toThrow('no handoff report for run nope-run');
    await expect(get({})).rejects.toThrow('no handoff report for run (none given)');
    await expect(get({})).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers nothing to a message type it does not handle', async () => {
    const t = await monitor();
    expect(await t.m.handle(client.wrap({ type: 'actor.ping.v1', body: {} }), 'svc')).toBeUndefined();
  });
});

describe('budget monitor actor', () => {
  it('counts reports from gov.errors and run events from the audit stream, answers status and handoff lists on its service subjects, and reports its counts', async () => {
    const p = `agov:test-bm-actor:${randomUUID().slice(0, 8)}`;
    const beats = collect(client, heartbeatSubject('budget-monitor', 'bm-actor'));
    await beats.ready();
    const h = await runActor(budgetMonitorKind, {
      id: 'bm-actor',
      heartbeatMs: 200,
      bus: { servers: natsUrl },
      args: {
        redisUrl,
        durable: `bm-${randomUUID().slice(0, 8)}`,
        keyPrefix: `${p}:gov`,
        budgetKeyPrefix: `${p}:budget`,
        handoffKeyPrefix: `${p}:handoff`,
        quarantineKeyPrefix: `${p}:q`,
        quarantinePollMs: 100,
      },
    });
    try {
      await publishRunEvent(client, { runId: 'act-1', event: 'run-accepted', governance: count(100) });
      await publishRunEvent(client, failed('act-1', 1));
      client.tell(errorsSubject('act-1'), { type: 'budget.report.v1', body: errorReport('act-1') });
      const ask = () =>
        client.ask(serviceSubject('budget-monitor'), { type: 'budget.status.v1', body: { runId: 'act-1' } });
      const state = await waitFor('both outcomes counted', async () => {
        const r = await ask();
        return r.type === 'budget.state.v1' && r.body.windows[0]?.errors === 2 ? r : undefined;
      });
      expect(state.type === 'budget.state.v1' && state.body.kind).toBe('count');
      const list = await client.ask(serviceSubject('handoff'), {
        type: 'handoff.list.v1',
        body: { runId: 'act-1' },
      });
      expect(list.type === 'handoff.reports.v1' && list.body.reports).toEqual([]);
      // The other requests it accepts: a handoff read (none here) and an operator reset.
      await expect(
        client.ask(serviceSubject('handoff'), { type: 'handoff.get.v1', body: { runId: 'act-1' } }),
      ).rejects.toBeInstanceOf(NotFoundError);
      const reset = await client.ask(serviceSubject('budget-monitor'), {
        type: 'budget.reset.v1',
        body: { runId: 'act-1', by: 'op' },
      });
      expect(reset.type === 'budget.state.v1' && reset.body.windows[0]?.errors).toBe(0);
      // Its poll releases quarantines whose cool-down is over.
      const q = new QuarantineStore(redisOf(), `${p}:q`);
      await q.hold({
        agentId: 'ag-poll',
        runId: 'act-1',
        reason: 'x',
        release: 'cool-down',
        since: 0,
        releaseAt: 1,
      });
      await feed.next(
        (e) => e.type === 'budget.event.v1' && e.body.runId === 'act-1' && e.body.event === 'agents-released',
      );
      const beat = await beats.next(
        (e) =>
          e.type === 'actor.heartbeat.v1' &&
          (e.body.status as { counted?: number } | undefined)?.counted === 2,
      );
      expect(beat.type === 'actor.heartbeat.v1' && beat.body.status).toEqual({
        counted: 2,
        breaches: 0,
        breachesActed: 0,
      });
    } finally {
      await h.stop();
    }
  });
});

/** A Redis connection closed with the servers. */
function redisOf(): Redis {
  const r = new Redis(redisUrl);
  servers.onStop(async () => {
    r.disconnect();
  });
  return r;
}

/** Every envelope sent to an inbox of `kind`, with the subject it went to. */
function commands(kind: string, ids: string[]) {
  const seen: Array<{ subject: string; env: Envelope }> = [];
  const subs = ids.map((id) =>
    client.subscribeRaw(actorInbox(kind, id), (m) => {
      const d = client.decode(m.data);
      if (d.ok) seen.push({ subject: m.subject, env: d.env });
    }),
  );
  return {
    seen,
    close: () => {
      for (const s of subs) s.unsubscribe();
    },
  };
}
