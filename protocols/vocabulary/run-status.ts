/**
 * The run vocabulary, written once: run and stage statuses, which of them are terminal, and the run
 * events that end a run. The message schemas (messages/run.ts), the orchestrator's reducer, the CLI,
 * the gateway and the chaos invariants all read it from here.
 */

/** `contained`: stopped by governance (error budget breached, policy violation), see docs/governance.md. */
export const RUN_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled', 'contained'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const STAGE_STATUSES = [
  'pending',
  'dispatched',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
] as const;
export type StageStatus = (typeof STAGE_STATUSES)[number];

/** A run in one of these has ended for good. */
export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set([
  'succeeded',
  'failed',
  'cancelled',
  'contained',
]);
/** A stage in one of these takes no more attempts. */
export const TERMINAL_STAGE_STATUSES: ReadonlySet<StageStatus> = new Set([
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
]);
/** Stage statuses with an attempt out (asked an agent, or running on it / as a child run). */
export const IN_FLIGHT_STAGE_STATUSES: ReadonlySet<StageStatus> = new Set(['dispatched', 'running']);

/** The run event that reports each terminal run status. */
export const TERMINAL_RUN_EVENT = {
  succeeded: 'run-succeeded',
  failed: 'run-failed',
  cancelled: 'run-cancelled',
  contained: 'run-contained',
} as const satisfies Record<string, `run-${string}`>;
export const TERMINAL_RUN_EVENTS: ReadonlySet<string> = new Set(Object.values(TERMINAL_RUN_EVENT));

export const isTerminalRunStatus = (s: string): boolean => TERMINAL_RUN_STATUSES.has(s as RunStatus);
export const isTerminalRunEvent = (event: string): boolean => TERMINAL_RUN_EVENTS.has(event);
