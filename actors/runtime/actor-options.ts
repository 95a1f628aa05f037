/** Interval between an actor's heartbeats. Supervisors declare a child hung after a few missed ones. */
export const DEFAULT_HEARTBEAT_MS = 1_000;
/** How long a graceful stop may take to drain the mailbox before the actor is closed anyway. */
export const DEFAULT_STOP_DRAIN_MS = 5_000;
