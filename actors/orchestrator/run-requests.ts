/**
 * The run protocol's requests (docs/orchestrator.md): run.request.v1 (validated, admitted, answered
 * with run.accepted.v1 once stored), run.cancel.v1 (forwarded to the run's owner when that is another
 * live instance), run.get.v1 and run.list.v1 (memory first, then the store).
 */
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import { InvalidTransitionError, NotFoundError, OverloadedError } from '../../protocols/vocabulary/errors.ts';
import { assertAdmissible, type ResolvedPipeline } from '../../protocols/pipeline/index.ts';
import { actorInbox } from '../../protocols/subjects.ts';
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { ActorContext } from '../runtime/actor-kind.ts';
import { DEFAULT_LIST_LIMIT, DEFAULT_OVERLOADED_RETRY_AFTER_MS, type OrchestratorArgs } from './options.ts';
import type { Located } from './ownership.ts';
import { pipelineLoader, requestPipeline } from './pipeline-source.ts';
import { isTerminalRun, newRun, type RunInput, type RunRecord } from './run-machine.ts';
import { type AdmissionSources, assertServable } from './admission.ts';
import type { RunStore } from './run-store.ts';
import { newRunId, type RunView, toRunState } from './run-view.ts';

/** What the request handlers ask of the rest of the orchestrator. */
export interface RequestHooks {
  apply(runId: string, input: RunInput): boolean;
  admit(run: RunRecord): Promise<void>;
  locate(runId: string): Promise<Located | undefined>;
  /** Where admission looks for agents that can serve a run. */
  admission: AdmissionSources;
  /** Extra time admission waits for agents this instance may not have heard yet (just started). */
  startupGraceMs(): number;
}

export class RunRequests {
  constructor(
    private readonly ctx: ActorContext,
    private readonly view: RunView,
    private readonly store: RunStore,
    private readonly settings: OrchestratorArgs,
    private readonly hooks: RequestHooks,
  ) {}

  async request(env: Envelope<'run.request.v1'>): Promise<OutMessage> {
    this.admissionControl();
    const pipeline = await requestPipeline(env.body);
    // Admission: nothing the run can reach (children, diagnostics, token policies) above the caller.
    const need = await assertAdmissible(
      pipeline as unknown as ResolvedPipeline,
      env.body.callerTier ?? 'T2',
      pipelineLoader(this.settings.pipelinesDir),
      env.body.requestedBy ?? env.from,
    );
    // Capacity: a stage no live agent can serve would wait for ever; refuse it (or wait, when asked).
    await assertServable(
      pipeline,
      this.hooks.admission,
      Math.max(env.body.waitForAgentMs ?? 0, this.hooks.startupGraceMs()),
    );
    const now = this.ctx.clock.now();
    const run = newRun({
      runId: newRunId(now),
      pipeline,
      owner: this.ctx.id,
      now,
      ...(env.body.parentRunId ? { parentRunId: env.body.parentRunId } : {}),
      ...(env.body.requestedBy ? { requestedBy: env.body.requestedBy } : {}),
      tier: need.tier,
      diagnostic: env.body.purpose === 'diagnostic',
    });
    await this.hooks.admit(run);
    return {
      type: 'run.accepted.v1',
      body: { runId: run.runId, pipeline: pipeline.name, stages: pipeline.stages.map((s) => s.id) },
      run: run.runId,
    };
  }

  /** Refuses a new run while this instance drives its maximum of live runs (never an unbounded queue). */
  private admissionControl(): void {
    const max = this.settings.maxRunsInFlight;
    if (this.view.size < max) return;
    throw new OverloadedError(
      `orchestrator ${this.ctx.id} drives ${this.view.size} runs (max ${max}); retry after ${DEFAULT_OVERLOADED_RETRY_AFTER_MS} ms`,
      {
        details: {
          retryAfterMs: DEFAULT_OVERLOADED_RETRY_AFTER_MS,
          runsInFlight: this.view.size,
          maxRunsInFlight: max,
        },
      },
    );
  }

