/**
 * The state of one pipeline run and every change it can go through, as a pure reducer:
 * `step(run, input, now)` returns the next run record, the run events to publish and the effects
 * to carry out (assign a task, cancel a task, start or cancel a child run). No I/O, no clock: the
 * caller passes `now` (from its injected Clock), persists the new record, and only then acts.
 *
 * Stage statuses: pending → dispatched (asked an agent) → running (accepted) → succeeded | failed,
 * and skipped / cancelled. A failed attempt goes back to pending with `retryAt` while retries remain.
 * Every dispatch gets a fresh `taskId`; inputs naming another taskId (a stale or duplicate result,
 * a late accept) change nothing.
 */
import type { BodyIn } from '../../protocols/catalog.ts';
import type { Tier } from '../../protocols/tiers.ts';
import type { SerializedErrorSchema } from '../../protocols/messages/system.ts';
import {
  type ConcretePipeline,
  type ConcreteStage,
  dependentsOf,
  type Scalar,
} from '../../protocols/pipeline/index.ts';
import type { z } from 'zod';
import { DEFAULT_SCHEDULE_TO_START_MS } from '../../protocols/pipeline/options.ts';
import { DEFAULT_MAX_LOST_ATTEMPTS } from './options.ts';

/** An error as carried in run state and events (codes from other systems are kept as they are). */
export type SerializedError = z.output<typeof SerializedErrorSchema>;

/** `contained`: stopped by governance (budget breach, policy violation): see the `contain` input. */
export type RunStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'contained';
export type StageStatus =
  | 'pending'
  | 'dispatched'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'cancelled';

export interface StageRecord {
  stageId: string;
  status: StageStatus;
  /** Attempts started so far (a refused dispatch is not an attempt). */
  attempt: number;
  /** Attempts lost to infrastructure (agent died, result lost); these do not use up `retries.max`. */
  lost: number;
  /** Current (or last) attempt's task id; for a child-pipeline stage, the child's run id. */
  taskId?: string;
  agentId?: string;
  childRunId?: string;
  startedAt?: number;
  finishedAt?: number;
  /** When the current attempt times out (ms since epoch). */
  deadline?: number;
  /** A pending retry is not dispatched before this time. */
  retryAt?: number;
  /**
   * Schedule-to-start: a ready (pending, needs done) stage that no agent has taken by then fails its
   * attempt (`schedule-timeout`). Set when the stage becomes ready, from its retry pause's end.
   */
  waitDeadline?: number;
  fraction?: number;
  error?: SerializedError;
  output?: unknown;
  /** Agents an attempt of this stage failed or died on: a retry prefers other agents. */
  avoid: string[];
}

export interface RunRecord {
  v: 1;
  runId: string;
  pipeline: ConcretePipeline;
  params: Record<string, Scalar>;
  parentRunId?: string;
  /** The parent's stage this run is the child pipeline of. */
  parentStageId?: string;
  requestedBy?: string;
  /** The effective tier the run was admitted at (protocols/pipeline/effective-tier.ts). */
  tier?: Tier;
  /** Id of the orchestrator instance that drives the run. */
  owner: string;
  status: RunStatus;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  error?: SerializedError;
  stages: Record<string, StageRecord>;
}

export type RunEventBody = BodyIn<'run.event.v1'>;

export type Effect =
  | { kind: 'assign'; stageId: string; taskId: string; attempt: number; agentId: string }
  | { kind: 'cancel-task'; stageId: string; taskId: string; attempt: number; agentId: string; reason: string }
  | { kind: 'start-child'; stageId: string; childRunId: string }
  | { kind: 'cancel-child'; stageId: string; childRunId: string; reason: string }
  | { kind: 'finished'; status: RunStatus };

export type RunInput =
  | { type: 'start' }
  | { type: 'resume' }
  | { type: 'dispatch'; stageId: string; agentId: string; taskId: string }
  | { type: 'start-child'; stageId: string; childRunId: string }
  | { type: 'refused'; taskId: string; agentId: string; error: SerializedError }
  | { type: 'accepted'; taskId: string; agentId: string }
  | { type: 'progress'; taskId: string; fraction?: number }
  | {
      type: 'result';
      taskId: string;
      status: 'succeeded' | 'failed' | 'cancelled';
      output?: unknown;
      error?: SerializedError;
    }
  | { type: 'timeout'; taskId: string }
  | { type: 'lost'; taskId: string; error: SerializedError }
  | { type: 'child-finished'; childRunId: string; status: RunStatus; error?: SerializedError }
  | { type: 'cancel'; reason: string }
  | { type: 'contain'; cause: string; reason: string }
  | { type: 'schedule-timeout'; stageId: string };

