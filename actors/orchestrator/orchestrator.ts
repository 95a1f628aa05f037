/**
 * The orchestrator actor (kind `orchestrator`): runs pipelines on the agent fleet.
 *
 * - Serves run.request.v1 / run.cancel.v1 / run.get.v1 / run.list.v1 on `gov.svc.orchestrator`
 *   (queue group; msgpack or JSON). A request is validated, persisted and answered with
 *   run.accepted.v1 at once; the run then proceeds in the background.
 * - Keeps a live view of agents (heartbeats with an agent `status`, agent.register.v1, exit reports)
 *   and dispatches each ready stage to an idle matching agent (least recently used) with
 *   agent.task.assign.v1 whose `replyTo` is `gov.results.orchestrator`: progress and results are kept
 *   by the RESULTS stream and taken from its durable consumer in mailbox order, each acked once the
 *   change it caused is stored (results-consumer.ts), so none is lost while no orchestrator runs.
 *   Reports on the service subject (assigns sent before an upgrade) are still taken.
 * - Stage state changes go through the pure reducer in run-machine.ts; every new state is written to
 *   the KV bucket before any effect (assign, cancel, child run, event) is carried out, so a restarted
 *   orchestrator resumes every run where it stood (docs/orchestrator.md).
 */
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Subscription } from '@nats-io/transport-node';
import type { IncomingContext } from '../../bus/bus.ts';
import { ensureStreams } from '../../bus/streams.ts';
import type { TimerHandle } from '../../infra/clock.ts';
import type { BodyOf } from '../../protocols/catalog.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import {
  AgentLostError,
  GovError,
  NoRespondersError,
  NotFoundError,
  serializeError,
  toGovError,
} from '../../protocols/errors.ts';
import { AgentStateSchema } from '../../protocols/messages/agent.ts';
import {
  assertAdmissible,
  ownTier,
  type ResolvedPipeline,
  type TaskOf,
} from '../../protocols/pipeline/index.ts';
import {
  actorInbox,
  agentRegisterSubject,
  allExits,
  allHeartbeats,
  parseActorSubject,
  resultsSubject,
} from '../../protocols/subjects.ts';
import type { ActorBehavior, ActorContext, Refusal } from '../runtime/actor-kind.ts';
import { defineActorKind, refuse } from '../runtime/actor-kind.ts';
import { AgentDirectory } from './dispatcher/agent-selection.ts';
import { JsPublisher } from '../../bus/index.ts';
import { Outbox } from './outbox.ts';
import {
  DEFAULT_AUDIT_DRAIN_MS,
  DEFAULT_AUDIT_RETRY_MS,
  DEFAULT_JS_ACK_TIMEOUT_MS,
  DEFAULT_LIST_LIMIT,
  DEFAULT_RESULTS_ACK_WAIT_MS,
  DEFAULT_RESULTS_BATCH,
  DEFAULT_RESULTS_DURABLE,
  DEFAULT_RESULTS_MAX_ACK_PENDING,
  DEFAULT_RESULTS_RETRY_MS,
  DEFAULT_FAST_REPORTS_REMEMBERED,
  DEFAULT_FINISHED_RUNS_REMEMBERED,
  type OrchestratorArgs,
  OrchestratorArgsSchema,
} from './options.ts';
import { childPipeline, pipelineLoader, requestPipeline } from './pipeline-source.ts';
import {
  dispatchable,
  type Effect,
  isInFlight,
  isTerminalRun,
  newRun,
  nextDueAt,
  type RunEventBody,
  type RunInput,
  type RunRecord,
  type SerializedError,
  type StageRecord,
  stageDef,
  stageOfTask,
  step,
} from './run-machine.ts';
import { ResultsConsumer } from './results-consumer.ts';
import { RunEvents } from './run-events.ts';
import { RunStore } from './run-store.ts';
import { runGovernance } from './run-governance.ts';

export const ORCHESTRATOR_KIND = ACTOR_KIND.orchestrator;

export type OrchestratorSettings = OrchestratorArgs;

/** A fresh run id: time-ordered, a valid subject token. */
export function newRunId(now: number): string {
  return `r-${now.toString(36)}-${randomBytes(5).toString('hex')}`;
}

