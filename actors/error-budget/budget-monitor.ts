/**
 * The budget monitor (kind `budget-monitor`): counts every run's errors and successes against its
 * error budget (RedisBudgetStore: atomic, exactly one first breach) and acts on the first breach.
 * See docs/governance.md.
 *
 * Inputs:
 * - `budget.report.v1` on `gov.errors.<runId>` (agents, tools with PIPELINE_ID, child pipelines);
 * - `run.event.v1` from `gov.audit.run` through its own durable consumer: budgets, parents and agents
 *   from `run-accepted`, an error per failed attempt (`stage-retrying`, `stage-failed`), a success per
 *   `stage-succeeded`.
 * A run's outcomes also count against every ancestor up its parentRunId chain.
 *
 * Counting is at-least-once made exactly-once: the budget script skips an event it counted before and
 * counts, dedupes and latches in one atomic step. An orchestrator event of a run whose `run-accepted`
 * has not been seen yet (it was taken by a monitor killed before acking it, and comes again only
 * after the ack wait) is counted without latching, since the only budget at hand is the default
 * stand-in; the run's own budget judges the counts when `run-accepted` arrives.
 *
 * On the first breach, in this order, each step visible on the feed: `budget.event.v1` breach →
 * the run is contained (run.contain.v1 on `gov.contain.<runId>`; the orchestrator ends it
 * `run-contained`) → the token authority revokes the run token (`token.event.v1` revoked) → and
 * suspends the agents the evidence points at, only those (quarantine-policy.ts; `token.event.v1`
 * agents-suspended) → the diagnostic pipeline is requested from the orchestrator (`budget.event.v1`
 * diagnostic-spawned / diagnostic-failed) → a handoff report is stored (`handoff.ready.v1`). The
 * quarantined agents are resumed when the diagnostic run ends or their cool-down is over (policy),
 * `budget.event.v1` agents-released. Acting on a breach is resumable (breach-response.ts): a monitor
 * killed half-way leaves it pending, and the next one finishes it.
 */
import { Redis } from 'ioredis';
import {
  consumeRunEvents,
  publishEnvelopeFeedAndAudit,
  publishFeedAndAudit,
  type RunEventInfo,
} from '../../bus/index.ts';
import { KeyedLock } from '../../infra/index.ts';
import {
  ACTOR_KIND,
  actorInbox,
  allErrors,
  type BodyOf,
  type Envelope,
  feedToken,
  InvalidMessageError,
  NotFoundError,
  type OutMessage,
  SERVICE_NAME,
  serviceQueue,
  serviceSubject,
} from '../../protocols/index.ts';
import { type ActorContext, defineActorKind, refusing } from '../runtime/index.ts';
import { BreachResponder, windowsOf } from './breach-response.ts';
import { BreachStore } from './breach-store.ts';
import {
  type BudgetMonitorArgs,
  BudgetMonitorArgsSchema,
  DEFAULT_RUN_FACTS_TTL_MS,
} from './budget-monitor-options.ts';
import { type CompiledBudget, compileBudget, DEFAULT_KEY_PREFIX } from './budget-policy.ts';
import { BudgetRunStore, type RunFacts, type TimelineError } from './budget-run-store.ts';
import { type BudgetOutcome, type BudgetReport, RedisBudgetStore } from './budget-store.ts';
import { HandoffStore } from './handoff-store.ts';
import { budgetPolicyFromPipeline } from './pipeline-budget.ts';
import { QuarantineStore } from './quarantine-store.ts';
import { busWarnSender, WarnOutbox } from './warn-outbox.ts';

const RUN_END_EVENTS: ReadonlySet<string> = new Set([
  'run-succeeded',
  'run-failed',
  'run-cancelled',
  'run-contained',
]);

/** Where a counted outcome came from: an orchestrator event (deduplicated by its id) or a report. */
interface CountOrigin {
  eventId: string;
  /** An orchestrator run event: its run's `run-accepted` precedes it in the stream. */
  orchestrator: boolean;
}

export class BudgetMonitor {
  private readonly lock = new KeyedLock();
  private readonly compiled = new Map<string, CompiledBudget>();
  readonly responder: BreachResponder;
  breaches = 0;
  counted = 0;