export interface Step {
  run: RunRecord;
  events: RunEventBody[];
  effects: Effect[];
  /** False when the input changed nothing (stale, duplicate, or not applicable). */
  changed: boolean;
}

const RUN_END_EVENT: Record<RunStatus, RunEventBody['event']> = {
  pending: 'run-failed',
  running: 'run-failed',
  succeeded: 'run-succeeded',
  failed: 'run-failed',
  cancelled: 'run-cancelled',
  contained: 'run-contained',
};

const TERMINAL_STAGE: ReadonlySet<StageStatus> = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
const IN_FLIGHT: ReadonlySet<StageStatus> = new Set(['dispatched', 'running']);
export const isTerminalRun = (s: RunStatus): boolean =>
  s === 'succeeded' || s === 'failed' || s === 'cancelled' || s === 'contained';
export const isTerminalStage = (s: StageStatus): boolean => TERMINAL_STAGE.has(s);
export const isInFlight = (s: StageStatus): boolean => IN_FLIGHT.has(s);

/** A new run record, every stage pending. */
export function newRun(args: {
  runId: string;
  pipeline: ConcretePipeline;
  owner: string;
  now: number;
  parentRunId?: string;
  parentStageId?: string;
  requestedBy?: string;
  tier?: Tier;
}): RunRecord {
  const stages: Record<string, StageRecord> = {};
  for (const s of args.pipeline.stages)
    stages[s.id] = { stageId: s.id, status: 'pending', attempt: 0, lost: 0, avoid: [] };
  const run: RunRecord = {
    v: 1,
    runId: args.runId,
    pipeline: args.pipeline,
    params: args.pipeline.params,
    owner: args.owner,
    status: 'pending',
    createdAt: args.now,
    stages,
  };
  if (args.parentRunId !== undefined) run.parentRunId = args.parentRunId;
  if (args.parentStageId !== undefined) run.parentStageId = args.parentStageId;
  if (args.requestedBy !== undefined) run.requestedBy = args.requestedBy;
  if (args.tier !== undefined) run.tier = args.tier;
  return run;
}

export function stageDef(run: RunRecord, stageId: string): ConcreteStage {
  const def = run.pipeline.stages.find((s) => s.id === stageId);
  if (!def) throw new Error(`run ${run.runId} has no stage ${stageId}`);
  return def;
}

/** A stage counts as done for its dependents when it succeeded, or failed with `onFailure: continue`. */
function isDone(run: RunRecord, stageId: string): boolean {
  const st = run.stages[stageId];
  if (!st) return false;
  if (st.status === 'succeeded') return true;
  return st.status === 'failed' && stageDef(run, stageId).onFailure === 'continue';
}

/** Stages that may be dispatched at `now`: pending, needs done, no retry pause left. Declaration order. */
export function dispatchable(run: RunRecord, now: number): ConcreteStage[] {
  if (run.status !== 'running') return [];
  return run.pipeline.stages.filter((def) => {
    const st = run.stages[def.id];
    return (
      st !== undefined &&
      st.status === 'pending' &&
      (st.retryAt ?? 0) <= now &&
      def.needs.every((n) => isDone(run, n))
    );
  });
}

/** Earliest future time something is due in the run (a retry pause, a deadline, a schedule-to-start bound), if any. */
export function nextDueAt(run: RunRecord): number | undefined {
  let due: number | undefined;
  const consider = (t: number | undefined) => {
    if (t !== undefined && (due === undefined || t < due)) due = t;
  };
  for (const st of Object.values(run.stages)) {
    if (st.status === 'pending') {
      consider(st.retryAt);
      consider(st.waitDeadline);
    } else if (isInFlight(st.status)) consider(st.deadline);
  }
  return due;
}

/** Pending stages whose schedule-to-start bound has passed at `now` (no agent took them in time). */
export function waitExpired(run: RunRecord, now: number): string[] {
  if (run.status !== 'running') return [];
  return Object.values(run.stages)
    .filter((st) => st.status === 'pending' && st.waitDeadline !== undefined && st.waitDeadline <= now)
    .map((st) => st.stageId);
}

