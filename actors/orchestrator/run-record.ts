/**
 * The record of one pipeline run as the orchestrator stores it (KV bucket, one key per run), the
 * inputs and effects of its reducer (run-machine.ts), and the pure queries on it: what may be
 * dispatched now, what is due next, which stage an attempt belongs to.
 *
 * Stage statuses: pending → dispatched (asked an agent) → running (accepted) → succeeded | failed,
 * and skipped / cancelled. The vocabulary itself (statuses, terminal sets) is protocols/vocabulary/run-status.ts.
 */
import type { BodyIn } from '../../protocols/catalog.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import type { SerializedErrorSchema } from '../../protocols/messages/system.ts';
import type { ConcretePipeline, ConcreteStage, Scalar } from '../../protocols/pipeline/index.ts';
import {
  IN_FLIGHT_STAGE_STATUSES,
  isTerminalRunStatus,
  type RunStatus,
  type StageStatus,
  TERMINAL_STAGE_STATUSES,
} from '../../protocols/vocabulary/run-status.ts';
import type { Tier } from '../../protocols/vocabulary/tiers.ts';
import type { z } from 'zod';

export type { RunStatus, StageStatus } from '../../protocols/vocabulary/run-status.ts';

/** An error as carried in run state and events (codes from other systems are kept as they are). */
export type SerializedError = z.output<typeof SerializedErrorSchema>;

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
  /** A breach's diagnostic run (`purpose: diagnostic`): dispatched ahead of other runs. */
  diagnostic?: true;
  /** Id of the orchestrator instance that drives the run. */
  owner: string;
  status: RunStatus;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  error?: SerializedError;
  stages: Record<string, StageRecord>;
  /**
   * Transactional outbox: the audit events (`run.event.v1` envelopes, ids fixed) of stored changes that
   * the audit stream has not acknowledged yet, written in the same KV write as the state that implies
   * them and republished under the same ids after a crash (run-driver.ts).
   */
  outbox?: RunEventEnvelope[];
  /** Ids of every audit event of the run's stored changes: what the ledger must hold, once each. */
  auditIds?: string[];
  /**
   * An operator paused the run (run.pause.v1): no stage is dispatched and no schedule-to-start bound
   * runs until run.resume.v1; attempts already running go on. Kept in the record, so it survives a
   * restart of the orchestrator.
   */
  paused?: { at: number; by?: string; reason?: string };
}

/** A run event as it goes to the audit stream (its id is the Nats-Msg-Id and the ledger entry id). */
export type RunEventEnvelope = Envelope<'run.event.v1'>;

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
  | { type: 'pause'; by?: string; reason?: string }
  | { type: 'unpause' }
  | { type: 'contain'; cause: string; reason: string }
  | { type: 'schedule-timeout'; stageId: string };

export const isTerminalRun = (s: RunStatus): boolean => isTerminalRunStatus(s);
export const isTerminalStage = (s: StageStatus): boolean => TERMINAL_STAGE_STATUSES.has(s);
export const isInFlight = (s: StageStatus): boolean => IN_FLIGHT_STAGE_STATUSES.has(s);

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
  diagnostic?: boolean;
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
  if (args.diagnostic) run.diagnostic = true;
  return run;
}

export function stageDef(run: RunRecord, stageId: string): ConcreteStage {
  const def = run.pipeline.stages.find((s) => s.id === stageId);
  if (!def) throw new Error(`run ${run.runId} has no stage ${stageId}`);
  return def;
}

/** A stage counts as done for its dependents when it succeeded, or failed with `onFailure: continue`. */
export function isDone(run: RunRecord, stageId: string): boolean {
  const st = run.stages[stageId];
  if (!st) return false;
  if (st.status === 'succeeded') return true;
  return st.status === 'failed' && stageDef(run, stageId).onFailure === 'continue';
}

/** Stages that may be dispatched at `now`: pending, needs done, no retry pause left. Declaration order. */
export function dispatchable(run: RunRecord, now: number): ConcreteStage[] {
  if (run.status !== 'running' || run.paused) return [];
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

/**
 * Earliest time after `now` something is due in the run (a retry pause, a deadline, a schedule-to-start
 * bound), if any. Times already past are not due again: a retry pause that ended while the stage waits
 * for an agent would otherwise re-arm a 0 ms timer until an agent comes (a busy loop).
 */
export function nextDueAt(run: RunRecord, now: number): number | undefined {
  let due: number | undefined;
  const consider = (t: number | undefined) => {
    if (t !== undefined && t > now && (due === undefined || t < due)) due = t;
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
  if (run.status !== 'running' || run.paused) return [];
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