  constructor(
    private readonly ctx: ActorContext,
    private readonly args: BudgetMonitorArgs,
    readonly budgets: RedisBudgetStore,
    readonly runs: BudgetRunStore,
    readonly handoffs: HandoffStore,
    readonly quarantine: QuarantineStore,
    readonly breachStore: BreachStore,
    readonly warns: WarnOutbox,
  ) {
    this.responder = new BreachResponder(ctx, args, {
      runs,
      budgets,
      handoffs,
      quarantine,
      breaches: breachStore,
      budgetOf: (facts) => this.budgetOf(facts),
      emitBudget: (body) => this.emitBudget(body),
      publishBudget: (env) =>
        publishEnvelopeFeedAndAudit(this.ctx.bus, ['budget', feedToken(env.body.runId)], 'budget', env),
      publishEvent: (feed, category, env) => publishEnvelopeFeedAndAudit(this.ctx.bus, feed, category, env),
      encodingOf: (agentId) => this.encodings.get(agentId),
    });
  }

  private budgetOf(facts: RunFacts): CompiledBudget {
    const key = JSON.stringify(facts.budget ?? null);
    let c = this.compiled.get(key);
    if (!c) {
      c = compileBudget(budgetPolicyFromPipeline(facts.budget));
      this.compiled.set(key, c);
    }
    return c;
  }

  private emitBudget(body: BodyOf<'budget.event.v1'>) {
    return publishFeedAndAudit(this.ctx.bus, ['budget', feedToken(body.runId)], 'budget', {
      type: 'budget.event.v1',
      body,
      run: body.runId,
    });
  }

  // --- inputs --------------------------------------------------------------------------------

  /** Agents that asked for JSON deliveries (run events' `agentEncoding`): its commands go to them as JSON. */
  private readonly encodings = new Map<string, 'msgpack' | 'json'>();

  async onRunEvent(env: Envelope<'run.event.v1'>, info: RunEventInfo): Promise<void> {
    const ev = env.body;
    const runId = ev.runId;
    if (ev.agentId !== undefined && ev.agentEncoding !== undefined)
      this.encodings.set(ev.agentId, ev.agentEncoding);
    await this.runs.setOnce(runId, { firstSeq: info.seq, firstTs: env.ts, parentRunId: ev.parentRunId });
    await this.runs.set(runId, { lastSeq: info.seq, lastTs: env.ts });
    const g = ev.governance;
    if (g) {
      await this.runs.set(runId, {
        pipeline: g.pipeline,
        budget: g.errorBudget,
        accepted: true,
        diagnostic: g.diagnostic ?? g.errorBudget?.diagnostic,
      });
      // Its own budget is known now: it judges whatever was counted before it came (errors that
      // overtook a redelivered run-accepted were counted without a verdict).
      await this.lock.run(runId, () => this.judge(runId));
    }
    if ((ev.event === 'stage-accepted' || ev.event === 'stage-dispatched') && ev.agentId)
      await this.runs.addAgent(runId, ev.agentId);
    if (RUN_END_EVENTS.has(ev.event)) await this.diagnosticEnded(runId, ev.event);
    // Every failed attempt burns budget, including the ones that will be retried: a stage that
    // needs four tries to pass has failed three times.
    const isError = ev.event === 'stage-failed' || ev.event === 'stage-retrying';
    if (!isError && ev.event !== 'stage-succeeded') return;
    // A redelivered event counts once: the budget script checks and marks its id in the same atomic
    // step as the count (a kill can fall between nothing).
    await this.count(
      runId,
      isError ? 'error' : 'success',
      {
        at: env.ts,
        source: 'orchestrator',
        code: ev.error?.code,
        message: ev.error?.message,
        stageId: ev.stageId,
        agentId: ev.agentId,
      },
      { eventId: env.id, orchestrator: true },
    );
  }

  async onReport(env: Envelope<'budget.report.v1'>): Promise<void> {
    const b = env.body;
    if (b.parentRunId) await this.runs.setOnce(b.runId, { parentRunId: b.parentRunId });
    if (b.agentId) await this.runs.addAgent(b.runId, b.agentId);
    await this.count(
      b.runId,
      b.outcome,
      {
        at: this.ctx.clock.now(),
        source: b.source,
        code: b.code,
        message: b.message,
        stageId: b.stageId,
        agentId: b.agentId,
      },
      { eventId: env.id, orchestrator: false },
    );
  }

  /**
   * Counts one outcome for the run, then for each ancestor (as coming from `childRunId`). Each level
   * dedupes the event on its own, so a redelivery after a kill half-way up the chain counts the rest.
   */
  async count(
    runId: string,
    outcome: BudgetOutcome,
    error: TimelineError,
    origin: CountOrigin,
  ): Promise<void> {
    const visited = new Set<string>();
    let current: string | undefined = runId;
    let childRunId: string | undefined;
    for (let depth = 0; current && !visited.has(current) && depth <= this.args.maxAncestryDepth; depth++) {
      visited.add(current);
      const id: string = current;
      const facts = await this.lock.run(id, () =>
        this.countOne(id, outcome, childRunId ? { ...error, childRunId } : error, origin),
      );
      childRunId ??= runId;
      current = facts.parentRunId;
    }
  }

