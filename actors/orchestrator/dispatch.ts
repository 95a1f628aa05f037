/**
 * Dispatch: matches ready stages with idle agents (the pump), carries out the effects of stored run
 * states (assign, cancel a task, start or cancel a child run) and keeps the agents' liveness (lost
 * agents, idle agents that never reported our task, the silence sweep).
 */
import { randomUUID } from 'node:crypto';
import type { Subscription } from '@nats-io/transport-node';
import {
  AgentLostError,
  GovError,
  NoRespondersError,
  serializeError,
} from '../../protocols/vocabulary/errors.ts';
import {
  actorInbox,
  agentResultsSubject,
  allAgentResults,
  allHeartbeats,
  parseActorSubject,
} from '../../protocols/subjects.ts';
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { ConcreteStage } from '../../protocols/pipeline/index.ts';
import type { ActorContext } from '../runtime/actor-kind.ts';
import type { AgentDirectory } from './dispatcher/agent-selection.ts';
import type { OrchestratorArgs } from './options.ts';
import {
  dispatchable,
  type Effect,
  isInFlight,
  type RunInput,
  type RunRecord,
  type SerializedError,
  type StageRecord,
  stageDef,
  stageOfTask,
} from './run-machine.ts';
import { newRunId, type RunView } from './run-view.ts';
import type { Scheduler } from './scheduler.ts';

/** What dispatch asks of the rest of the orchestrator. */
export interface DispatchHooks {
  apply(runId: string, input: RunInput): boolean;
  startChild(parent: RunRecord, stageId: string, childRunId: string): void;
  childFinished(child: RunRecord): void;
  /** The run finished: its timer goes. */
  disarm(runId: string): void;
}

interface ReadyStage {
  runId: string;
  stageId: string;
}

/** Stages with equal needs (selector and task kind) wait in one queue. */
const needKey = (def: ConcreteStage): string =>
  `${def.agent.tier}|${def.agent.role ?? ''}|${def.agent.team ?? ''}|${def.task.kind}`;

export class Dispatcher {
  /**
   * Ready stages (pending, needs done, no retry pause left) waiting for an agent: need → (runId/stageId →
   * stage), oldest first. Entries go stale when their stage changes; the pump drops those it meets.
   */
  private readonly ready = new Map<string, Map<string, ReadyStage>>();
  /** The same for diagnostic runs (spawned by a breach): served first. */
  private readonly readyDiagnostic = new Map<string, Map<string, ReadyStage>>();
  /** Ready child-pipeline stages: they need no agent. */
  private readonly readyChildren = new Map<string, ReadyStage>();
  /**
   * Where agents report: each assign's `replyTo` is `gov.results.orchestrator.<its agent>`, a stream
   * subject we also listen to directly; the broker lets only that agent publish there.
   */
  readonly resultsSubject = allAgentResults(ACTOR_KIND.orchestrator);
  private liveness: Subscription | undefined;

  constructor(
    private readonly ctx: ActorContext,
    private readonly view: RunView,
    readonly agents: AgentDirectory,
    private readonly scheduler: Scheduler,
    private readonly settings: OrchestratorArgs,
    private readonly hooks: DispatchHooks,
  ) {}

  private get now(): number {
    return this.ctx.clock.now();
  }

  /**
   * Notes a run whose state changed (or whose retry pause ended): its stages that may be dispatched
   * now join the ready index. O(stages of the run): a change touches only what it changes.
   */
  noteRun(run: RunRecord): void {
    if (run.status !== 'running') return;
    for (const def of dispatchable(run, this.now)) {
      const ref = `${run.runId}/${def.id}`;
      if (def.task.kind === 'pipeline') {
        this.readyChildren.set(ref, { runId: run.runId, stageId: def.id });
        continue;
      }
      const index = run.diagnostic ? this.readyDiagnostic : this.ready;
      const key = needKey(def);
      let q = index.get(key);
      if (!q) {
        q = new Map();
        index.set(key, q);
      }
      if (!q.has(ref)) q.set(ref, { runId: run.runId, stageId: def.id });
    }
  }

