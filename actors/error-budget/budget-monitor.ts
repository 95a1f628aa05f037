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
 * On the first breach, in this order, each step visible on the feed: `budget.event.v1` breach →
 * the run is contained (run.contain.v1 on `gov.contain.<runId>`; the orchestrator ends it
 * `run-contained`) → the token authority revokes the run token (`token.event.v1` revoked) → and
 * suspends the agents the evidence points at, only those (quarantine-policy.ts; `token.event.v1`
 * agents-suspended) → the diagnostic pipeline is requested from the orchestrator (`budget.event.v1`
 * diagnostic-spawned / diagnostic-failed) → a handoff report is stored (`handoff.ready.v1`). The
 * quarantined agents are resumed when the diagnostic run ends or their cool-down is over (policy),
 * `budget.event.v1` agents-released.
 */
import { ACTOR_KIND, SERVICE_NAME } from '../../protocols/index.ts';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { BodyOf } from '../../protocols/index.ts';
import type { Envelope, OutMessage } from '../../protocols/index.ts';
import {
  InvalidMessageError,
  NotFoundError,
  type SerializedError,
  serializeError,
} from '../../protocols/index.ts';
import { AUDIT_STREAM, consumeRunEvents, publishFeedAndAudit, type RunEventInfo } from '../../bus/index.ts';
import {
  actorInbox,
  allErrors,
  auditSubject,
  containSubject,
  feedToken,
  serviceQueue,
  serviceSubject,
} from '../../protocols/index.ts';
import { buildHandoffReport } from './handoff-report.ts';
import { HandoffStore } from './handoff-store.ts';
import { jsonDigest } from '../ledger/index.ts';
import { KeyedLock } from '../../infra/index.ts';
import { type ActorContext, defineActorKind, refusing } from '../runtime/index.ts';
import {
  type BudgetMonitorArgs,
  BudgetMonitorArgsSchema,
  DEFAULT_DIAGNOSTIC_PIPELINE,
  DEFAULT_RUN_FACTS_TTL_MS,
  diagnosticFile,
} from './budget-monitor-options.ts';
import { type CompiledBudget, compileBudget } from './budget-policy.ts';
import { BudgetRunStore, type RunFacts, type TimelineError } from './budget-run-store.ts';
import { type BudgetOutcome, type BudgetReport, RedisBudgetStore } from './budget-store.ts';
import { budgetPolicyFromPipeline } from './pipeline-budget.ts';
import { implicatedAgents, releaseAt } from './quarantine-policy.ts';
import { QuarantineStore } from './quarantine-store.ts';

const RUN_END_EVENTS: ReadonlySet<string> = new Set([
  'run-succeeded',
  'run-failed',
  'run-cancelled',
  'run-contained',
]);

type Windows = NonNullable<BodyOf<'budget.event.v1'>['windows']>;

export class BudgetMonitor {
  private readonly lock = new KeyedLock();
  private readonly compiled = new Map<string, CompiledBudget>();
  breaches = 0;
  counted = 0;

