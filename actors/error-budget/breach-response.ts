/**
 * What the budget monitor does about a breach, as resumable steps: the breach event and the
 * containment order → revoke + quarantine (token authority) → the diagnostic pipeline → the handoff
 * report. Each step is marked done in the breach's record (breach-store.ts) as it completes; a
 * monitor killed half-way leaves the breach pending, and the next monitor — the same one restarted,
 * on its sweep — takes it over once the dead one's claim lapses and does only what is left. The
 * window where a step is done but not yet marked (the diagnostic accepted, the monitor killed before
 * writing it down) is the one place a step can happen twice.
 */
import { randomUUID } from 'node:crypto';
import { AUDIT_STREAM } from '../../bus/index.ts';
import {
  ACTOR_KIND,
  actorInbox,
  type AnyEnvelope,
  auditPublishers,
  type BodyOf,
  containSubject,
  type Envelope,
  feedToken,
  InvalidMessageError,
  serializeError,
  serviceSubject,
} from '../../protocols/index.ts';
import { jsonDigest } from '../ledger/index.ts';
import type { ActorContext } from '../runtime/index.ts';
import {
  type BudgetMonitorArgs,
  DEFAULT_DIAGNOSTIC_PIPELINE,
  diagnosticFile,
} from './budget-monitor-options.ts';
import type { CompiledBudget } from './budget-policy.ts';
import type { BudgetRunStore, RunFacts, TimelineError } from './budget-run-store.ts';
import type { BudgetReport, RedisBudgetStore } from './budget-store.ts';
import type { BreachRecord, BreachStore, BreachToken, BreachWindows } from './breach-store.ts';
import { buildHandoffReport } from './handoff-report.ts';
import type { HandoffStore } from './handoff-store.ts';
import { implicatedAgents, releaseAt } from './quarantine-policy.ts';
import type { QuarantineStore } from './quarantine-store.ts';

export interface BreachResponderDeps {
  runs: BudgetRunStore;
  budgets: RedisBudgetStore;
  handoffs: HandoffStore;
  quarantine: QuarantineStore;
  breaches: BreachStore;
  budgetOf(facts: RunFacts): CompiledBudget;
  emitBudget(body: BodyOf<'budget.event.v1'>): Promise<unknown>;
  /** Publishes a budget event made earlier (the breach event kept in its record), under its id. */
  publishBudget(env: Envelope<'budget.event.v1'>): Promise<unknown>;
  /** Publishes an event made earlier on the feed and in the audit stream (`category`), under its id. */
  publishEvent(feed: [string, ...string[]], category: string, env: AnyEnvelope): Promise<unknown>;
  encodingOf(agentId: string): 'msgpack' | 'json' | undefined;
}

export class BreachResponder {
  /** This incarnation: a claim names it, so a restarted monitor under the same id is another owner. */
  private readonly owner: string;
  acted = 0;

  constructor(
    private readonly ctx: ActorContext,
    private readonly args: BudgetMonitorArgs,
    private readonly d: BreachResponderDeps,
  ) {
    this.owner = `${ctx.address}#${randomUUID()}`;
  }

  /**
   * A breach just latched (the one firstBreach): announced and the run contained first — before
   * anything is written down, so nothing stands between the breach and the containment order (a
   * monitor killed before the record is written announces it again when the event comes back) —
   * then recorded as pending and claimed in one step, and acted on at once.
   */
  async latched(runId: string, report: BudgetReport, trigger: TimelineError, facts: RunFacts): Promise<void> {
    const rec = this.withBreachEvent({
      runId,
      reportId: `handoff-${randomUUID()}`,
      trigger,
      verdict: report.verdict,
      breachedAt: report.breachedAt,
      windows: windowsOf(report),
      errorCount: Math.max(...report.windows.map((w) => w.errors), 0),
      announced: true,
    });
    const published = this.announce(rec);
    if (!(await this.d.breaches.open(rec, this.owner, this.args.breachLeaseMs)))
      return void (await published);
    try {
      await this.steps(rec, facts, published);
    } finally {
      await this.d.breaches.unclaim(runId, this.owner);
    }
  }

  /**
   * The breach event's envelope, fixed once and kept in the breach record (`auditIds`): announcing it
   * again (a successor resuming the steps) publishes the same id, which the stream and ledger keep once.
   */
  private withBreachEvent(rec: BreachRecord): BreachRecord {
    const env = this.ctx.bus.wrap({
      type: 'budget.event.v1',
      body: {
        runId: rec.runId,
        event: 'breach',
        verdict: 'breach',
        windows: rec.windows,
        ...(rec.trigger.childRunId === undefined ? {} : { childRunId: rec.trigger.childRunId }),
      },
      run: rec.runId,
    });
    return { ...rec, breachEvent: env, auditIds: [env.id] };
  }

  /** Acts on every pending breach nobody is acting on (a killed monitor's, once its claim lapsed). */
  async sweep(): Promise<void> {
    for (const runId of await this.d.breaches.pending()) await this.act(runId);
  }

