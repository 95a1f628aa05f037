/**
 * One step's working state and the helpers the cases of `step` (run-machine.ts) share: emitting
 * events, patching stages, finishing the run, failing an attempt, starting schedule-to-start clocks.
 */
import { dependentsOf } from '../../protocols/pipeline/index.ts';
import { DEFAULT_SCHEDULE_TO_START_MS } from '../../protocols/pipeline/options.ts';
import { DEFAULT_MAX_LOST_ATTEMPTS } from './options.ts';
import {
  backoffMs,
  type Effect,
  isDone,
  isInFlight,
  isTerminalStage,
  type RunEventBody,
  type RunRecord,
  type RunStatus,
  type SerializedError,
  type StageRecord,
  stageDef,
} from './run-record.ts';

const RUN_END_EVENT: Record<RunStatus, RunEventBody['event']> = {
  pending: 'run-failed',
  running: 'run-failed',
  succeeded: 'run-succeeded',
  failed: 'run-failed',
  cancelled: 'run-cancelled',
  contained: 'run-contained',
};

/**
 * One step's working state and the helpers the cases of `step` share. A class rather than closures
 * made per call: `step` runs three times per stage on the orchestrator's critical path.
 */
export class Stepper {
  readonly run: RunRecord;
  readonly events: RunEventBody[] = [];
  readonly effects: Effect[] = [];

  constructor(
    readonly prev: RunRecord,
    readonly now: number,
  ) {
    this.run = { ...prev, stages: { ...prev.stages } };
  }

  emit(e: Omit<RunEventBody, 'runId' | 'parentRunId'>) {
    const run = this.run;
    this.events.push(
      run.parentRunId === undefined
        ? { runId: run.runId, ...e }
        : { runId: run.runId, parentRunId: run.parentRunId, ...e },
    );
  }

  patch(id: string, p: Partial<StageRecord>): StageRecord {
    const next = { ...this.run.stages[id]!, ...p };
    this.run.stages[id] = next;
    return next;
  }

  /** Ends the run: in-flight attempts are cancelled, pending stages skipped (or cancelled). */
  finish(
    status: RunStatus,
    error?: SerializedError,
    reason = `run ${status}`,
    extra: Partial<RunEventBody> = {},
  ) {
    const { run, now } = this;
    for (const st of Object.values(run.stages)) {
      if (isInFlight(st.status)) {
        this.cancelAttempt(st, reason);
        this.patch(st.stageId, { status: 'cancelled', finishedAt: now, deadline: undefined });
      } else if (st.status === 'pending') {
        const stopped = status === 'cancelled' || status === 'contained';
        this.patch(st.stageId, {
          status: stopped ? 'cancelled' : 'skipped',
          retryAt: undefined,
          waitDeadline: undefined,
        });
        if (!stopped) this.emit({ event: 'stage-skipped', stageId: st.stageId });
      }
    }
    run.status = status;
    run.finishedAt = now;
    if (error) run.error = error;
    this.emit({ event: RUN_END_EVENT[status], ...(error ? { error } : {}), ...extra });
    this.effects.push({ kind: 'finished', status });
  }

  cancelAttempt(st: StageRecord, reason: string) {
    if (st.childRunId !== undefined && st.taskId === st.childRunId) {
      this.effects.push({ kind: 'cancel-child', stageId: st.stageId, childRunId: st.childRunId, reason });
    } else if (st.taskId !== undefined && st.agentId !== undefined) {
      this.effects.push({
        kind: 'cancel-task',
        stageId: st.stageId,
        taskId: st.taskId,
        attempt: st.attempt,
        agentId: st.agentId,
        reason,
      });
    }
  }

  maybeFinish() {
    if (this.run.status !== 'running') return;
    for (const id in this.run.stages) if (!isTerminalStage(this.run.stages[id]!.status)) return;
    this.finish('succeeded');
  }

  /** The current attempt of `st` failed; retry it, or fail the stage and apply its onFailure. */
  attemptFailed(st: StageRecord, error: SerializedError, opts: { lost?: boolean } = {}) {
    const { run, now } = this;
    const def = stageDef(run, st.stageId);
    const avoid = st.agentId && !st.avoid.includes(st.agentId) ? [...st.avoid, st.agentId] : st.avoid;
    const lost = st.lost + (opts.lost ? 1 : 0);
    // Attempts that used up the declared retries: every attempt but the losses still free of charge.
    const counted = st.attempt - Math.min(lost, DEFAULT_MAX_LOST_ATTEMPTS);
    const retryLost = opts.lost && lost <= DEFAULT_MAX_LOST_ATTEMPTS;
    if (retryLost || counted <= def.retries.max) {
      const pause = retryLost ? 0 : backoffMs(def, counted);
      this.patch(st.stageId, {
        status: 'pending',
        lost,
        avoid,
        error,
        retryAt: now + pause,
        deadline: undefined,
        waitDeadline: undefined,
        fraction: undefined,
      });
      this.emit({
        event: 'stage-retrying',
        stageId: st.stageId,
        attempt: st.attempt,
        error,
        ...(st.agentId ? { agentId: st.agentId } : {}),
      });
      return;
    }
    this.patch(st.stageId, {
      status: 'failed',
      lost,
      avoid,
      error,
      finishedAt: now,
      deadline: undefined,
      waitDeadline: undefined,
    });
    this.emit({
      event: 'stage-failed',
      stageId: st.stageId,
      attempt: st.attempt,
      error,
      ...(st.agentId ? { agentId: st.agentId } : {}),
    });
    if (def.onFailure === 'fail') {
      this.finish('failed', {
        code: error.code,
        message: `stage ${st.stageId} failed after ${st.attempt} attempt(s): ${error.message}`,
        retryable: false,
        details: { stageId: st.stageId, attempts: st.attempt },
      });
      return;
    }
    if (def.onFailure === 'skip-dependents') {
      for (const id of dependentsOf(run.pipeline, st.stageId)) {
        const dep = run.stages[id];
        if (dep && dep.status === 'pending') {
          this.patch(id, { status: 'skipped', retryAt: undefined, waitDeadline: undefined });
          this.emit({ event: 'stage-skipped', stageId: id });
        }
      }
    }
    this.maybeFinish();
  }

  /**
   * Starts the schedule-to-start clock of every stage that is now ready (pending, needs done) and has
   * none: from now, or from the end of its retry pause. Child-pipeline stages wait for no agent.
   */
  markReady() {
    const { run, now } = this;
    if (run.status !== 'running' || run.paused) return;
    for (const def of run.pipeline.stages) {
      const st = run.stages[def.id];
      if (st?.status !== 'pending' || st.waitDeadline !== undefined || def.task.kind === 'pipeline') continue;
      if (!def.needs.every((n) => isDone(run, n))) continue;
      const bound = def.scheduleToStartMs ?? DEFAULT_SCHEDULE_TO_START_MS;
      this.patch(def.id, { waitDeadline: Math.max(now, st.retryAt ?? now) + bound });
    }
  }

  /** Progress or a result can overtake the agent's accept reply: they imply it. */
  acceptedImplicitly(st: StageRecord) {
    if (st.status !== 'dispatched' || st.agentId === undefined) return;
    this.patch(st.stageId, { status: 'running' });
    this.emit({ event: 'stage-accepted', stageId: st.stageId, attempt: st.attempt, agentId: st.agentId });
  }
}