  constructor(
    private readonly ctx: ActorContext,
    private readonly args: BudgetMonitorArgs,
    readonly budgets: RedisBudgetStore,
    readonly runs: BudgetRunStore,
    readonly handoffs: HandoffStore,
    readonly quarantine: QuarantineStore,
  ) {}

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
    if (g)
      await this.runs.set(runId, {
        pipeline: g.pipeline,
        budget: g.errorBudget,
        diagnostic: g.diagnostic ?? g.errorBudget?.diagnostic,
      });
    if ((ev.event === 'stage-accepted' || ev.event === 'stage-dispatched') && ev.agentId)
      await this.runs.addAgent(runId, ev.agentId);
    if (RUN_END_EVENTS.has(ev.event)) await this.diagnosticEnded(runId, ev.event);
    // Every failed attempt burns budget, including the ones that will be retried: a stage that
    // needs four tries to pass has failed three times.
    const isError = ev.event === 'stage-failed' || ev.event === 'stage-retrying';
    if (!isError && ev.event !== 'stage-succeeded') return;
    // A redelivered event must not count twice. It is marked seen once counted, not before: a monitor
    // SIGKILLed between the two would otherwise have marked an event it never counted, and its
    // redelivery would be skipped (a failing run's errors lost, its budget never breached). A kill
    // between counting and marking counts that one event twice: erring towards containment.
    const seenKey = `${this.args.keyPrefix}:seen:${env.id}`;
    if ((await this.runs.redis.exists(seenKey)) > 0) return;
    await this.count(runId, isError ? 'error' : 'success', {
      at: env.ts,
      source: 'orchestrator',
      code: ev.error?.code,
      message: ev.error?.message,
      stageId: ev.stageId,
      agentId: ev.agentId,
    });
    await this.runs.redis.set(seenKey, '1', 'PX', DEFAULT_RUN_FACTS_TTL_MS);
  }

  async onReport(env: Envelope<'budget.report.v1'>): Promise<void> {
    const b = env.body;
    if (b.parentRunId) await this.runs.setOnce(b.runId, { parentRunId: b.parentRunId });
    if (b.agentId) await this.runs.addAgent(b.runId, b.agentId);
    await this.count(b.runId, b.outcome, {
      at: this.ctx.clock.now(),
      source: b.source,
      code: b.code,
      message: b.message,
      stageId: b.stageId,
      agentId: b.agentId,
    });
  }

  /** Counts one outcome for the run, then for each ancestor (as coming from `childRunId`). */
  async count(runId: string, outcome: BudgetOutcome, error: TimelineError): Promise<void> {
    const visited = new Set<string>();
    let current: string | undefined = runId;
    let childRunId: string | undefined;
    for (let depth = 0; current && !visited.has(current) && depth <= this.args.maxAncestryDepth; depth++) {
      visited.add(current);
      const id: string = current;
      const facts = await this.lock.run(id, () =>
        this.countOne(id, outcome, childRunId ? { ...error, childRunId } : error),
      );
      childRunId ??= runId;
      current = facts.parentRunId;
    }
  }

  private async countOne(runId: string, outcome: BudgetOutcome, error: TimelineError): Promise<RunFacts> {
    const facts = await this.runs.get(runId);
    const report = await this.budgets.record(runId, this.budgetOf(facts), outcome);
    this.counted++;
    if (outcome === 'error') {
      await this.runs.addError(runId, error);
      if (error.stageId || error.agentId)
        await this.runs.set(runId, { failingStage: error.stageId, failingAgent: error.agentId });
    }
    if (report.firstWarn && report.verdict === 'warn') {
      await this.emitBudget({
        runId,
        event: 'warn',
        verdict: 'warn',
        windows: windowsOf(report),
        childRunId: error.childRunId,
      });
    }
    if (report.firstBreach) await this.breach(await this.runs.get(runId), report, error);
    return facts;
  }

  // --- the first breach ----------------------------------------------------------------------

  private async breach(facts: RunFacts, report: BudgetReport, trigger: TimelineError): Promise<void> {
    const runId = facts.runId;
    this.breaches++;
    const windows = windowsOf(report);
    await this.emitBudget({
      runId,
      event: 'breach',
      verdict: 'breach',
      windows,
      childRunId: trigger.childRunId,
    });
    // Contain first: the run stops before anything else is done about it (its owner ends it at once).
    this.ctx.bus.tell(containSubject(runId), {
      type: 'run.contain.v1',
      body: {
        runId,
        cause: 'budget-exhausted',
        reason: `error budget exhausted${trigger.childRunId ? ` (errors of child run ${trigger.childRunId})` : ''}`,
      },
      run: runId,
    });
    const implicated = await this.implicated(facts, trigger);

    // (a) revoke, (b) suspend the implicated agents: the token authority does both, in that order, on the feed.
    const token: {
      accessor?: string;
      revoked: boolean;
      revokedAt?: number;
      reason?: string;
      suspendedAgents: string[];
      error?: SerializedError;
    } = {
      revoked: false,
      suspendedAgents: [],
    };
    try {
      const reply = await this.ctx.bus.ask(
        serviceSubject(ACTOR_KIND.tokenAuthority),
        {
          type: 'token.revoke.v1',
          body: {
            runId,
            reason: 'budget-exhausted',
            by: this.ctx.address,
            suspendAgents: false,
            quarantineAgents: implicated,
          },
          run: runId,
        },
        { timeoutMs: this.args.revokeTimeoutMs },
      );
      if (reply.type === 'token.revoked.v1') {
        Object.assign(token, {
          accessor: reply.body.accessor,
          revoked: reply.body.accessor !== undefined,
          revokedAt: reply.body.revokedAt,
          reason: reply.body.reason,
          suspendedAgents: reply.body.suspendedAgents,
        });
      }
    } catch (err) {
      // No authority (or Vault down): suspend the implicated agents ourselves.
      token.error = serializeError(err);
      token.reason = 'budget-exhausted';
      const agents = implicated;
      for (const agentId of agents) {
        this.ctx.bus.tell(
          actorInbox(this.args.agentKind, agentId),
          {
            type: 'agent.command.v1',
            body: { command: 'suspend', byTier: 'T2', by: 'budget-monitor', reason: 'budget-exhausted' },
            run: runId,
          },
          { encoding: this.encodings.get(agentId) },
        );
      }
      token.suspendedAgents = agents;
      await this.emitBudget({ runId, event: 'agents-suspended', agentIds: agents, error: token.error });
    }

    // (c) the diagnostic pipeline.
    const pipeline = facts.diagnostic ?? facts.budget?.diagnostic ?? DEFAULT_DIAGNOSTIC_PIPELINE;
    const diagnostic: { pipeline: string; runId?: string; error?: SerializedError } = { pipeline };
    try {
      const reply = await this.ctx.bus.ask(
        serviceSubject(ACTOR_KIND.orchestrator),
        {
          type: 'run.request.v1',
          body: {
            file: diagnosticFile(pipeline, this.args.diagnosticDir),
            params: { failedRunId: runId },
            parentRunId: runId,
            requestedBy: this.ctx.address,
            purpose: 'diagnostic',
          },
          run: runId,
        },
        { timeoutMs: this.args.diagnosticTimeoutMs },
      );
      if (reply.type !== 'run.accepted.v1')
        throw new InvalidMessageError(`orchestrator answered ${reply.type}, not run.accepted.v1`);
      diagnostic.runId = reply.body.runId;
      await this.emitBudget({
        runId,
        event: 'diagnostic-spawned',
        diagnosticPipeline: pipeline,
        diagnosticRunId: reply.body.runId,
      });
    } catch (err) {
      diagnostic.error = serializeError(err);
      await this.emitBudget({
        runId,
        event: 'diagnostic-failed',
        diagnosticPipeline: pipeline,
        error: diagnostic.error,
      });
    }

    await this.holdAgents(runId, token.suspendedAgents, diagnostic.runId);

    // (d) the handoff report, (e) announced.
    const errors = await this.runs.errors(runId);
    const childRunIds = [
      ...new Set(errors.map((e) => e.childRunId).filter((v): v is string => v !== undefined)),
    ];
    const handoff = buildHandoffReport({
      reportId: `handoff-${randomUUID()}`,
      runId,
      pipeline: facts.pipeline,
      parentRunId: facts.parentRunId,
      createdAt: this.ctx.clock.now(),
      reason: 'budget-exhausted',
      budget: {
        kind: this.budgetOf(facts).kind,
        verdict: report.verdict,
        breachedAt: report.breachedAt,
        windows,
      },
      errors,
      errorCount: Math.max(...report.windows.map((w) => w.errors), 0),
      failingStage: facts.failingStage ?? trigger.stageId,
      failingAgent: facts.failingAgent ?? trigger.agentId,
      token,
      diagnostic,
      ledger: {
        stream: AUDIT_STREAM,
        subjects: ['run', 'token', 'budget', 'handoff'].map((c) => auditSubject(c)),
        fromSeq: facts.firstSeq,
        toSeq: facts.lastSeq,
        fromTs: facts.firstTs,
        runIds: [runId, ...childRunIds],
      },
    });
    await this.handoffs.put(handoff);
    await publishFeedAndAudit(this.ctx.bus, ['handoff', feedToken(runId)], 'handoff', {
      type: 'handoff.ready.v1',
      body: {
        reportId: handoff.reportId,
        // The report as handoff.get.v1 serves it (a JSON round trip of the stored record): evidence
        // packages prove the report they carry by this digest.
        reportSha256: jsonDigest(JSON.parse(JSON.stringify(handoff))),
        runId,
        createdAt: handoff.createdAt,
        reason: handoff.reason,
        diagnosticRunId: diagnostic.runId,
        tokenAccessor: token.accessor,
      },
      run: runId,
    });
  }

  // --- quarantine ----------------------------------------------------------------------------

  /** The agents the breach's evidence points at: their own failed attempts in the breach window. */
  private async implicated(facts: RunFacts, trigger: TimelineError): Promise<string[]> {
    const budget = this.budgetOf(facts);
    const now = this.ctx.clock.now();
    const windowMs = Math.max(...budget.windowsMs);
    const errors = await this.runs.errors(facts.runId);
    // The triggering error may not be on the timeline yet when it came from a child run.
    if (!errors.some((e) => e.at === trigger.at && e.agentId === trigger.agentId)) errors.push(trigger);
    return implicatedAgents(
      errors,
      { from: now - windowMs, to: now },
      { minAgentErrors: this.args.quarantineMinAgentErrors, minShare: this.args.quarantineMinShare },
    );
  }

  private async holdAgents(runId: string, agentIds: string[], diagnosticRunId: string | undefined) {
    const now = this.ctx.clock.now();
    const release = this.args.quarantineRelease;
    for (const agentId of agentIds) {
      await this.quarantine.hold({
        agentId,
        runId,
        reason: 'budget-exhausted',
        release,
        since: now,
        ...(release === 'diagnostic-finished' && diagnosticRunId ? { diagnosticRunId } : {}),
        ...(() => {
          const at = releaseAt(release, this.args.quarantineCoolDownMs, now);
          return at === undefined ? {} : { releaseAt: at };
        })(),
      });
    }
  }

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

function windowsOf(r: BudgetReport): Windows {
  return r.windows.map((w) => ({
    windowMs: w.windowMs,
    errors: w.errors,
    total: w.total,
    burnRate: Number.isFinite(w.burnRate) ? w.burnRate : 0,
  }));
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
        },
        (env, info) => monitor.onRunEvent(env, info),
      );
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    const poll = ctx.clock.setInterval(
      () =>
        void monitor
          .releaseDue()
          .catch((err: unknown) => ctx.log.warn('quarantine release failed', { error: String(err) })),
      args.quarantinePollMs,
    );
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
      status: () => ({ counted: monitor.counted, breaches: monitor.breaches }),
      handle: (env, inc) => refusing(() => monitor.handle(env, inc.subject)),
      async stop() {
        ctx.clock.clear(poll);
        await consumer?.stop();
        redis.disconnect();
      },
    };
  },
});
