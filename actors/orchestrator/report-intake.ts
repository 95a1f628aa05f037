/**
 * Report intake: agents' progress reports and results, from three doors — the fast path (the report
 * as published on `gov.results.orchestrator.<agentId>`, heard directly), the RESULTS stream's durable copy (put
 * into the mailbox by results-consumer.ts, acked once the change it caused is stored) and reports
 * forwarded by another instance (asked, answered once stored). A report taken on the fast path is not
 * applied again when its durable copy comes (de-duplication by the published report's id); a report
 * for a run driven elsewhere is forwarded to its owner, or taken after adopting an orphaned run.
 *
 * Who reports is the agent the subject names (the broker lets an agent publish only on results subjects
 * ending in its own id), and a report counts only for a task its run assigned to that agent: anything
 * else is not applied, and published (`gov.obs.forgery.<agent>`) and audited as `identity.refused.v1`.
 */
import { type IdentityRefusal, refusedReport, verifiedReportSender } from '../../protocols/agent-identity.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import { ForbiddenError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox, resultsSenderOf, serviceSubject } from '../../protocols/subjects.ts';
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { ActorContext } from '../runtime/actor-kind.ts';
import type { AgentDirectory } from './dispatcher/agent-selection.ts';
import { DEFAULT_FAST_REPORTS_REMEMBERED } from './options.ts';
import type { Located } from './ownership.ts';
import type { ResultsConsumer } from './results-consumer.ts';
import { isTerminalRun, type RunInput } from './run-machine.ts';
import { stageOfTask } from './run-record.ts';
import { forgetOldest, type RunView } from './run-view.ts';

type Report = Envelope<'agent.task.progress.v1' | 'agent.task.result.v1'>;

/** What report intake asks of the rest of the orchestrator. */
export interface IntakeHooks {
  apply(runId: string, input: RunInput): boolean;
  /** Dispatches what a result unblocked, in the write being built. */
  pumpNow(): void;
  sendNow(runId: string): void;
  stored(runId: string): Promise<void>;
  locate(runId: string): Promise<Located | undefined>;
  results(): ResultsConsumer | undefined;
  /** A result for a run that has ended: not applied; audited when the run was contained. */
  late(env: Envelope<'agent.task.result.v1'>, run?: { status: string }): void;
  /** A report that speaks for another agent than its verified sender: not applied; on the feed and audited. */
  forged(refusal: IdentityRefusal, reportId: string): void;
}

export class ReportIntake {
  /** Ids of reports taken on the results fast path whose durable copy has not come yet (oldest first). */
  private readonly takenFast = new Set<string>();

  constructor(
    private readonly ctx: ActorContext,
    private readonly view: RunView,
    private readonly agents: AgentDirectory,
    private readonly resultsKind: string,
    private readonly hooks: IntakeHooks,
  ) {}

  /** Whether the report's body names the agent its subject does (a forgery is dead-lettered by the caller). */
  private fromSubject(env: Report, subject: string): boolean {
    try {
      verifiedReportSender(subject, env.body, env.type);
      return true;
    } catch (err) {
      if (!(err instanceof ForbiddenError)) throw err;
      this.ctx.log.warn('report speaking for another agent not taken', {
        subject,
        agentId: env.body.agentId,
      });
      return false;
    }
  }

  /**
   * Whether the task is the reporting agent's: a report for a task the run assigned to another agent
   * is not applied (a forgery, or a stale agent), but published and audited as refused.
   */
  private fromAssignee(env: Report): boolean {
    const b = env.body;
    const run = this.view.get(b.runId);
    const stage = run ? stageOfTask(run, b.taskId) : undefined;
    if (!stage?.agentId || stage.agentId === b.agentId) return true;
    const error = new ForbiddenError(
      `${env.type} from agent ${b.agentId} for task ${b.taskId}, which run ${b.runId} assigned to ${stage.agentId}`,
      {
        details: {
          subject: '',
          messageType: env.type,
          sender: b.agentId,
          claimed: { taskId: b.taskId, stageId: stage.stageId },
          runId: b.runId,
        },
      },
    );
    this.hooks.forged(refusedReport(error, this.ctx.bus.name), env.cause ?? env.id);
    return false;
  }

  /** Takes one progress report or result that came in on `subject` (`asked`: someone waits for the answer). */
  async take(env: Report, subject: string, asked: boolean): Promise<void> {
    const results = this.hooks.results();
    if (resultsSenderOf(subject)?.kind === this.resultsKind) {
      // The fast path: the agent's report as published, before the RESULTS stream stores it and
      // delivers its durable copy. Only the run's owner acts on it (every instance hears it);
      // the durable copy, a duplicate by taskId by then, is acked once this change is stored.
      if (this.view.has(env.body.runId)) {
        // The reporting agent is the one the subject names (the broker checked it), never the body's
        // claim; the durable copy of a forgery is refused (and audited) by the results consumer.
        if (!this.fromSubject(env, subject)) return;
        await this.report(env, false);
        this.takenFast.add(env.id);
        forgetOldest(this.takenFast, DEFAULT_FAST_REPORTS_REMEMBERED);
      }
      return;
    }
    // The durable copy (its `cause` is the published report's id) of a report taken on the fast
    // path: not applied again — a progress report would be a second event on the feed and the
    // audit trail — only acked once that change is stored.
    if (env.cause !== undefined && this.takenFast.delete(env.cause)) {
      if (results?.has(env.id)) results.settle(env.id, this.hooks.stored(env.body.runId));
      return;
    }
    if (!results?.has(env.id)) {
      const settled = await this.report(env, false);
      // Asked: a report another instance took from the RESULTS stream and forwarded to us, the
      // run's owner; it acks the stream's copy when we answer, so answer once the change is stored.
      if (asked) await settled.done;
      return;
    }
    // From the RESULTS stream: acked once what it changed is stored (or it was handed over).
    let settled: { done: Promise<unknown> };
    try {
      settled = await this.report(env, true);
    } catch (err) {
      results.settle(env.id, Promise.reject(err));
      throw err;
    }
    results.settle(env.id, settled.done);
  }