  async cancel(env: Envelope<'run.cancel.v1'>): Promise<OutMessage> {
    const found = await this.hooks.locate(env.body.runId);
    if (!found) throw new NotFoundError(`no run ${env.body.runId}`, { details: { runId: env.body.runId } });
    if (found.where === 'elsewhere') {
      const reply = await this.ctx.bus.ask(actorInbox(ACTOR_KIND.orchestrator, found.run.owner), {
        type: 'run.cancel.v1',
        body: env.body,
      });
      return reply as OutMessage;
    }
    if (found.where === 'here')
      this.hooks.apply(found.run.runId, {
        type: 'cancel',
        reason: env.body.reason ?? `cancelled by ${env.from}`,
      });
    const latest = this.view.get(found.run.runId) ?? (await this.store.get(found.run.runId)) ?? found.run;
    return { type: 'run.state.v1', body: toRunState(latest) };
  }

  /** run.pause.v1 / run.resume.v1 (operator controls): forwarded to the run's owner like a cancel. */
  async hold(env: Envelope<'run.pause.v1' | 'run.resume.v1'>): Promise<OutMessage> {
    const { runId } = env.body;
    const found = await this.hooks.locate(runId);
    if (!found) throw new NotFoundError(`no run ${runId}`, { details: { runId } });
    if (found.where === 'elsewhere') {
      const msg = { type: env.type, body: env.body } as OutMessage;
      return (await this.ctx.bus.ask(
        actorInbox(ACTOR_KIND.orchestrator, found.run.owner),
        msg,
      )) as OutMessage;
    }
    const latest0 = this.view.get(runId) ?? found.run;
    if (isTerminalRun(latest0.status))
      throw new InvalidTransitionError(
        `run ${runId} is ${latest0.status}: it cannot be ${env.type === 'run.pause.v1' ? 'paused' : 'resumed'}`,
        {
          details: { runId, status: latest0.status },
        },
      );
    if (found.where === 'here')
      this.hooks.apply(
        runId,
        env.type === 'run.pause.v1'
          ? {
              type: 'pause',
              by: env.body.by ?? env.from,
              ...(env.body.reason ? { reason: env.body.reason } : {}),
            }
          : { type: 'unpause' },
      );
    const latest = this.view.get(runId) ?? (await this.store.get(runId)) ?? found.run;
    return { type: 'run.state.v1', body: toRunState(latest) };
  }

  /**
   * A containment order (run.contain.v1, taken only on `gov.contain.<runId>`, where only the budget
   * monitor and the token authority may publish): the run's owner ends it `contained` at once. Every
   * instance hears the order; one that does not hold the run adopts it only if its owner is gone.
   */
  async contain(env: Envelope<'run.contain.v1'>): Promise<void> {
    const { runId, cause, reason } = env.body;
    if (!this.view.has(runId)) {
      const found = await this.hooks.locate(runId);
      if (found?.where !== 'here') return;
    }
    this.hooks.apply(runId, { type: 'contain', cause, reason });
  }

  async get(env: Envelope<'run.get.v1'>): Promise<OutMessage> {
    const run = this.view.get(env.body.runId) ?? (await this.store.get(env.body.runId));
    if (!run) throw new NotFoundError(`no run ${env.body.runId}`, { details: { runId: env.body.runId } });
    return { type: 'run.state.v1', body: toRunState(run) };
  }

  async list(env: Envelope<'run.list.v1'>): Promise<OutMessage> {
    const all = await this.store.all();
    const runs = all
      .map((r) => this.view.get(r.runId) ?? r)
      .filter((r) => env.body.status === undefined || r.status === env.body.status)
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, env.body.limit ?? DEFAULT_LIST_LIMIT)
      .map(toRunState);
    return { type: 'run.states.v1', body: { runs } };
  }
}
