/**
 * The orchestrator's view of the runs it drives: live run records in memory, the index of attempts in
 * flight (taskId → runId), the runs it finished lately, run ids and the public form of a run.
 * Pure bookkeeping: no I/O, no timers.
 */
import { randomBytes } from 'node:crypto';
import type { BodyOf } from '../../protocols/catalog.ts';
import { ownTier } from '../../protocols/pipeline/index.ts';
import { DEFAULT_FINISHED_RUNS_REMEMBERED } from './options.ts';
import { isInFlight, type RunRecord } from './run-machine.ts';

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
  if (run.paused !== undefined) out.paused = run.paused;
  if (run.error !== undefined) out.error = run.error;
  return out;
}

/** Keeps a Map or Set (insertion-ordered) at `max` entries by dropping the oldest. */
export function forgetOldest(c: Map<string, unknown> | Set<string>, max: number): void {
  if (c.size > max) c.delete(c.keys().next().value!);
}

export class RunView {
  /** Live runs driven here (a finished run leaves once its end is stored; the store keeps it). */
  private readonly runs = new Map<string, RunRecord>();
  /** taskId → runId for attempts in flight. */
  private readonly tasks = new Map<string, string>();
  /** Runs finished here lately → the write that stored their end (oldest first; see report-intake.ts). */
  private readonly finished = new Map<string, Promise<void>>();

  get size(): number {
    return this.runs.size;
  }

  get(runId: string): RunRecord | undefined {
    return this.runs.get(runId);
  }

  has(runId: string): boolean {
    return this.runs.has(runId);
  }

  /** A snapshot of the live runs, in the order they came in. */
  all(): RunRecord[] {
    return [...this.runs.values()];
  }

  set(run: RunRecord): void {
    this.runs.set(run.runId, run);
  }

  /** Replaces a run's record and keeps the taskId index in step with it. */
  update(before: RunRecord, after: RunRecord): void {
    this.runs.set(after.runId, after);
    for (const [id, st] of Object.entries(after.stages)) {
      const old = before.stages[id];
      if (old?.taskId && old.taskId !== st.taskId) this.tasks.delete(old.taskId);
      if (st.taskId && isInFlight(st.status)) this.tasks.set(st.taskId, after.runId);
      else if (st.taskId) this.tasks.delete(st.taskId);
    }
  }

  /** Takes a stored run in, its attempts in flight indexed. */
  adopt(run: RunRecord): void {
    this.runs.set(run.runId, run);
    for (const st of Object.values(run.stages))
      if (isInFlight(st.status) && st.taskId) this.tasks.set(st.taskId, run.runId);
  }

  /** Forgets a run (its attempts included) that was never stored. */
  drop(runId: string): RunRecord | undefined {
    const run = this.runs.get(runId);
    this.runs.delete(runId);
    for (const st of Object.values(run?.stages ?? {})) if (st.taskId) this.tasks.delete(st.taskId);
    return run;
  }

  /** The run an attempt in flight belongs to. */
  runOfTask(taskId: string): string | undefined {
    return this.tasks.get(taskId);
  }

  /** A run whose end is stored leaves memory, remembered a while by the write that stored it. */
  finish(run: RunRecord, stored: Promise<void>): void {
    if (this.runs.get(run.runId) !== run) return;
    this.runs.delete(run.runId);
    this.finished.set(run.runId, stored);
    forgetOldest(this.finished, DEFAULT_FINISHED_RUNS_REMEMBERED);
  }

  /** The write that stored the end of a run finished here lately. */
  finishedLately(runId: string): Promise<void> | undefined {
    return this.finished.get(runId);
  }
}