/** The public form of a run record (run.state.v1). */
export function toRunState(run: RunRecord): BodyOf<'run.state.v1'> {
  const stages = run.pipeline.stages.map((def) => {
    const st = run.stages[def.id]!;
    const out: BodyOf<'run.state.v1'>['stages'][number] = {
      stageId: st.stageId,
      status: st.status,
      attempt: st.attempt,
    };
    if (st.agentId !== undefined) out.agentId = st.agentId;
    if (st.startedAt !== undefined) out.startedAt = st.startedAt;
    if (st.finishedAt !== undefined) out.finishedAt = st.finishedAt;
    if (st.error !== undefined) out.error = st.error;
    if (st.output !== undefined) out.output = st.output;
    return out;
  });
  const out: BodyOf<'run.state.v1'> = {
    runId: run.runId,
    pipeline: run.pipeline.name,
    status: run.status,
    tier: run.tier ?? ownTier(run.pipeline),
    params: run.params,
    createdAt: run.createdAt,
    stages,
  };
  if (run.parentRunId !== undefined) out.parentRunId = run.parentRunId;
  if (run.finishedAt !== undefined) out.finishedAt = run.finishedAt;
  if (run.error !== undefined) out.error = run.error;
  return out;
}

/** Keeps a Map or Set (insertion-ordered) at `max` entries by dropping the oldest. */
function forgetOldest(c: Map<string, unknown> | Set<string>, max: number): void {
  if (c.size > max) c.delete(c.keys().next().value!);
}

class Orchestrator {
  private readonly runs = new Map<string, RunRecord>();
  /** taskId → runId for attempts in flight. */
  private readonly tasks = new Map<string, string>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly agents: AgentDirectory;
  private sweepTimer: TimerHandle | undefined;
  private liveness: Subscription | undefined;
  private pumpScheduled = false;
  /** Work deferred by `later`, run in order in one microtask. */
  private readonly deferred: Array<() => void> = [];
  /** Runs whose first write is in flight (admit). */
  private readonly admitting = new Set<string>();
  /** runId → its latest state write (resolves once that state, or a newer one, is stored). */
  private readonly writes = new Map<string, Promise<void>>();
  /** Ids of reports taken on the results fast path whose durable copy has not come yet (oldest first). */
  private readonly takenFast = new Set<string>();
  /** Runs finished here lately → the write that stored their end (oldest first; see taskReport). */
  private readonly finished = new Map<string, Promise<void>>();
  /** Progress and results from the RESULTS stream (set once recovery is done). */
  results: ResultsConsumer | undefined;
  private stopped = false;
  /** Where agents report (the `replyTo` of our assigns): a stream subject we also listen to directly. */
  private readonly resultsSubject = resultsSubject(ORCHESTRATOR_KIND);

  constructor(
    private readonly ctx: ActorContext,
    private readonly store: RunStore,
    private readonly events: RunEvents,
    private readonly settings: OrchestratorSettings,
    private readonly outbox: Outbox,
  ) {
    this.agents = new AgentDirectory(settings.agentMissedBeats, settings.agentHeartbeatMs);
  }

  private get now(): number {
    return this.ctx.clock.now();
  }

  // ---- state changes ------------------------------------------------------------------------

  /**
   * Applies one input to a run: the new state is stored, then its events and effects go out.
   * An accept or a progress report changes nothing anyone acts on, so its state is not written on its
   * own: it goes out with the next write (after a restart such a stage is still in flight either way).
   */
  private apply(runId: string, input: RunInput): boolean {
    const run = this.runs.get(runId);
    if (!run) return false;
    const s = step(run, input, this.now);
    if (!s.changed) return false;
    this.runs.set(runId, s.run);
    this.index(run, s.run);
    this.armTimer(s.run);
    if ((input.type === 'accepted' || input.type === 'progress') && s.effects.length === 0) {
      for (const e of s.events) this.publishEvent(e);
      return true;
    }
    // The assign leaves right behind the state write that records it, without waiting for its ack
    // (see RunStore.save: same socket write, handled in order by nats-server): what has to wait for
    // the ack — events, the RESULTS ack of the result that led here, other effects — still does.
    const assigns = s.effects.filter((e) => e.kind === 'assign');
    const saved = this.store.save(
      s.run,
      assigns.length === 0
        ? undefined
        : () => {
            for (const eff of assigns) this.perform(s.run, eff);
          },
    );
    this.writes.set(runId, saved);
    const forget = () => {
      if (this.writes.get(runId) === saved) this.writes.delete(runId);
    };
    saved.then(forget, forget);
    saved.then(
      () => {
        // Every change stored by the same write is carried out in one pass, in order.
        this.later(() => {
          for (const e of s.events) this.publishEvent(e);
          for (const eff of s.effects) if (eff.kind !== 'assign') this.perform(s.run, eff);
        });
      },
      (err: unknown) => {
        // A failed admission is answered to its requester (admit); any other failed write is fatal.
        if (!this.admitting.has(runId)) this.ctx.crash(err);
      },
    );
    if (isTerminalRun(s.run.status)) {
      // The record stays in the store (run.get / run.list); memory keeps only live runs.
      void saved.then(() => {
        if (this.runs.get(runId) !== s.run) return;
        this.runs.delete(runId);
        this.finished.set(runId, saved);
        forgetOldest(this.finished, DEFAULT_FINISHED_RUNS_REMEMBERED);
      });
    }
    this.schedulePump();
    return true;
  }

