/**
 * The state, inputs and commands of the supervisor reducer (supervisor-logic.ts, whose doc comment is
 * the specification). Plain JSON-safe data.
 */
import type { SerializedError } from '../protocols/index.ts';
import type { ChildSpec, Shutdown, StartDescriptor, SupervisorSpec } from './child-spec.ts';

/** Why a child exited. `'normal'`, `'shutdown'` and `{shutdown}` are normal exits; `{error}` is abnormal. */
export type ChildExitReason =
  | 'normal'
  | 'shutdown'
  | { shutdown: string }
  | { error: SerializedError | string };

export interface ChildExit {
  childId: string;
  reason: ChildExitReason;
}

/**
 * - `running`: started and not known to have exited.
 * - `starting`: a start command is out; its outcome has not been reported yet.
 * - `pending`: to be started: queued behind another start, or waiting for a scheduled restart.
 * - `stopped`: kept, not running (transient normal exit, terminated on command, failed manual restart).
 */
export type ChildStatus = 'running' | 'starting' | 'pending' | 'stopped';

export type StartCause = 'init' | 'restart' | 'dynamic' | 'manual';

export interface ChildState {
  spec: ChildSpec;
  status: ChildStatus;
  /** Why the current or next start happens; null when none is due. */
  startCause: StartCause | null;
  /** For a `pending` child waiting on a timer: the id the `schedule-restart` was issued for; else null. */
  awaiting: string | null;
  /** This child's restarts within the period (epoch ms, oldest first), for backoff. */
  restartTimes: number[];
  /** Restarts of this child since the supervisor started. */
  restartCount: number;
  lastExit: ChildExitReason | null;
}

export type SupervisorPhase = 'starting' | 'running' | 'terminated';

export interface SupervisorState {
  /** The spec as given (children as at start). */
  spec: SupervisorSpec;
  phase: SupervisorPhase;
  /** In start order. */
  children: ChildState[];
  /** Restart times within the period (epoch ms, oldest first): the intensity window. */
  restarts: number[];
  /** Set once the supervisor has escalated. */
  escalation: EscalateCommand | null;
}

export type EscalationCause = 'reached_max_restart_intensity' | 'failed_to_start_child';

export interface StartCommand {
  type: 'start';
  childId: string;
  start: StartDescriptor;
}
export interface StopCommand {
  type: 'stop';
  childId: string;
  shutdownMs: Shutdown;
}
export interface ScheduleRestartCommand {
  type: 'schedule-restart';
  childId: string;
  delayMs: number;
}
export interface EscalateCommand {
  type: 'escalate';
  /** The exit reason of the supervisor itself, for its parent. */
  reason: ChildExitReason;
  cause: EscalationCause;
  /** The child whose restart or start tipped it. */
  childId: string;
  error?: SerializedError | string;
}

export type SupervisorCommand = StartCommand | StopCommand | ScheduleRestartCommand | EscalateCommand;

export interface SupervisorStep {
  state: SupervisorState;
  commands: SupervisorCommand[];
}