  /**
   * Dispatches ready stages to matching idle agents, oldest first per need; a breach's diagnostic runs
   * first, so it gets the capacity the quarantine left. Costs O(needs + stages dispatched + entries
   * gone stale), not O(runs in flight): a need with no agent left is passed over as a whole, and
   * whatever waits stays in the index for the next pump.
   */
  pump() {
    const now = this.now;
    for (const [ref, r] of this.readyChildren) {
      this.readyChildren.delete(ref);
      if (this.isReady(r, now))
        this.hooks.apply(r.runId, { type: 'start-child', stageId: r.stageId, childRunId: newRunId(now) });
    }
    for (const index of [this.readyDiagnostic, this.ready]) this.serve(index, now);
  }

  private serve(index: Map<string, Map<string, ReadyStage>>, now: number): void {
    for (const [key, q] of index) {
      for (const [ref, r] of q) {
        const run = this.view.get(r.runId);
        const st = run?.stages[r.stageId];
        if (!run || !st || !this.isReady(r, now)) {
          q.delete(ref); // stale: dispatched, ended, or waiting for its retry pause (its timer notes it again)
          continue;
        }
        const def = stageDef(run, r.stageId);
        const agent = this.agents.select({ selector: def.agent, kind: def.task.kind, avoid: st.avoid }, now);
        if (!agent) break; // no available agent matches this need: the rest of its queue waits too
        q.delete(ref);
        const taskId = randomUUID();
        this.agents.assigned(agent.agentId, taskId, now);
        this.hooks.apply(run.runId, { type: 'dispatch', stageId: def.id, agentId: agent.agentId, taskId });
      }
      if (q.size === 0) index.delete(key);
    }
  }

  /** Ready stages waiting in the index (all needs). */
  get readyCount(): number {
    let n = this.readyChildren.size;
    for (const q of this.ready.values()) n += q.size;
    for (const q of this.readyDiagnostic.values()) n += q.size;
    return n;
  }

  private isReady(r: ReadyStage, now: number): boolean {
    const run = this.view.get(r.runId);
    const st = run?.stages[r.stageId];
    return run?.status === 'running' && st?.status === 'pending' && (st.retryAt ?? 0) <= now;
  }

  perform(run: RunRecord, eff: Effect) {
    switch (eff.kind) {
      case 'assign':
        void this.assign(run, eff);
        return;
      case 'cancel-task':
        this.cancelTask(run, eff);
        return;
      case 'start-child':
        this.hooks.startChild(run, eff.stageId, eff.childRunId);
        return;
      case 'cancel-child':
        if (this.view.has(eff.childRunId))
          this.hooks.apply(eff.childRunId, { type: 'cancel', reason: eff.reason });
        return;
      case 'finished':
        this.hooks.disarm(run.runId);
        if (run.parentRunId !== undefined) this.hooks.childFinished(run);
        return;
    }
  }