  private async countOne(
    runId: string,
    outcome: BudgetOutcome,
    error: TimelineError,
    origin: CountOrigin,
  ): Promise<RunFacts> {
    const facts = await this.runs.get(runId);
    const report = await this.budgets.record(runId, this.budgetOf(facts), outcome, {
      eventId: origin.eventId,
      latch: facts.accepted || !origin.orchestrator,
    });
    // A breach latched before (not by this event): pending again unless it was fully acted on — its
    // monitor may have died between the latch and writing the breach down (a redelivered event comes
    // back as a duplicate; a report cannot come back, but the run's next counted outcome finds it).
    if (report.breached && !report.firstBreach)
      await this.breachStore.ensurePending(runId, report.breachedAt ?? report.at);
    // A warn latched before, by a monitor killed before the stream had its event (the unacked event
    // comes back as a duplicate; a report cannot, but the run's next counted outcome finds it).
    if (report.warnedAt !== undefined && !report.firstWarn)
      await this.warns.resume(runId, () => ({
        runId,
        event: 'warn',
        verdict: 'warn',
        windows: windowsOf(report),
      }));
    if (report.duplicate) return facts;
    this.counted++;
    // A breach is announced and its run contained before the error is put on the timeline: nothing
    // stands between the count and the containment order (the breach's quarantine decision adds the
    // triggering error itself when it is not there yet).
    const acting = this.verdict(runId, report, error, facts);
    if (outcome === 'error') {
      await this.runs.addError(runId, error);
      if (error.stageId || error.agentId)
        await this.runs.set(runId, { failingStage: error.stageId, failingAgent: error.agentId });
    }
    await acting;
    return facts;
  }

  /** Latches what the run's (now known) budget says of the counts so far. */
  private async judge(runId: string): Promise<void> {
    const facts = await this.runs.get(runId);
    const report = await this.budgets.latch(runId, this.budgetOf(facts));
    if (!report.firstWarn && !report.firstBreach) return;
    const last = (await this.runs.errors(runId)).at(-1);
    await this.verdict(runId, report, last ?? { at: report.at, source: 'budget-monitor' }, facts);
  }

  private async verdict(
    runId: string,
    report: BudgetReport,
    trigger: TimelineError,
    facts: RunFacts,
  ): Promise<void> {
    if (report.firstWarn && report.verdict === 'warn') {
      await this.warns.announce({
        runId,
        event: 'warn',
        verdict: 'warn',
        windows: windowsOf(report),
        ...(trigger.childRunId === undefined ? {} : { childRunId: trigger.childRunId }),
      });
    }
    if (report.firstBreach) {
      this.breaches++;
      await this.responder.latched(runId, report, trigger, facts);
    }
  }

  // --- quarantine ----------------------------------------------------------------------------

  /** A run ended: if it was the diagnostic of a breach, the agents held for it are resumed. */
  private async diagnosticEnded(runId: string, event: string): Promise<void> {
    const agents = await this.quarantine.heldFor(runId);
    if (agents.length > 0) await this.release(agents, `diagnostic run ${runId} ended (${event})`);
    await this.quarantine.forgetDiagnostic(runId);
  }

  /** Quarantines whose cool-down is over. */
  async releaseDue(): Promise<void> {
    const due = await this.quarantine.due(this.ctx.clock.now());
    if (due.length > 0) await this.release(due, 'quarantine cool-down over');
  }

  private async release(agentIds: string[], why: string): Promise<void> {
    const byRun = new Map<string, string[]>();
    for (const agentId of agentIds) {
      const hold = await this.quarantine.get(agentId);
      if (!hold || !(await this.quarantine.release(agentId))) continue;
      this.ctx.bus.tell(
        actorInbox(this.args.agentKind, agentId),
        {
          type: 'agent.command.v1',
          body: { command: 'resume', byTier: 'T2', by: 'budget-monitor', reason: why },
          run: hold.runId,
        },
        { encoding: this.encodings.get(agentId) },
      );
      byRun.set(hold.runId, [...(byRun.get(hold.runId) ?? []), agentId]);
    }
    for (const [runId, ids] of byRun)
      await this.emitBudget({ runId, event: 'agents-released', agentIds: ids });
  }

  // --- requests ------------------------------------------------------------------------------

