/**
 * Child runs: a `pipeline` stage starts a child run (admitted like any run, its parent named), and a
 * finished child reports its end to the parent's stage. After a restart, children that ended while no
 * one drove them, or that were never stored, are reconciled.
 */
import { serializeError } from '../../protocols/vocabulary/errors.ts';
import type { TaskOf } from '../../protocols/pipeline/index.ts';
import type { OrchestratorArgs } from './options.ts';
import { childPipeline } from './pipeline-source.ts';
import { isInFlight, isTerminalRun, newRun, type RunInput, type RunRecord, stageDef } from './run-machine.ts';
import type { RunStore } from './run-store.ts';
import type { RunView } from './run-view.ts';

/** What child runs ask of the rest of the orchestrator. */
export interface ChildHooks {
  apply(runId: string, input: RunInput): boolean;
  admit(run: RunRecord): Promise<void>;
  now(): number;
}

export class ChildRuns {
  /** Child runs being started (between the store lookup and their admission). */
  private readonly starting = new Set<string>();

  constructor(
    private readonly owner: string,
    private readonly view: RunView,
    private readonly store: RunStore,
    private readonly settings: OrchestratorArgs,
    private readonly hooks: ChildHooks,
  ) {}

  /**
   * Starts (or, after a restart, finds) the child run of a parent's stage. At most one start per child
   * is under way: the stage's own effect and the reconciliation after a recovery can both ask for it,
   * and two admissions of one child would dispatch its first stages twice.
   */
  async start(parent: RunRecord, stageId: string, childRunId: string): Promise<void> {
    if (this.view.has(childRunId) || this.starting.has(childRunId)) return;
    this.starting.add(childRunId);
    try {
      await this.startOnce(parent, stageId, childRunId);
    } finally {
      this.starting.delete(childRunId);
    }
  }

  private async startOnce(parent: RunRecord, stageId: string, childRunId: string): Promise<void> {
    const existing = await this.store.get(childRunId);
    if (existing) {
      // Restarted after the child was stored: it is resumed on its own; report if it already ended.
      if (isTerminalRun(existing.status)) this.deliverResult(existing);
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
        owner: this.owner,
        now: this.hooks.now(),
        parentRunId: parent.runId,
        parentStageId: stageId,
      });
    } catch (err) {
      this.hooks.apply(parent.runId, {
        type: 'child-finished',
        childRunId,
        status: 'failed',
        error: serializeError(err),
      });
      return;
    }
    await this.hooks.admit(child);
  }

  /** A finished child's end goes to its parent's stage. */
  deliverResult(child: RunRecord) {
    if (!child.parentRunId) return;
    const input: RunInput = { type: 'child-finished', childRunId: child.runId, status: child.status };
    if (child.error) input.error = child.error;
    this.hooks.apply(child.parentRunId, input);
  }

  /** After resuming: children that ended while we were away, or that were never stored. */
  async reconcile() {
    for (const run of this.view.all()) {
      for (const st of Object.values(run.stages)) {
        if (st.childRunId === undefined || !isInFlight(st.status) || st.taskId !== st.childRunId) continue;
        if (this.view.has(st.childRunId)) continue;
        const child = await this.store.get(st.childRunId);
        if (!child) await this.start(run, st.stageId, st.childRunId);
        else if (isTerminalRun(child.status)) this.deliverResult(child);
      }
    }
  }
}
