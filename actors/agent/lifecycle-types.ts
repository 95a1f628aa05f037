/**
 * The vocabulary of an agent's lifecycle (lifecycle-machine.ts): its states, context, the events it
 * takes, and the facts its hooks receive (policy violations, rejected commands).
 */
import type { TaskKind, Tier } from '../../protocols/index.ts';

export const lifecycleStates = [
  'created',
  'bootstrapping',
  'idle',
  'working',
  'suspended',
  'failed',
  'quarantined',
  'terminated',
] as const;
export type LifecycleState = (typeof lifecycleStates)[number];

export interface LifecycleTask {
  id: string;
  kind: TaskKind;
  /** Lowest tier allowed to run this task; defaults to the kind's own minimum. */
  requiredTier?: Tier;
}

/** An error as events carry it: a message, or a serialized GovError. */
export type LifecycleErrorInput = string | { code?: string; message: string };

export interface LifecycleError {
  code: string | null;
  message: string;
}

export type SuspendReason = 'credentials-revoked' | 'budget-exhausted' | (string & {});

export interface PolicyViolation {
  /** `task-tier`: a task beyond the agent's tier was refused. `policy`: a QUARANTINE. */
  kind: 'task-tier' | 'policy';
  agentId: string;
  tier: Tier;
  reason: string;
  taskId: string | null;
  taskKind: string | null;
  requiredTier: Tier | null;
  /** Epoch ms from the event's `at`, when the sender gave one. */
  at: number | null;
}

export interface RejectedCommand {
  command: 'PROMOTE' | 'DEMOTE' | 'RELEASE' | 'RESUME';
  reason: 'tier-forbidden' | 'tier-bound' | 'credentials-invalid';
  agentId: string;
  tier: Tier;
  byTier: Tier | null;
}

export interface LifecycleContext {
  agentId: string;
  tier: Tier;
  team: string;
  role: string;
  currentTask: LifecycleTask | null;
  /** Bootstrap retries taken from `failed`. */
  restarts: number;
  maxRestarts: number;
  lastError: LifecycleError | null;
  violations: PolicyViolation[];
  violationLimit: number;
  /** False from a credentials-revoked SUSPEND until CREDENTIALS_RENEWED (or a successful preflight). */
  credentialsValid: boolean;
  suspendReason: SuspendReason | null;
  /**
   * Set by DRAIN while working: the current task runs to its end, then the agent is suspended with
   * this reason instead of going idle (absent in snapshots persisted before drain existed).
   */
  drainReason?: string | null;
  quarantineReason: string | null;
}

export interface LifecycleInput {
  agentId: string;
  tier?: Tier;
  team?: string;
  role?: string;
  maxRestarts?: number;
  violationLimit?: number;
}

export type LifecycleEvent =
  | { type: 'BOOTSTRAP' }
  | { type: 'PREFLIGHT_OK' }
  | { type: 'PREFLIGHT_FAILED'; error?: LifecycleErrorInput }
  | { type: 'ASSIGN_TASK'; task: LifecycleTask; at?: number }
  | { type: 'TASK_DONE'; taskId?: string }
  | { type: 'TASK_FAILED'; taskId?: string; error?: LifecycleErrorInput }
  | { type: 'SUSPEND'; reason: SuspendReason }
  | { type: 'DRAIN'; reason: string }
  | { type: 'RESUME' }
  | { type: 'CREDENTIALS_RENEWED' }
  | { type: 'QUARANTINE'; reason: string; at?: number }
  | { type: 'RELEASE'; byTier: Tier }
  | { type: 'PROMOTE'; byTier: Tier }
  | { type: 'DEMOTE'; byTier: Tier }
  | { type: 'TERMINATE'; reason?: string }
  | { type: 'CRASH'; error?: LifecycleErrorInput };

export type LifecycleEventType = LifecycleEvent['type'];

/** Whether `value` names a lifecycle state. */
export function isLifecycleState(value: unknown): value is LifecycleState {
  return typeof value === 'string' && (lifecycleStates as readonly string[]).includes(value);
}