  /**
   * Takes an agent's progress report or result. Resolves (at once) with what settles it: once the change it
   * caused is stored, or (`durable`, a run owned by another live orchestrator) once that orchestrator
   * took it over.
   */
  private async report(env: Report, durable: boolean): Promise<{ done: Promise<unknown> }> {
    const b = env.body;
    const finished = this.view.finishedLately(b.runId);
    if (finished && !this.view.has(b.runId)) {
      if (env.type === 'agent.task.result.v1') this.late(env as Envelope<'agent.task.result.v1'>);
      return { done: finished };
    }
    const live = this.view.get(b.runId);
    if (live && isTerminalRun(live.status) && env.type === 'agent.task.result.v1') {
      this.late(env as Envelope<'agent.task.result.v1'>, live);
      return { done: this.hooks.stored(b.runId) };
    }
    if (!this.view.has(b.runId)) {
      // Found out off the mailbox: a store read and a ping of the owner (up to a second) must not
      // hold up the heartbeats and results queued behind this report.
      const done = this.foreign(env, durable);
      // A durable report's failure is a nak (settle); anyone else's is only worth a line in the log.
      if (!durable)
        done.catch((err: unknown) =>
          this.ctx.log.warn('report for a run elsewhere not handed over', {
            runId: b.runId,
            error: String(err),
          }),
        );
      return { done };
    }
    if (!this.fromAssignee(env)) return { done: Promise.resolve() };
    if (env.type === 'agent.task.progress.v1') {
      const input: RunInput = { type: 'progress', taskId: b.taskId };
      if (env.body.fraction !== undefined) input.fraction = env.body.fraction;
      this.hooks.apply(b.runId, input);
      this.agents.seen(b.agentId, this.ctx.clock.now());
      return { done: Promise.resolve() };
    }
    const r = (env as Envelope<'agent.task.result.v1'>).body;
    this.agents.released(r.agentId, r.taskId);
    const input: RunInput = { type: 'result', taskId: r.taskId, status: r.status };
    if (r.output !== undefined) input.output = r.output;
    if (r.error !== undefined) input.error = r.error;
    if (this.hooks.apply(r.runId, input)) this.forwardTaskReports(r);
    // Dispatch what the result unblocked now, so it is stored in the same write, and send that write
    // (and the assigns behind it) before the other replies that came in with this result.
    this.hooks.pumpNow();
    this.hooks.sendNow(r.runId);
    // A duplicate changes nothing: the write that stored the first copy (if still in flight) settles it.
    return { done: this.hooks.stored(r.runId) };
  }

  /**
   * The outcome reports a task wrote (`agov report`, actors/agent/tasks/task-reports.ts), counted
   * against the budget of the run this orchestrator's own record puts the task in: the result was
   * just applied, so its taskId is an attempt of that run, whatever the task wrote.
   */
  private forwardTaskReports(r: Envelope<'agent.task.result.v1'>['body']): void {
    const reports = (r.output as { reports?: unknown } | undefined)?.reports;
    if (!Array.isArray(reports)) return;
    for (const rep of reports as Array<{ outcome?: unknown; message?: unknown; code?: unknown }>) {
      if (rep?.outcome !== 'error' && rep?.outcome !== 'success') continue;
      this.ctx.bus.tell(serviceSubject(ACTOR_KIND.budgetMonitor), {
        type: 'budget.report.v1',
        run: r.runId,
        body: {
          runId: r.runId,
          source: 'task',
          outcome: rep.outcome,
          stageId: r.stageId,
          agentId: r.agentId,
          ...(typeof rep.code === 'string' ? { code: rep.code } : {}),
          ...(typeof rep.message === 'string' ? { message: rep.message } : {}),
        },
      });
    }
  }

  /** A result of an ended run: its agent is free again, and the rest is the orchestrator's call (late). */
  private late(env: Envelope<'agent.task.result.v1'>, run?: { status: string }): void {
    this.agents.released(env.body.agentId, env.body.taskId);
    this.hooks.late(env, run);
  }

  /**
   * A report for a run not in memory here: forwarded to its live owner (a durable one as an ask, so
   * its stream copy is acked once the owner has stored it), taken after adopting an orphaned run, or
   * dropped for a finished or unknown run.
   */
  private async foreign(env: Report, durable: boolean): Promise<unknown> {
    const b = env.body;
    const found = await this.hooks.locate(b.runId);
    if (!found) return;
    if (found.where === 'stored') {
      if (env.type === 'agent.task.result.v1') this.late(env as Envelope<'agent.task.result.v1'>, found.run);
      return;
    }
    if (found.where === 'here') return (await this.report(env, durable)).done;
    const forwarded = { type: env.type, body: env.body, run: b.runId } as OutMessage;
    const owner = actorInbox(ACTOR_KIND.orchestrator, found.run.owner);
    if (!durable) {
      this.ctx.bus.tell(owner, forwarded);
      return;
    }
    // If the owner is gone meanwhile the ask fails: delivered again, and the run adopted then.
    return this.ctx.bus.ask(owner, forwarded);
  }
}
