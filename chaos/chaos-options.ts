/** Heartbeat interval of the system under test: short, so hangs are found quickly. */
export const DEFAULT_CHAOS_HEARTBEAT_MS = 250;
/** Missed heartbeats before a child is declared hung (a loaded 2-core machine needs slack). */
export const DEFAULT_CHAOS_MISSED_BEATS = 4;
/** How long a scenario injects faults. */
export const DEFAULT_CHAOS_DURATION_MS = 20_000;
/** Pause between two injected faults. */
export const DEFAULT_CHAOS_FAULT_INTERVAL_MS = 2_500;
/** Pipeline runs driven through a scenario. */
export const DEFAULT_CHAOS_RUNS = 12;
/** How long after the last fault every run must have reached a terminal state. */
export const DEFAULT_CHAOS_SETTLE_MS = 90_000;
/** How long a SIGSTOPped process stays stopped before SIGCONT (unless its supervisor kills it first). */
export const DEFAULT_CHAOS_HANG_MS = 3_000;
/**
 * How long a process child of the system under test has to announce itself. Well above the default
 * (15 s): a chaos system starts some twenty processes at once, often on a machine shared with other
 * work, and at load 30 on 2 cores one took longer than 15 s, which at start-up is fatal (the services
 * supervisor escalates failed_to_start_child and the root with it) and measures nothing about recovery.
 */
export const DEFAULT_CHAOS_PROCESS_START_TIMEOUT_MS = 60_000;
