/**
 * The vocabulary and defaults of supervisors and child specs. They follow OTP's `supervisor` module
 * (stdlib supervisor.erl, "Supervisor flags" and "Child specification"), in milliseconds:
 * OTP's `intensity => 1, period => 5` (seconds) becomes 1 restart per 5000 ms.
 */

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export const STRATEGIES: readonly Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];

/** permanent: always restarted. transient: restarted only after an abnormal exit. temporary: never restarted. */
export type RestartType = 'permanent' | 'transient' | 'temporary';
export const RESTART_TYPES: readonly RestartType[] = ['permanent', 'transient', 'temporary'];

/** OTP: `one_for_one` is the default restart strategy. */
export const DEFAULT_STRATEGY: Strategy = 'one_for_one';

/** OTP: `intensity` defaults to 1 (more than 1 restart within the period ends the supervisor). */
export const DEFAULT_INTENSITY = 1;

/** OTP: `period` defaults to 5 seconds. */
export const DEFAULT_PERIOD_MS = 5_000;

/** OTP: `restart` defaults to `permanent`. */
export const DEFAULT_RESTART_TYPE: RestartType = 'permanent';

/** OTP: `shutdown` defaults to 5000 ms for a worker. */
export const DEFAULT_WORKER_SHUTDOWN_MS = 5_000;

/** OTP: `shutdown` defaults to `infinity` for a child that is itself a supervisor (its subtree needs the time). */
export const DEFAULT_SUPERVISOR_SHUTDOWN = 'infinity' as const;

/** Backoff (not in OTP; used only when a spec asks for backoff without giving every field): first delay. */
export const DEFAULT_BACKOFF_INITIAL_MS = 100;

/** Backoff: the longest delay before a restart. */
export const DEFAULT_BACKOFF_MAX_MS = 30_000;

/** Backoff: each further restart of the same child within the period multiplies the delay by this. */
export const DEFAULT_BACKOFF_FACTOR = 2;

/** Heartbeat interval a supervisor gives its children. Hung detection takes `DEFAULT_MISSED_BEATS` of these. */
export const DEFAULT_CHILD_HEARTBEAT_MS = 1_000;

/** Heartbeat intervals a child may miss before it is declared hung, killed and restarted. */
export const DEFAULT_MISSED_BEATS = 3;

/** How long a process child has to announce itself (actor.started.v1) before its start counts as failed. */
export const DEFAULT_PROCESS_START_TIMEOUT_MS = 15_000;

/**
 * Range of a process child's `nice`. 0 is the normal priority; 19 the lowest. Negative values (higher
 * priority) need CAP_SYS_NICE (or RLIMIT_NICE), so a spec may not ask for them.
 */
export const MIN_CHILD_NICE = 0;
export const MAX_CHILD_NICE = 19;

/** How long a supervisor waits for a nested supervisor's page or summary before reporting it unreachable. */
export const DEFAULT_NESTED_TREE_TIMEOUT_MS = 2_000;

/**
 * After a supervisor's own connection to the bus comes back (a nats-server restart), how long its
 * children may stay silent before one is declared hung: each must reconnect too, and a loaded machine
 * reconnecting every process at once takes seconds. Hang detection pauses while the connection is down.
 */
export const DEFAULT_RECONNECT_GRACE_MS = 10_000;

/**
 * In-host agents per shared connection (supervisors/host-connections.ts): one connection per this many
 * agents of a tier, its credential their union. 100 T2 agents make a ~36 KB user JWT, which rides in
 * CONNECT: servers the project starts read lines up to 256 KB (infra/nats-server.ts); on a server of
 * your own set `max_control_line` to match, or lower this (0: every in-host agent connects on its own).
 */
export const DEFAULT_AGENTS_PER_CONNECTION = 100;