/** Stage whose current attempt is `taskId`, if it is still in flight. */
export function stageOfTask(run: RunRecord, taskId: string): StageRecord | undefined {
  return Object.values(run.stages).find((s) => s.taskId === taskId && isInFlight(s.status));
}

/** Pause before retry number `n` (1-based): min(backoffMs × factor^(n-1), maxBackoffMs). */
export function backoffMs(stage: ConcreteStage, n: number): number {
  const r = stage.retries;
  return Math.min(r.backoffMs * r.factor ** Math.max(0, n - 1), r.maxBackoffMs);
}

/**
 * One step's working state and the helpers the cases of `step` share. A class rather than closures
 * made per call: `step` runs three times per stage on the orchestrator's critical path.
 */
class Stepper {
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
    if (run.status !== 'running') return;
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

const unchangedStep = (prev: RunRecord): Step => ({ run: prev, events: [], effects: [], changed: false });

/** Applies one input to a run: the new record, the events to publish and the effects to carry out. */
export function step(prev: RunRecord, input: RunInput, now: number): Step {
  const s = new Stepper(prev, now);
  const { run, effects } = s;
  const unchanged = () => unchangedStep(prev);
  const live = !isTerminalRun(run.status);

  switch (input.type) {
    case 'start':
    case 'resume': {
      if (!live) return unchanged();
      if (input.type === 'start' && run.status !== 'pending') return unchanged();
      run.status = 'running';
      run.startedAt ??= now;
      s.emit({ event: input.type === 'start' ? 'run-started' : 'run-resumed' });
      s.maybeFinish();
      break;
    }
    case 'dispatch': {
      const st = run.stages[input.stageId];
      if (!live || !st || st.status !== 'pending') return unchanged();
      const def = stageDef(run, input.stageId);
      const attempt = st.attempt + 1;
      s.patch(st.stageId, {
        status: 'dispatched',
        attempt,
        taskId: input.taskId,
        agentId: input.agentId,
        childRunId: undefined,
        startedAt: now,
        deadline: now + def.timeoutMs,
        retryAt: undefined,
        waitDeadline: undefined,
        fraction: undefined,
      });
      s.emit({ event: 'stage-dispatched', stageId: st.stageId, attempt, agentId: input.agentId });
      effects.push({
        kind: 'assign',
        stageId: st.stageId,
        taskId: input.taskId,
        attempt,
        agentId: input.agentId,
      });
      break;
    }
    case 'start-child': {
      const st = run.stages[input.stageId];
      if (!live || !st || st.status !== 'pending') return unchanged();
      const def = stageDef(run, input.stageId);
      const attempt = st.attempt + 1;
      s.patch(st.stageId, {
        status: 'running',
        attempt,
        taskId: input.childRunId,
        childRunId: input.childRunId,
        agentId: undefined,
        startedAt: now,
        deadline: now + def.timeoutMs,
        retryAt: undefined,
        waitDeadline: undefined,
      });
      s.emit({ event: 'stage-dispatched', stageId: st.stageId, attempt });
      effects.push({ kind: 'start-child', stageId: st.stageId, childRunId: input.childRunId });
      break;
    }
    case 'refused': {
      const st = stageOfTask(run, input.taskId);
      if (!live || !st || st.status !== 'dispatched') return unchanged();
      s.patch(st.stageId, {
        status: 'pending',
        attempt: st.attempt - 1,
        taskId: undefined,
        agentId: undefined,
        deadline: undefined,
        startedAt: undefined,
      });
      break;
    }
    case 'accepted': {
      const st = stageOfTask(run, input.taskId);
      if (!live || !st || st.status !== 'dispatched') return unchanged();
      s.patch(st.stageId, { status: 'running' });
      s.emit({ event: 'stage-accepted', stageId: st.stageId, attempt: st.attempt, agentId: input.agentId });
      break;
    }
    case 'progress': {
      const st = stageOfTask(run, input.taskId);
      if (!live || !st) return unchanged();
      s.acceptedImplicitly(st);
      s.patch(st.stageId, {
        status: 'running',
        ...(input.fraction === undefined ? {} : { fraction: input.fraction }),
      });
      s.emit({
        event: 'stage-progress',
        stageId: st.stageId,
        attempt: st.attempt,
        ...(st.agentId ? { agentId: st.agentId } : {}),
        ...(input.fraction === undefined ? {} : { fraction: input.fraction }),
      });
      break;
    }
    case 'result': {
      const st = stageOfTask(run, input.taskId);
      if (!live || !st) return unchanged();
      s.acceptedImplicitly(st);
      if (input.status === 'succeeded') {
        s.patch(st.stageId, {
          status: 'succeeded',
          finishedAt: now,
          deadline: undefined,
          fraction: 1,
          output: input.output,
          error: undefined,
        });
        s.emit({
          event: 'stage-succeeded',
          stageId: st.stageId,
          attempt: st.attempt,
          ...(st.agentId ? { agentId: st.agentId } : {}),
        });
        s.maybeFinish();
      } else {
        const error = input.error ?? {
          code: 'GOV_ERR_INTERNAL',
          message: `task ${input.status} without an error`,
          retryable: true,
        };
        s.attemptFailed(st, error);
      }
      break;
    }
    case 'timeout': {
      const st = stageOfTask(run, input.taskId);
      if (!live || !st) return unchanged();
      const def = stageDef(run, st.stageId);
      s.emit({
        event: 'stage-timed-out',
        stageId: st.stageId,
        attempt: st.attempt,
        ...(st.agentId ? { agentId: st.agentId } : {}),
      });
      s.cancelAttempt(st, `stage timed out after ${def.timeoutMs} ms`);
      s.attemptFailed(st, {
        code: 'GOV_ERR_TIMEOUT',
        message: `stage ${st.stageId} attempt ${st.attempt} timed out after ${def.timeoutMs} ms`,
        retryable: true,
        details: { stageId: st.stageId, attempt: st.attempt, timeoutMs: def.timeoutMs },
      });
      break;
    }
    case 'lost': {
      const st = stageOfTask(run, input.taskId);
      if (!live || !st) return unchanged();
      s.attemptFailed(st, input.error, { lost: true });
      break;
    }
    case 'child-finished': {
      const st = stageOfTask(run, input.childRunId);
      if (!live || !st || st.childRunId !== input.childRunId) return unchanged();
      if (input.status === 'succeeded') {
        s.patch(st.stageId, {
          status: 'succeeded',
          finishedAt: now,
          deadline: undefined,
          fraction: 1,
          error: undefined,
        });
        s.emit({ event: 'stage-succeeded', stageId: st.stageId, attempt: st.attempt });
        s.maybeFinish();
      } else {
        s.attemptFailed(
          st,
          input.error ?? {
            code: 'GOV_ERR_INTERNAL',
            message: `child run ${input.childRunId} ${input.status}`,
            retryable: false,
          },
        );
      }
      break;
    }
    case 'cancel': {
      if (!live) return unchanged();
      s.finish(
        'cancelled',
        { code: 'GOV_ERR_RUN_CANCELLED', message: `run cancelled: ${input.reason}`, retryable: false },
        input.reason,
      );
      break;
    }
    case 'contain': {
      // Governance stops the run where it stands: nothing more is dispatched or retried, what runs is
      // cancelled, and the run ends `contained` (not `failed`: no stage decided it).
      if (!live) return unchanged();
      s.finish(
        'contained',
        {
          code: 'GOV_ERR_RUN_CONTAINED',
          message: `run contained (${input.cause}): ${input.reason}`,
          retryable: false,
          details: { cause: input.cause },
        },
        `run contained: ${input.reason}`,
        { cause: input.cause },
      );
      break;
    }
    case 'schedule-timeout': {
      const st = run.stages[input.stageId];
      if (!live || run.status !== 'running' || !st || st.status !== 'pending') return unchanged();
      if (st.waitDeadline === undefined || st.waitDeadline > now) return unchanged();
      const def = stageDef(run, st.stageId);
      const bound = def.scheduleToStartMs ?? DEFAULT_SCHEDULE_TO_START_MS;
      // The attempt that never started still counts: against retries.max and the error budget.
      const attempt = st.attempt + 1;
      const cur = s.patch(st.stageId, {
        attempt,
        agentId: undefined,
        taskId: undefined,
        waitDeadline: undefined,
        startedAt: undefined,
      });
      s.attemptFailed(cur, {
        code: 'GOV_ERR_SCHEDULE_TO_START_TIMEOUT',
        message: `stage ${st.stageId} attempt ${attempt}: no agent took it within ${bound} ms (scheduleToStartMs)`,
        retryable: true,
        details: { stageId: st.stageId, attempt, scheduleToStartMs: bound },
      });
      break;
    }
  }
  s.markReady();
  return { run, events: s.events, effects, changed: true };
}
