/**
 * The contract between the agent and its task runners: one runner per task kind, each in its own file.
 * A runner does the work and resolves with an outcome; it never throws for a task that merely failed.
 * It must stop soon after `signal` aborts (cancel, the task's timeout, suspend, demotion, agent stop);
 * the agent then decides the final status from the abort reason and keeps the runner's partial output.
 */
import type { z } from 'zod';
import type { Clock } from '../../../infra/index.ts';
import { GovError, InvalidMessageError, serializeError } from '../../../protocols/index.ts';
import type { SerializedErrorSchema } from '../../../protocols/index.ts';
import type { Task, TaskOf } from '../../../protocols/pipeline/index.ts';
import type { Tier } from '../../../protocols/index.ts';
import type { SandboxSettings } from './sandbox.ts';

/** An error as a result carries it; `code` may be any string (a `fail` task names its own). */
export type WireError = z.output<typeof SerializedErrorSchema>;

/** A claim check: where the full content lives in memory, and what it is. */
export interface MemoryRef {
  memoryId: string;
  size: number;
  summary: unknown;
}

export type TaskStatus = 'succeeded' | 'failed' | 'cancelled';

export interface TaskOutcome {
  status: TaskStatus;
  output?: unknown;
  error?: WireError;
}

export interface TaskRunContext {
  agentId: string;
  /** The agent's tier now (exec's network needs EXEC_NETWORK_MIN_TIER). */
  tier: Tier;
  taskId: string;
  /** Aborted when the task must stop; `signal.reason` is a GovError saying why. */
  signal: AbortSignal;
  /** Environment from the assignment (PIPELINE_ID etc.); exec passes it to its process. */
  env: Readonly<Record<string, string>>;
  /** The agent's own environment: exec copies only the names a task lists in `env.pass`. */
  agentEnv: Readonly<Record<string, string | undefined>>;
  /** The agent's work dir; exec makes a fresh folder per task under `<workDir>/tasks/`. */
  workDir: string;
  keepTaskDirs: boolean;
  /** How exec runs its process (sandbox.ts). */
  sandbox: SandboxSettings;
  /** A warning for the agent's log (the unsandboxed development switch says so at every task). */
  warn(message: string, fields?: Record<string, unknown>): void;
  killGraceMs: number;
  httpMaxBodyBytes: number;
  clock: Clock;
  /**
   * Exec keeps up to this many bytes of each stream beyond its inline cap, to store in memory (the
   * claim check); 0 turns spilling off.
   */
  maxSpillBytes?: number;
  /**
   * Stores bytes in the external memory under the agent's credential (T1+, `gov.memory.put.<tier>.<id>`);
   * absent when the agent may not (T0) or has no memory to store in.
   */
  storeMemory?(bytes: Uint8Array, meta: { contentType: string; tags: string[] }): Promise<MemoryRef>;
  /** Sends agent.task.progress.v1 to the task's replyTo. */
  progress(fraction?: number, note?: string): void;
}

export type TaskRunner<K extends Task['kind'] = Task['kind']> = (
  task: TaskOf<K>,
  ctx: TaskRunContext,
) => Promise<TaskOutcome>;

export const succeeded = (output?: unknown): TaskOutcome =>
  output === undefined ? { status: 'succeeded' } : { status: 'succeeded', output };

export const failed = (error: GovError | WireError, output?: unknown): TaskOutcome => ({
  status: 'failed',
  error: error instanceof GovError ? serializeError(error) : error,
  ...(output === undefined ? {} : { output }),
});

/**
 * A numeric task field. The orchestrator resolves `${{ params.X }}` references before dispatch; one
 * still unresolved (or not a number) is an invalid task.
 */
export function numberField(value: number | string, field: string): number {
  const n = typeof value === 'number' ? value : Number.NaN;
  if (!Number.isFinite(n)) {
    throw new InvalidMessageError(
      `task field ${field} is ${JSON.stringify(value)}: references must be resolved before a task reaches an agent`,
      {
        details: { field },
      },
    );
  }
  return n;
}