  /** Resolves once every change of the run made so far is stored (rejects if that write failed). */
  private stored(runId: string): Promise<void> {
    return this.writes.get(runId) ?? Promise.resolve();
  }

  /** Defers work to one pass after the microtasks already queued, in call order (see apply). */
  private later(then: () => void) {
    this.deferred.push(then);
    if (this.deferred.length > 1) return;
    queueMicrotask(() => {
      // Work deferred while this pass runs joins it.
      for (let i = 0; i < this.deferred.length; i++) this.deferred[i]!();
      this.deferred.length = 0;
    });
  }

  private index(before: RunRecord, after: RunRecord) {
    for (const [id, st] of Object.entries(after.stages)) {
      const old = before.stages[id];
      if (old?.taskId && old.taskId !== st.taskId) this.tasks.delete(old.taskId);
      if (st.taskId && isInFlight(st.status)) this.tasks.set(st.taskId, after.runId);
      else if (st.taskId) this.tasks.delete(st.taskId);
    }
  }

  private armTimer(run: RunRecord) {
    const old = this.timers.get(run.runId);
    if (old) this.ctx.clock.clear(old);
    this.timers.delete(run.runId);
    if (isTerminalRun(run.status) || this.stopped) return;
    const due = nextDueAt(run);
    if (due === undefined) return;
    this.timers.set(
      run.runId,
      this.ctx.clock.setTimeout(() => this.onDue(run.runId), Math.max(0, due - this.now)),
    );
  }

  private onDue(runId: string) {
    this.timers.delete(runId);
    const run = this.runs.get(runId);
    if (!run) return;
    const now = this.now;
    for (const st of Object.values(run.stages)) {
      if (isInFlight(st.status) && st.deadline !== undefined && st.deadline <= now && st.taskId) {
        this.apply(runId, { type: 'timeout', taskId: st.taskId });
      }
    }
    const latest = this.runs.get(runId);
    if (latest) this.armTimer(latest);
    this.schedulePump();
  }

