/**
 * Defaults of the system as `startSystem` composes it: the shape of the supervision tree and where
 * things live when nothing is configured. One constant per default, unit in the name.
 */
import { fileURLToPath } from 'node:url';

/** The fleet a system starts when no teams file is named (AGOV_TEAMS, `--teams`). */
export const DEFAULT_TEAMS_FILE = fileURLToPath(new URL('../config/teams.yaml', import.meta.url));

/** The root supervisor gives up after more than this many restarts of its two subtrees within the period. */
export const DEFAULT_ROOT_INTENSITY = 3;
export const DEFAULT_ROOT_PERIOD_MS = 60_000;
/** Restarts of service actors the `services` supervisor absorbs within its period before escalating. */
export const DEFAULT_SERVICES_INTENSITY = 10;
export const DEFAULT_SERVICES_PERIOD_MS = 30_000;
/** How long a service actor may take to stop (it drains its mailbox and flushes its durable work). */
export const DEFAULT_SERVICE_SHUTDOWN_MS = 10_000;
/** Restarts of whole teams the `teams` supervisor absorbs within its period. */
export const DEFAULT_TEAMS_INTENSITY = 5;
export const DEFAULT_TEAMS_PERIOD_MS = 30_000;
/** A team's own restart intensity and period when its YAML gives none. */
export const DEFAULT_TEAM_INTENSITY = 3;
export const DEFAULT_TEAM_PERIOD_MS = 10_000;
/** How long a team supervisor in its own process may take to stop its members. */
export const DEFAULT_PROCESS_TEAM_SHUTDOWN_MS = 30_000;
/** How long stopping the whole system may take (root supervisor's drain). */
export const DEFAULT_SYSTEM_STOP_MS = 30_000;
/** How long `waitForAllRunning` waits for every child of the tree to be running. */
export const DEFAULT_ALL_RUNNING_TIMEOUT_MS = 30_000;
/** How often `waitForAllRunning` asks for the tree. */
export const DEFAULT_ALL_RUNNING_POLL_MS = 100;

/**
 * Niceness the system runs the ledger writer's process at, when services run as processes (the
 * `nice` of its child spec; not an actor arg: a process cannot be given a priority by what it runs).
 * The writer is a batch consumer of a durable stream: nothing waits for it synchronously, the stream
 * holds what it has not yet committed, and its lag shows in the stream's pending count and the
 * `ledger.appended` feed. So under CPU contention the pipeline path (publishers, nats-server, the
 * orchestrator) gets the CPU first; the writer takes the slack and commits larger batches, which
 * costs it less per event. Linux CFS weights: nice 10 gets ~1/9 of the share of a nice-0 task
 * competing for the same core (never zero), and the whole core when nothing competes. Measured on
 * 2 cores (docs/ledger.md "Throughput"). The cost is lag, and only under sustained overload is it
 * unbounded; see docs/ledger.md for when acks could pass `ackWaitMs` or heartbeats be missed.
 */
export const DEFAULT_LEDGER_WRITER_NICE = 10;

/**
 * How long `processes()` keeps asking for a complete supervision tree (a nested supervisor that does not
 * answer in time is asked again: it may be restarting, or the machine loaded) before it throws.
 */
export const DEFAULT_COMPLETE_TREE_TIMEOUT_MS = 30_000;
/** Pause between two reads of an incomplete tree. */
export const DEFAULT_COMPLETE_TREE_RETRY_MS = 250;