  async handle(env: Envelope, subject: string): Promise<OutMessage | undefined> {
    switch (env.type) {
      case 'budget.report.v1': {
        const expected = subject.startsWith('gov.errors.') ? subject.slice('gov.errors.'.length) : undefined;
        if (expected !== undefined && expected !== env.body.runId) {
          throw new InvalidMessageError(`budget report for run ${env.body.runId} sent on ${subject}`, {
            details: { subject },
          });
        }
        await this.onReport(env);
        return undefined;
      }
      case 'budget.reset.v1': {
        // An operator control (actors/control checked the caller's tier and audits it).
        await this.budgets.reset(env.body.runId);
        this.ctx.log.info('budget reset', { runId: env.body.runId, by: env.body.by });
        return this.handle({ ...env, type: 'budget.status.v1', body: { runId: env.body.runId } }, subject);
      }
      case 'budget.status.v1': {
        const facts = await this.runs.get(env.body.runId);
        const budget = this.budgetOf(facts);
        const r = await this.budgets.snapshot(env.body.runId, budget);
        return {
          type: 'budget.state.v1',
          body: {
            runId: r.runId,
            kind: budget.kind,
            verdict: r.verdict,
            breached: r.breached,
            breachedAt: r.breachedAt,
            windows: windowsOf(r),
            parentRunId: facts.parentRunId,
          },
        };
      }
      case 'handoff.get.v1': {
        const { reportId, runId } = env.body;
        const report = reportId
          ? await this.handoffs.get(reportId)
          : runId
            ? await this.handoffs.latest(runId)
            : undefined;
        if (!report)
          throw new NotFoundError(
            `no handoff report ${reportId ? `with id ${reportId}` : `for run ${runId ?? '(none given)'}`}`,
          );
        return { type: 'handoff.report.v1', body: { report } };
      }
      case 'handoff.list.v1':
        return {
          type: 'handoff.reports.v1',
          body: { runId: env.body.runId, reports: await this.handoffs.list(env.body.runId) },
        };
      default:
        return undefined;
    }
  }
}

export const budgetMonitorKind = defineActorKind({
  kind: ACTOR_KIND.budgetMonitor,
  args: BudgetMonitorArgsSchema,
  description:
    'counts run errors against their error budgets; on a breach revokes, suspends, diagnoses and writes a handoff report',
  async start(ctx) {
    const args = ctx.args;
    const redis = ctx.hold(new Redis(args.redisUrl, { maxRetriesPerRequest: 3 }), (r) => r.disconnect());
    const monitor = new BudgetMonitor(
      ctx,
      args,
      new RedisBudgetStore({ redis, clock: ctx.clock, keyPrefix: args.budgetKeyPrefix }),
      new BudgetRunStore(redis, args.keyPrefix, args.timelineErrors, DEFAULT_RUN_FACTS_TTL_MS),
      new HandoffStore(redis, args.handoffKeyPrefix),
      new QuarantineStore(redis, args.quarantineKeyPrefix),
      new BreachStore(redis, args.keyPrefix, DEFAULT_RUN_FACTS_TTL_MS),
      new WarnOutbox(redis, args.budgetKeyPrefix ?? DEFAULT_KEY_PREFIX, busWarnSender(ctx.bus)),
    );
    let consumer: { stop(): Promise<void> } | undefined;
    try {
      consumer = await consumeRunEvents(
        ctx.bus,
        {
          durable: args.durable,
          startFrom: args.startFrom,
          ackWaitMs: args.ackWaitMs,
          retryMs: args.eventRetryMs,
          log: ctx.log,
          onEnd: (err) => ctx.crash(err),
        },
        (env, info) => monitor.onRunEvent(env, info),
      );
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    // Breaches a killed monitor latched and did not finish: taken over once its claim lapses.
    const sweep = () =>
      void monitor.responder
        .sweep()
        .catch((err: unknown) => ctx.log.warn('pending breach not acted on', { error: String(err) }));
    sweep();
    const poll = ctx.clock.setInterval(() => {
      void monitor
        .releaseDue()
        .catch((err: unknown) => ctx.log.warn('quarantine release failed', { error: String(err) }));
      sweep();
    }, args.quarantinePollMs);
    return {
      accepts: [
        'budget.report.v1',
        'budget.status.v1',
        'budget.reset.v1',
        'handoff.get.v1',
        'handoff.list.v1',
      ],
      subscriptions: [
        { subject: allErrors(), queue: serviceQueue(ACTOR_KIND.budgetMonitor) },
        { subject: serviceSubject(SERVICE_NAME.handoff), queue: serviceQueue(SERVICE_NAME.handoff) },
      ],
      status: () => ({
        counted: monitor.counted,
        breaches: monitor.breaches,
        breachesActed: monitor.responder.acted,
      }),
      handle: (env, inc) => refusing(() => monitor.handle(env, inc.subject)),
      async stop() {
        ctx.clock.clear(poll);
        await consumer?.stop();
        redis.disconnect();
      },
    };
  },
});