  private schedulePump() {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Dispatches every ready stage of every live run that has a matching idle agent. */
  private pump() {
    const now = this.now;
    for (const run of [...this.runs.values()]) {
      if (run.status === 'pending') continue;
      for (const def of dispatchable(run, now)) {
        if (def.task.kind === 'pipeline') {
          this.apply(run.runId, { type: 'start-child', stageId: def.id, childRunId: newRunId(now) });
          continue;
        }
        const st = this.runs.get(run.runId)?.stages[def.id];
        const agent = this.agents.select(
          { selector: def.agent, kind: def.task.kind, avoid: st?.avoid ?? [] },
          now,
        );
        if (!agent) continue;
        const taskId = randomUUID();
        this.agents.assigned(agent.agentId, taskId, now);
        this.apply(run.runId, { type: 'dispatch', stageId: def.id, agentId: agent.agentId, taskId });
      }
    }
  }

  // ---- effects --------------------------------------------------------------------------------

  /** On the feed at once, to the audit stream tracked and retried (run-events.ts). */
  private publishEvent(b: RunEventBody) {
    this.events.publish(b);
  }

  private perform(run: RunRecord, eff: Effect) {
    switch (eff.kind) {
      case 'assign':
        void this.assign(run, eff);
        return;
      case 'cancel-task': {
        const agent = this.agents.get(eff.agentId);
        try {
          this.ctx.bus.tell(actorInbox(agent?.kind ?? 'agent', eff.agentId), {
            type: 'agent.task.cancel.v1',
            body: {
              taskId: eff.taskId,
              runId: run.runId,
              stageId: eff.stageId,
              attempt: eff.attempt,
              reason: eff.reason,
            },
            run: run.runId,
          });
        } catch (err) {
          this.ctx.log.warn('cancel not sent', { error: String(err) });
        }
        return;
      }
      case 'start-child':
        void this.startChild(run, eff.stageId, eff.childRunId);
        return;
      case 'cancel-child':
        if (this.runs.has(eff.childRunId)) this.apply(eff.childRunId, { type: 'cancel', reason: eff.reason });
        return;
      case 'finished': {
        const timer = this.timers.get(run.runId);
        if (timer) this.ctx.clock.clear(timer);
        this.timers.delete(run.runId);
        if (run.parentRunId !== undefined) void this.childFinished(run);
        return;
      }
    }
  }

  private async assign(run: RunRecord, eff: Extract<Effect, { kind: 'assign' }>) {
    const def = stageDef(run, eff.stageId);
    const agent = this.agents.get(eff.agentId);
    const env: Record<string, string> = { PIPELINE_ID: run.runId, PARENT_PIPELINE_ID: run.parentRunId ?? '' };
    try {
      // Sent synchronously (ask publishes before its first await), so it follows its state write.
      const reply = await this.ctx.bus.ask(
        actorInbox(agent?.kind ?? 'agent', eff.agentId),
        {
          type: 'agent.task.assign.v1',
          body: {
            taskId: eff.taskId,
            runId: run.runId,
            stageId: eff.stageId,
            attempt: eff.attempt,
            task: def.task,
            requiredTier: def.agent.tier,
            timeoutMs: def.timeoutMs,
            replyTo: this.resultsSubject,
            env,
          },
          run: run.runId,
        },
        { timeoutMs: this.settings.assignTimeoutMs },
      );
      if (reply.type !== 'agent.task.accepted.v1')
        throw new GovError('GOV_ERR_INVALID_MESSAGE', `agent answered ${reply.type}`);
      this.apply(run.runId, { type: 'accepted', taskId: eff.taskId, agentId: eff.agentId });
    } catch (err) {
      if (this.stopped) return;
      const error = serializeError(err);
      if (err instanceof NoRespondersError) this.agents.markDead(eff.agentId);
      else if (error.code === 'GOV_ERR_TIMEOUT') {
        // It may have taken the task after all: tell it not to run it.
        this.perform(run, {
          kind: 'cancel-task',
          stageId: eff.stageId,
          taskId: eff.taskId,
          attempt: eff.attempt,
          agentId: eff.agentId,
          reason: 'assign timed out',
        });
      }
      this.agents.released(eff.agentId, eff.taskId, {
        refused: true,
        now: this.now,
        coolDownMs: this.settings.refusalCooldownMs,
      });
      this.ctx.log.info('agent refused task', {
        agentId: eff.agentId,
        code: error.code,
        runId: run.runId,
        stageId: eff.stageId,
      });
      this.apply(run.runId, { type: 'refused', taskId: eff.taskId, agentId: eff.agentId, error });
      // Check again once the refusing agent's cool-down is over.
      this.ctx.clock.setTimeout(() => this.schedulePump(), this.settings.refusalCooldownMs);
    }
  }

  private async startChild(parent: RunRecord, stageId: string, childRunId: string) {
    if (this.runs.has(childRunId)) return;
    const existing = await this.store.get(childRunId);
    if (existing) {
      // Restarted after the child was stored: it is resumed on its own; report if it already ended.
      if (isTerminalRun(existing.status)) this.deliverChildResult(existing);
      return;
    }
    const def = stageDef(parent, stageId);
    let child: RunRecord;
    try {
      const pipeline = await childPipeline(
        parent.pipeline,
        def.task as TaskOf<'pipeline'>,
        this.settings.pipelinesDir,
      );
      child = newRun({
        runId: childRunId,
        pipeline,
        owner: this.ctx.id,
        now: this.now,
        parentRunId: parent.runId,
        parentStageId: stageId,
      });
    } catch (err) {
      this.apply(parent.runId, {
        type: 'child-finished',
        childRunId,
        status: 'failed',
        error: serializeError(err),
      });
      return;
    }
    await this.admit(child);
  }

  private async childFinished(child: RunRecord) {
    this.deliverChildResult(child);
  }

  private deliverChildResult(child: RunRecord) {
    if (!child.parentRunId) return;
    const input: RunInput = { type: 'child-finished', childRunId: child.runId, status: child.status };
    if (child.error) input.error = child.error;
    this.apply(child.parentRunId, input);
  }

  // ---- runs -----------------------------------------------------------------------------------

  /**
   * Stores a new run, started and with its first stages dispatched, in one write; resolves once it is
   * stored (the caller then answers the request). Nothing is acted on before that write: its events
   * (`run-accepted` first) and assigns follow it. If the write fails the run is dropped and the
   * request fails, as if it had never been made.
   */
  private async admit(run: RunRecord): Promise<void> {
    this.runs.set(run.runId, run);
    this.admitting.add(run.runId);
    const stored = this.store.save(run);
    const accepted: RunEventBody = {
      runId: run.runId,
      event: 'run-accepted',
      governance: runGovernance(run.pipeline),
    };
    if (run.parentRunId !== undefined) accepted.parentRunId = run.parentRunId;
    // Registered before the start's own continuation, so it is published first.
    stored.then(
      () => this.publishEvent(accepted),
      () => {},
    );
    this.apply(run.runId, { type: 'start' });
    // Dispatch the first stages now, so they are stored in the same write as the run.
    this.pump();
    try {
      await stored;
    } catch (err) {
      this.abandon(run.runId);
      throw err;
    } finally {
      this.admitting.delete(run.runId);
    }
  }

  /** Forgets a run whose admission could not be stored: its dispatches were never carried out. */
  private abandon(runId: string) {
    const run = this.runs.get(runId);
    this.runs.delete(runId);
    const timer = this.timers.get(runId);
    if (timer) this.ctx.clock.clear(timer);
    this.timers.delete(runId);
    for (const st of Object.values(run?.stages ?? {})) {
      if (!st.taskId) continue;
      this.tasks.delete(st.taskId);
      if (st.agentId !== undefined) this.agents.released(st.agentId, st.taskId);
    }
    this.schedulePump();
  }

  /** Takes a stored run back into memory and carries on from its last stored state. */
  private resume(run: RunRecord) {
    if (this.runs.has(run.runId) || isTerminalRun(run.status)) return;
    this.runs.set(run.runId, run);
    const now = this.now;
    for (const st of Object.values(run.stages)) {
      if (!isInFlight(st.status) || !st.taskId) continue;
      this.tasks.set(st.taskId, run.runId);
      if (st.agentId !== undefined && st.childRunId === undefined)
        this.agents.expect(st.agentId, st.taskId, now);
    }
    this.apply(run.runId, { type: run.status === 'pending' ? 'start' : 'resume' });
    this.armTimer(this.runs.get(run.runId)!);
  }

  /** After resuming: children that ended while we were away, or that were never stored. */
  private async reconcileChildren() {
    for (const run of [...this.runs.values()]) {
      for (const st of Object.values(run.stages)) {
        if (st.childRunId === undefined || !isInFlight(st.status) || st.taskId !== st.childRunId) continue;
        if (this.runs.has(st.childRunId)) continue;
        const child = await this.store.get(st.childRunId);
        if (!child) await this.startChild(run, st.stageId, st.childRunId);
        else if (isTerminalRun(child.status)) this.deliverChildResult(child);
      }
    }
  }

  /**
   * The run, from memory or the store. A stored live run owned by an orchestrator that no longer
   * answers (or by us, before a restart) is adopted; one owned by a live orchestrator is reported
   * as `elsewhere` so the caller can forward to it.
   */
  private async locate(
    runId: string,
  ): Promise<{ run: RunRecord; where: 'here' | 'stored' | 'elsewhere' } | undefined> {
    const mine = this.runs.get(runId);
    if (mine) return { run: mine, where: 'here' };
    const stored = await this.store.get(runId);
    if (!stored) return undefined;
    if (isTerminalRun(stored.status)) return { run: stored, where: 'stored' };
    if (stored.owner !== this.ctx.id && (await this.ownerAlive(stored.owner)))
      return { run: stored, where: 'elsewhere' };
    const adopted =
      stored.owner === this.ctx.id ? stored : await this.store.claim(runId, stored.owner, this.ctx.id);
    if (!adopted) return this.locate(runId);
    this.resume(adopted);
    return { run: this.runs.get(runId) ?? adopted, where: 'here' };
  }

  private async ownerAlive(owner: string): Promise<boolean> {
    try {
      await this.ctx.bus.ask(
        actorInbox(ORCHESTRATOR_KIND, owner),
        { type: 'actor.ping.v1', body: {} },
        { timeoutMs: 1_000 },
      );
      return true;
    } catch (err) {
      return !(err instanceof NoRespondersError);
    }
  }

  /** Resumes our own runs at once and adopts runs whose owner is gone. */
  async recover(): Promise<void> {
    const active = await this.store.active();
    for (const run of active) if (run.owner === this.ctx.id) this.resume(run);
    for (const run of active) {
      if (run.owner === this.ctx.id || this.runs.has(run.runId)) continue;
      if (await this.ownerAlive(run.owner)) continue;
      const adopted = await this.store.claim(run.runId, run.owner, this.ctx.id);
      if (adopted) this.resume(adopted);
    }
    await this.reconcileChildren();
    this.schedulePump();
  }

  // ---- agents ---------------------------------------------------------------------------------

  private agentLost(agentId: string, why: string) {
    this.agents.markDead(agentId);
    const error: SerializedError = serializeError(
      new AgentLostError(`agent ${agentId} ${why}`, { details: { agentId } }),
    );
    for (const run of [...this.runs.values()]) {
      for (const st of Object.values(run.stages)) {
        if (st.agentId === agentId && isInFlight(st.status) && st.taskId && st.childRunId === undefined) {
          this.apply(run.runId, { type: 'lost', taskId: st.taskId, error });
        }
      }
    }
  }

  /** Compares what an idle agent says with what we believe it runs. */
  private checkAgentTask(agentId: string) {
    const a = this.agents.get(agentId);
    if (!a?.busyWith || a.state !== 'idle' || a.reportedTaskId === a.busyWith) return;
    const runId = this.tasks.get(a.busyWith);
    const st: StageRecord | undefined = runId ? stageOfTask(this.runs.get(runId)!, a.busyWith) : undefined;
    if (!runId || !st) {
      // Our task there is over (cancelled, timed out, run ended): it is free again.
      this.agents.released(agentId, a.busyWith);
      this.schedulePump();
      return;
    }
    const grace =
      st.status === 'dispatched'
        ? this.settings.assignTimeoutMs + this.settings.lostTaskGraceMs
        : this.settings.lostTaskGraceMs;
    if (this.now - (st.startedAt ?? 0) < grace) return;
    const taskId = a.busyWith;
    this.agents.released(agentId, taskId);
    const error = serializeError(
      new AgentLostError(`agent ${agentId} is idle but never reported task ${taskId}'s result`, {
        details: { agentId, taskId },
      }),
    );
    this.apply(runId, { type: 'lost', taskId, error });
  }

  private sweep() {
    for (const id of this.agents.silent(this.now))
      this.agentLost(id, `missed ${this.settings.agentMissedBeats} heartbeats`);
  }

  // ---- messages -------------------------------------------------------------------------------

  /**
   * Handles one message. A request that fails (invalid pipeline, unknown run) is refused with its
   * typed error without crashing the actor; the runtime sends that one reply.
   */
  async handle(env: Envelope, ictx: IncomingContext): Promise<OutMessage | Refusal | undefined> {
    try {
      return await this.handleMessage(env, ictx.subject, ictx.reply !== undefined);
    } catch (err) {
      this.ctx.log.info('request refused', { type: env.type, error: String(err) });
      return refuse(toGovError(err));
    }
  }

  private async handleMessage(
    env: Envelope,
    subject: string,
    asked = false,
  ): Promise<OutMessage | undefined> {
    switch (env.type) {
      case 'run.request.v1': {
        const pipeline = await requestPipeline(env.body);
        // Admission: nothing the run can reach (children, diagnostics, token policies) above the caller.
        const need = await assertAdmissible(
          pipeline as unknown as ResolvedPipeline,
          env.body.callerTier ?? 'T2',
          pipelineLoader(this.settings.pipelinesDir),
          env.body.requestedBy ?? env.from,
        );
        const now = this.now;
        const run = newRun({
          runId: newRunId(now),
          pipeline,
          owner: this.ctx.id,
          now,
          ...(env.body.parentRunId ? { parentRunId: env.body.parentRunId } : {}),
          ...(env.body.requestedBy ? { requestedBy: env.body.requestedBy } : {}),
          tier: need.tier,
        });
        await this.admit(run);
        return {
          type: 'run.accepted.v1',
          body: { runId: run.runId, pipeline: pipeline.name, stages: pipeline.stages.map((s) => s.id) },
          run: run.runId,
        };
      }
      case 'run.cancel.v1': {
        const found = await this.locate(env.body.runId);
        if (!found)
          throw new NotFoundError(`no run ${env.body.runId}`, { details: { runId: env.body.runId } });
        if (found.where === 'elsewhere') {
          const reply = await this.ctx.bus.ask(actorInbox(ORCHESTRATOR_KIND, found.run.owner), {
            type: 'run.cancel.v1',
            body: env.body,
          });
          return reply as OutMessage;
        }
        if (found.where === 'here')
          this.apply(found.run.runId, {
            type: 'cancel',
            reason: env.body.reason ?? `cancelled by ${env.from}`,
          });
        const latest = this.runs.get(found.run.runId) ?? (await this.store.get(found.run.runId)) ?? found.run;
        return { type: 'run.state.v1', body: toRunState(latest) };
      }
      case 'run.get.v1': {
        const run = this.runs.get(env.body.runId) ?? (await this.store.get(env.body.runId));
        if (!run) throw new NotFoundError(`no run ${env.body.runId}`, { details: { runId: env.body.runId } });
        return { type: 'run.state.v1', body: toRunState(run) };
      }
      case 'run.list.v1': {
        const all = await this.store.all();
        const runs = all
          .map((r) => this.runs.get(r.runId) ?? r)
          .filter((r) => env.body.status === undefined || r.status === env.body.status)
          .sort((a, b) => b.createdAt - a.createdAt)
          .slice(0, env.body.limit ?? DEFAULT_LIST_LIMIT)
          .map(toRunState);
        return { type: 'run.states.v1', body: { runs } };
      }
      case 'agent.task.progress.v1':
      case 'agent.task.result.v1': {
        const results = this.results;
        if (subject === this.resultsSubject) {
          // The fast path: the agent's report as published, before the RESULTS stream stores it and
          // delivers its durable copy. Only the run's owner acts on it (every instance hears it);
          // the durable copy, a duplicate by taskId by then, is acked once this change is stored.
          if (this.runs.has(env.body.runId)) {
            await this.taskReport(env, false);
            this.takenFast.add(env.id);
            forgetOldest(this.takenFast, DEFAULT_FAST_REPORTS_REMEMBERED);
          }
          return;
        }
        // The durable copy (its `cause` is the published report's id) of a report taken on the fast
        // path: not applied again — a progress report would be a second event on the feed and the
        // audit trail — only acked once that change is stored.
        if (env.cause !== undefined && this.takenFast.delete(env.cause)) {
          if (results?.has(env.id)) results.settle(env.id, this.stored(env.body.runId));
          return;
        }
        if (!results?.has(env.id)) {
          const settled = await this.taskReport(env, false);
          // Asked: a report another instance took from the RESULTS stream and forwarded to us, the
          // run's owner; it acks the stream's copy when we answer, so answer once the change is stored.
          if (asked) await settled.done;
          return;
        }
        // From the RESULTS stream: acked once what it changed is stored (or it was handed over).
        let settled: { done: Promise<unknown> };
        try {
          settled = await this.taskReport(env, true);
        } catch (err) {
          results.settle(env.id, Promise.reject(err));
          throw err;
        }
        results.settle(env.id, settled.done);
        return;
      }
      case 'actor.heartbeat.v1': {
        const b = env.body;
        if (b.kind !== 'agent') return;
        const status = b.status === undefined ? undefined : AgentStateSchema.safeParse(b.status);
        if (status?.success) {
          if (this.agents.report(b.kind, status.data, this.now, b.intervalMs)) this.schedulePump();
          this.checkAgentTask(status.data.agentId);
        } else {
          this.agents.seen(b.actorId, this.now, b.intervalMs);
        }
        return;
      }
      case 'agent.register.v1': {
        if (this.agents.report('agent', env.body, this.now)) this.schedulePump();
        return;
      }
      case 'actor.exit.v1': {
        const b = env.body;
        if (b.kind === 'agent') this.agentLost(b.actorId, `exited (${b.reason})`);
        else if (b.kind === ORCHESTRATOR_KIND && b.actorId !== this.ctx.id) void this.recover();
        return;
      }
      default:
        return;
    }
  }

  /**
   * Takes an agent's progress report or result. Resolves (at once) with what settles it: once the change it
   * caused is stored, or (`durable`, a run owned by another live orchestrator) once that orchestrator
   * took it over.
   */
  private async taskReport(
    env: Envelope<'agent.task.progress.v1' | 'agent.task.result.v1'>,
    durable: boolean,
  ): Promise<{ done: Promise<unknown> }> {
    const settled = { done: Promise.resolve() as Promise<unknown> };
    const b = env.body;
    const finished = this.finished.get(b.runId);
    if (finished && !this.runs.has(b.runId)) return { done: finished };
    if (!this.runs.has(b.runId)) {
      // Found out off the mailbox: a store read and a ping of the owner (up to a second) must not
      // hold up the heartbeats and results queued behind this report.
      const done = this.foreignReport(env, durable);
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
    if (env.type === 'agent.task.progress.v1') {
      const input: RunInput = { type: 'progress', taskId: b.taskId };
      if (env.body.fraction !== undefined) input.fraction = env.body.fraction;
      this.apply(b.runId, input);
      this.agents.seen(b.agentId, this.now);
      return settled;
    }
    const r = (env as Envelope<'agent.task.result.v1'>).body;
    this.agents.released(r.agentId, r.taskId);
    const input: RunInput = { type: 'result', taskId: r.taskId, status: r.status };
    if (r.output !== undefined) input.output = r.output;
    if (r.error !== undefined) input.error = r.error;
    this.apply(r.runId, input);
    // Dispatch what the result unblocked now, so it is stored in the same write, and send that write
    // (and the assigns behind it) before the other replies that came in with this result.
    this.pump();
    this.store.sendNow(r.runId);
    // A duplicate changes nothing: the write that stored the first copy (if still in flight) settles it.
    return { done: this.stored(r.runId) };
  }

  /**
   * A report for a run not in memory here: forwarded to its live owner (a durable one as an ask, so
   * its stream copy is acked once the owner has stored it), taken after adopting an orphaned run, or
   * dropped for a finished or unknown run.
   */
  private async foreignReport(
    env: Envelope<'agent.task.progress.v1' | 'agent.task.result.v1'>,
    durable: boolean,
  ): Promise<unknown> {
    const b = env.body;
    const found = await this.locate(b.runId);
    if (!found || found.where === 'stored') return;
    if (found.where === 'here') return (await this.taskReport(env, durable)).done;
    const forwarded = { type: env.type, body: env.body, run: b.runId } as OutMessage;
    const owner = actorInbox(ORCHESTRATOR_KIND, found.run.owner);
    if (!durable) {
      this.ctx.bus.tell(owner, forwarded);
      return;
    }
    // If the owner is gone meanwhile the ask fails: delivered again, and the run adopted then.
    return this.ctx.bus.ask(owner, forwarded);
  }

  behavior(): ActorBehavior {
    return {
      accepts: [
        'run.request.v1',
        'run.cancel.v1',
        'run.get.v1',
        'run.list.v1',
        'agent.task.progress.v1',
        'agent.task.result.v1',
        'actor.heartbeat.v1',
        'agent.register.v1',
        'actor.exit.v1',
      ],
      subscriptions: [
        { subject: allHeartbeats() },
        { subject: allExits() },
        { subject: agentRegisterSubject() },
        { subject: this.resultsSubject },
      ],
      status: () => ({ runs: this.runs.size, agents: this.agents.list().filter((a) => !a.dead).length }),
      handle: (env, ctx) => this.handle(env, ctx),
      stop: async () => {
        this.stopped = true;
        for (const t of this.timers.values()) this.ctx.clock.clear(t);
        this.timers.clear();
        if (this.sweepTimer) this.ctx.clock.clear(this.sweepTimer);
        try {
          this.liveness?.unsubscribe();
        } catch {
          // connection already closed
        }
        // No more reports are taken; the ones taken are acked as their writes complete.
        await this.results?.close();
        // State writes in flight finish (their events follow), then every event reaches the audit stream.
        await this.store.settled();
        await this.events.drain(DEFAULT_AUDIT_DRAIN_MS);
        this.outbox.flush(); // acks of the last writes
      },
    };
  }

  startSweeping() {
    // Liveness straight from the wire, not through the mailbox: the sweep below must not take an
    // agent for silent because this orchestrator was busy (a slow run.list, a burst of requests). Its
    // heartbeats still go through the mailbox too, for the status they carry, in order with results.
    this.liveness = this.ctx.bus.subscribeRaw(allHeartbeats(), (m) => {
      const who = parseActorSubject(m.subject);
      if (who?.kind === 'agent') this.agents.alive(who.id, this.now);
    });
    this.sweepTimer = this.ctx.clock.setInterval(() => this.sweep(), this.settings.sweepIntervalMs);
  }
}

export const orchestratorKind = defineActorKind({
  kind: ORCHESTRATOR_KIND,
  description:
    'runs pipelines: run.request.v1 / run.cancel.v1 / run.get.v1 / run.list.v1 on gov.svc.orchestrator',
  args: OrchestratorArgsSchema,
  async start(ctx) {
    const settings = ctx.args;
    await ensureStreams(ctx.bus);
    const publisher = new JsPublisher(ctx.bus.replies(), DEFAULT_JS_ACK_TIMEOUT_MS);
    const store = await RunStore.open(ctx.bus, settings.bucket, publisher);
    const outbox = new Outbox();
    const events = new RunEvents(ctx.bus, publisher, ctx.clock, ctx.log, DEFAULT_AUDIT_RETRY_MS, outbox);
    const o = new Orchestrator(ctx, store, events, settings, outbox);
    const behavior = o.behavior();
    // Recovery needs the bus but not the subscriptions; results arriving meanwhile find their runs in the store.
    await o.recover();
    // Reports kept while no orchestrator ran go into the mailbox before any heartbeat.
    o.results = await ResultsConsumer.open(
      ctx,
      {
        durable: DEFAULT_RESULTS_DURABLE,
        ackWaitMs: DEFAULT_RESULTS_ACK_WAIT_MS,
        maxAckPending: DEFAULT_RESULTS_MAX_ACK_PENDING,
        batch: DEFAULT_RESULTS_BATCH,
        retryMs: DEFAULT_RESULTS_RETRY_MS,
      },
      outbox,
    );
    await o.results.start();
    o.startSweeping();
    return behavior;
  },
});