  /** Does what is left of a pending breach's steps, unless another instance holds it. */
  async act(runId: string): Promise<void> {
    if (!(await this.d.breaches.claim(runId, this.owner, this.args.breachLeaseMs))) return;
    try {
      const rec = (await this.d.breaches.get(runId)) ?? (await this.recordFromState(runId));
      if (!rec) return await this.d.breaches.drop(runId);
      if (rec.done) return await this.d.breaches.finish(rec);
      await this.steps(rec, await this.d.runs.get(runId));
    } finally {
      await this.d.breaches.unclaim(runId, this.owner);
    }
  }

  /** The steps not done yet, each marked in the record once done. `published`: the announcement's audit ack. */
  private async steps(rec: BreachRecord, facts: RunFacts, published?: Promise<unknown>): Promise<void> {
    const { runId } = rec;
    if (!rec.announced) {
      published = this.announce(rec);
      rec.announced = true;
    } else if (published === undefined && rec.breachEvent) {
      // A successor: the breach was announced before its record was written, but a SIGKILL may have
      // cut that publish off. Its stored envelope goes again under the same id (kept once).
      published = this.d.publishBudget(rec.breachEvent);
    }
    if (!rec.token) {
      // Asked while the announcement's audit copy is still on its way: the revoke is not held up by
      // a JetStream round trip (the feed order is kept — the breach went out first).
      rec.implicated ??= await this.implicated(facts, rec.trigger);
      rec.token = await this.revoke(runId, rec.implicated);
    }
    await published;
    await this.d.breaches.save(rec);
    // What the run's record says now (the triggering error's stage and agent included), for the rest.
    facts = await this.d.runs.get(runId);
    if (!rec.diagnostic) {
      rec.diagnostic = await this.diagnose(runId, facts);
      await this.d.breaches.save(rec);
    }
    if (!rec.held) {
      await this.holdAgents(runId, rec.token.suspendedAgents, rec.diagnostic.runId);
      rec.held = true;
      await this.d.breaches.save(rec);
    }
    await this.handoff(rec, facts);
    await this.d.breaches.finish(rec);
    this.acted++;
  }

  /** A breach latched by a monitor killed before it wrote its record down: rebuilt from the counts. */
  private async recordFromState(runId: string): Promise<BreachRecord | undefined> {
    const facts = await this.d.runs.get(runId);
    const report = await this.d.budgets.snapshot(runId, this.d.budgetOf(facts));
    if (!report.breached) return undefined;
    const errors = await this.d.runs.errors(runId);
    return this.withBreachEvent({
      runId,
      reportId: `handoff-${randomUUID()}`,
      trigger: errors.at(-1) ?? { at: report.breachedAt ?? this.ctx.clock.now(), source: 'budget-monitor' },
      verdict: 'breach',
      breachedAt: report.breachedAt,
      windows: windowsOf(report),
      errorCount: Math.max(...report.windows.map((w) => w.errors), 0),
    });
  }

  /**
   * The breach on the feed, and the run contained: its owner ends it at once. Both go out as this is
   * called — the feed copy, the audit copy, then the containment order on the same connection; the
   * promise is the audit stream's ack, which nothing needs before the order.
   */
  private announce(rec: BreachRecord): Promise<unknown> {
    const { runId, trigger } = rec;
    // The envelope kept in the record: announced again after a crash, it is stored once.
    const published = rec.breachEvent
      ? this.d.publishBudget(rec.breachEvent)
      : this.d.emitBudget({
          runId,
          event: 'breach',
          verdict: 'breach',
          windows: rec.windows,
          childRunId: trigger.childRunId,
        });
    this.ctx.bus.tell(containSubject(runId), {
      type: 'run.contain.v1',
      body: {
        runId,
        cause: 'budget-exhausted',
        reason: `error budget exhausted${trigger.childRunId ? ` (errors of child run ${trigger.childRunId})` : ''}`,
      },
      run: runId,
    });
    return published;
  }