  private cancelTask(run: RunRecord, eff: Extract<Effect, { kind: 'cancel-task' }>) {
    const agent = this.agents.get(eff.agentId);
    try {
      this.ctx.bus.tell(
        actorInbox(agent?.kind ?? 'agent', eff.agentId),
        {
          type: 'agent.task.cancel.v1',
          body: {
            taskId: eff.taskId,
            runId: run.runId,
            stageId: eff.stageId,
            attempt: eff.attempt,
            reason: eff.reason,
          },
          run: run.runId,
        },
        { encoding: agent?.encoding },
      );
    } catch (err) {
      this.ctx.log.warn('cancel not sent', { error: String(err) });
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
            replyTo: agentResultsSubject(ACTOR_KIND.orchestrator, eff.agentId),
            env,
          },
          run: run.runId,
        },
        { timeoutMs: this.settings.assignTimeoutMs, encoding: agent?.encoding },
      );
      if (reply.type !== 'agent.task.accepted.v1')
        throw new GovError('GOV_ERR_INVALID_MESSAGE', `agent answered ${reply.type}`);
      this.hooks.apply(run.runId, { type: 'accepted', taskId: eff.taskId, agentId: eff.agentId });
    } catch (err) {
      if (this.scheduler.isStopped) return;
      this.refused(run, eff, err);
    }
  }

  private refused(run: RunRecord, eff: Extract<Effect, { kind: 'assign' }>, err: unknown) {
    const error = serializeError(err);
    if (err instanceof NoRespondersError) this.agents.markDead(eff.agentId);
    else if (error.code === 'GOV_ERR_TIMEOUT') {
      // It may have taken the task after all: tell it not to run it.
      this.cancelTask(run, {
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
    this.hooks.apply(run.runId, { type: 'refused', taskId: eff.taskId, agentId: eff.agentId, error });
    // Check again once the refusing agent's cool-down is over.
    this.scheduler.after(this.settings.refusalCooldownMs, () => this.scheduler.requestPump());
  }

  // ---- agents ---------------------------------------------------------------------------------

  agentLost(agentId: string, why: string) {
    this.agents.markDead(agentId);
    const error: SerializedError = serializeError(
      new AgentLostError(`agent ${agentId} ${why}`, { details: { agentId } }),
    );
    for (const run of this.view.all()) {
      for (const st of Object.values(run.stages)) {
        if (st.agentId === agentId && isInFlight(st.status) && st.taskId && st.childRunId === undefined) {
          this.hooks.apply(run.runId, { type: 'lost', taskId: st.taskId, error });
        }
      }
    }
  }

  /** Compares what an idle agent says with what we believe it runs. */
  checkAgentTask(agentId: string) {
    const a = this.agents.get(agentId);
    if (!a?.busyWith || a.state !== 'idle' || a.reportedTaskId === a.busyWith) return;
    const runId = this.view.runOfTask(a.busyWith);
    const st: StageRecord | undefined = runId ? stageOfTask(this.view.get(runId)!, a.busyWith) : undefined;
    if (!runId || !st) {
      // Our task there is over (cancelled, timed out, run ended): it is free again.
      this.agents.released(agentId, a.busyWith);
      this.scheduler.requestPump();
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
    this.hooks.apply(runId, { type: 'lost', taskId, error });
  }

  /**
   * Liveness straight from the wire, not through the mailbox: the sweep must not take an agent for
   * silent because this orchestrator was busy (a slow run.list, a burst of requests). Its heartbeats
   * still go through the mailbox too, for the status they carry, in order with results.
   */
  startSweeping() {
    this.liveness = this.ctx.bus.subscribeRaw(allHeartbeats(), (m) => {
      const who = parseActorSubject(m.subject);
      if (who?.kind === 'agent') this.agents.alive(who.id, this.now);
    });
    const interval = this.settings.sweepIntervalMs;
    let lastTick = this.now;
    let skipped = false;
    this.scheduler.every(interval, () => {
      const now = this.now;
      const late = now - lastTick > interval + interval / 2;
      lastTick = now;
      // A late tick means this process was busy: timers run before I/O, so heartbeats that arrived
      // meanwhile are still unread in the socket and every agent would look silent at once (their
      // in-flight attempts would run a second time). Such a tick passes judgement to the next one.
      if (late && !skipped) {
        skipped = true;
        return;
      }
      skipped = false;
      // After this turn's I/O (setImmediate runs after the poll phase): heartbeats already received count.
      setImmediate(() => this.sweep());
    });
  }

  private sweep() {
    if (this.scheduler.isStopped) return;
    for (const id of this.agents.silent(this.now))
      this.agentLost(id, `missed ${this.settings.agentMissedBeats} heartbeats`);
  }

  stopSweeping() {
    try {
      this.liveness?.unsubscribe();
    } catch {
      // connection already closed
    }
  }
}