  /** (a) revoke, (b) suspend the implicated agents: the token authority does both, in that order, on the feed. */
  private async revoke(runId: string, implicated: string[]): Promise<BreachToken> {
    const token: BreachToken = { revoked: false, suspendedAgents: [] };
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
      for (const agentId of implicated) {
        this.ctx.bus.tell(
          actorInbox(this.args.agentKind, agentId),
          {
            type: 'agent.command.v1',
            body: { command: 'suspend', byTier: 'T2', by: 'budget-monitor', reason: 'budget-exhausted' },
            run: runId,
          },
          { encoding: this.d.encodingOf(agentId) },
        );
      }
      token.suspendedAgents = implicated;
      await this.d.emitBudget({ runId, event: 'agents-suspended', agentIds: implicated, error: token.error });
    }
    return token;
  }

  /** (c) the diagnostic pipeline. */
  private async diagnose(runId: string, facts: RunFacts): Promise<NonNullable<BreachRecord['diagnostic']>> {
    const pipeline = facts.diagnostic ?? facts.budget?.diagnostic ?? DEFAULT_DIAGNOSTIC_PIPELINE;
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
      await this.d.emitBudget({
        runId,
        event: 'diagnostic-spawned',
        diagnosticPipeline: pipeline,
        diagnosticRunId: reply.body.runId,
      });
      return { pipeline, runId: reply.body.runId };
    } catch (err) {
      const error = serializeError(err);
      await this.d.emitBudget({ runId, event: 'diagnostic-failed', diagnosticPipeline: pipeline, error });
      return { pipeline, error };
    }
  }

  /**
   * (d) the handoff report, (e) announced. Stored under the id chosen at the latch: a retry overwrites
   * it. The `handoff.ready` envelope is kept in the breach record before it is published (the record is
   * its outbox), so a successor resuming after a SIGKILL publishes that one again under its id instead
   * of a second event; without a stored envelope nothing was published yet, and the report is rebuilt.
   */
  private async handoff(rec: BreachRecord, facts: RunFacts): Promise<void> {
    if (!rec.handoffEvent) {
      // As the record keeps it (JSON: no undefined fields), so a republish carries the same content.
      const env = JSON.parse(
        JSON.stringify(await this.storeHandoff(rec, facts)),
      ) as Envelope<'handoff.ready.v1'>;
      rec.handoffEvent = env;
      rec.auditIds = [...(rec.auditIds ?? []), env.id];
      await this.d.breaches.save(rec);
    }
    await this.d.publishEvent(['handoff', feedToken(rec.runId)], 'handoff', rec.handoffEvent);
  }

  /** Stores the handoff report and returns its `handoff.ready` envelope (not published yet). */
  private async storeHandoff(rec: BreachRecord, facts: RunFacts): Promise<Envelope<'handoff.ready.v1'>> {
    const { runId, trigger } = rec;
    const errors = await this.d.runs.errors(runId);
    const childRunIds = [
      ...new Set(errors.map((e) => e.childRunId).filter((v): v is string => v !== undefined)),
    ];
    const handoff = buildHandoffReport({
      reportId: rec.reportId,
      runId,
      pipeline: facts.pipeline,
      parentRunId: facts.parentRunId,
      createdAt: this.ctx.clock.now(),
      reason: 'budget-exhausted',
      budget: {
        kind: this.d.budgetOf(facts).kind,
        verdict: rec.verdict,
        breachedAt: rec.breachedAt,
        windows: rec.windows,
      },
      errors,
      errorCount: rec.errorCount,
      failingStage: trigger.stageId ?? facts.failingStage,
      failingAgent: trigger.agentId ?? facts.failingAgent,
      token: rec.token ?? { revoked: false, suspendedAgents: [] },
      diagnostic: rec.diagnostic ?? { pipeline: DEFAULT_DIAGNOSTIC_PIPELINE },
      ledger: {
        stream: AUDIT_STREAM,
        subjects: ['run', 'token', 'budget', 'handoff'].map((c) => auditPublishers(c)),
        fromSeq: facts.firstSeq,
        toSeq: facts.lastSeq,
        fromTs: facts.firstTs,
        runIds: [runId, ...childRunIds],
      },
    });
    await this.d.handoffs.put(handoff);
    return this.ctx.bus.wrap({
      type: 'handoff.ready.v1',
      body: {
        reportId: handoff.reportId,
        // The report as handoff.get.v1 serves it (a JSON round trip of the stored record): evidence
        // packages prove the report they carry by this digest.
        reportSha256: jsonDigest(JSON.parse(JSON.stringify(handoff))),
        runId,
        createdAt: handoff.createdAt,
        reason: handoff.reason,
        diagnosticRunId: rec.diagnostic?.runId,
        tokenAccessor: rec.token?.accessor,
      },
      run: runId,
    });
  }

  /** The agents the breach's evidence points at: their own failed attempts in the breach window. */
  private async implicated(facts: RunFacts, trigger: TimelineError): Promise<string[]> {
    const budget = this.d.budgetOf(facts);
    const now = this.ctx.clock.now();
    const windowMs = Math.max(...budget.windowsMs);
    const errors = await this.d.runs.errors(facts.runId);
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
    const at = releaseAt(release, this.args.quarantineCoolDownMs, now);
    for (const agentId of agentIds) {
      await this.d.quarantine.hold({
        agentId,
        runId,
        reason: 'budget-exhausted',
        release,
        since: now,
        ...(release === 'diagnostic-finished' && diagnosticRunId ? { diagnosticRunId } : {}),
        ...(at === undefined ? {} : { releaseAt: at }),
      });
    }
  }
}

export function windowsOf(r: BudgetReport): BreachWindows {
  return r.windows.map((w) => ({
    windowMs: w.windowMs,
    errors: w.errors,
    total: w.total,
    burnRate: Number.isFinite(w.burnRate) ? w.burnRate : 0,
  }));
}
