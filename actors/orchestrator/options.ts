/**
 * Defaults of the orchestrator actor. One constant per default, unit in the name.
 * The ones in `OrchestratorArgsSchema` below are start arguments of the same name in camelCase
 * (`agov actor orchestrator --id o1 --arg agentMissedBeats=5`); the others are fixed here.
 */
import { z } from 'zod';
import { arg } from '../runtime/start-args.ts';

/** JetStream KV bucket holding every run's state (key = run id). */
export const DEFAULT_RUNS_BUCKET = 'AGOV_RUNS';
/** Heartbeat intervals an agent may miss before its in-flight attempts are failed as retryable. */
export const DEFAULT_AGENT_MISSED_BEATS = 3;
/** Heartbeat interval assumed for an agent we have not heard from yet (e.g. right after a restart). */
export const DEFAULT_AGENT_HEARTBEAT_MS = 1_000;
/** How often the orchestrator checks agent liveness, due retries and stage deadlines. */
export const DEFAULT_SWEEP_INTERVAL_MS = 250;
/** How long an agent may take to answer agent.task.assign.v1 before the dispatch counts as refused. */
export const DEFAULT_ASSIGN_TIMEOUT_MS = 5_000;
/** How long a refusing agent is passed over before it may be asked again (unless its heartbeat says idle sooner). */
export const DEFAULT_REFUSAL_COOLDOWN_MS = 1_000;
/**
 * An agent whose heartbeats say it is idle while we believe it runs one of our tasks (its result was
 * lost, e.g. a forwarded one whose owner died before storing it) has that attempt failed as retryable after this long.
 */
export const DEFAULT_LOST_TASK_GRACE_MS = 3_000;
/** How long an orchestrator waits for another instance to answer a ping before it counts that owner as alive anyway (only no responders means gone). */
export const DEFAULT_OWNER_PING_TIMEOUT_MS = 1_000;
/**
 * Admission control: live runs one orchestrator instance drives at most; a run request beyond it is
 * refused with GOV_ERR_OVERLOADED (retry after `DEFAULT_OVERLOADED_RETRY_AFTER_MS`), never queued.
 * Child runs of admitted runs are not counted against it.
 */
export const DEFAULT_MAX_RUNS_IN_FLIGHT = 5_000;
/** The retry-after an overloaded orchestrator gives with GOV_ERR_OVERLOADED. */
export const DEFAULT_OVERLOADED_RETRY_AFTER_MS = 500;
/** Largest number of runs `run.list.v1` returns. */
export const DEFAULT_LIST_LIMIT = 50;
/**
 * Attempts of one stage that may be lost to infrastructure (its agent died or its result was lost)
 * before such losses count against `retries.max` like ordinary failures.
 */
export const DEFAULT_MAX_LOST_ATTEMPTS = 3;
/** How long a JetStream publish (a run-state write, an audited run event) may wait for its ack. */
export const DEFAULT_JS_ACK_TIMEOUT_MS = 5_000;
/** Pause before an unacknowledged audit publish of a run event is sent again (same message id). */
export const DEFAULT_AUDIT_RETRY_MS = 500;
/** On stop, how long the orchestrator waits for run events still unacknowledged by the audit stream. */
export const DEFAULT_AUDIT_DRAIN_MS = 5_000;
/** Compiled pipelines kept for run requests that repeat the same text and parameters. */
export const DEFAULT_PIPELINE_CACHE_ENTRIES = 64;
/**
 * Finished runs whose last write this instance remembers, so the durable copy of their last result
 * (see the results fast path in report-intake.ts) is acked without a store lookup.
 */
export const DEFAULT_FINISHED_RUNS_REMEMBERED = 1_024;
/**
 * Reports taken on the results fast path whose durable copy is still to come (it is then only acked,
 * not applied again). Copies normally follow within milliseconds; the oldest are forgotten first.
 */
export const DEFAULT_FAST_REPORTS_REMEMBERED = 1_024;
/**
 * The durable consumer of `gov.results.orchestrator.*` shared by every orchestrator instance (named
 * anew when agents' reports moved to per-agent subjects: a consumer keeps its filter for life).
 */
export const DEFAULT_RESULTS_DURABLE = 'orchestrator-agent-results';
/** A result delivered to an orchestrator and not acked within this long (it died) is delivered again. */
export const DEFAULT_RESULTS_ACK_WAIT_MS = 5_000;
/** Results delivered and not yet acked, per consumer (across instances). */
export const DEFAULT_RESULTS_MAX_ACK_PENDING = 10_000;
/** How long one fetch of the results that waited while no orchestrator ran may wait for them. */
export const DEFAULT_RESULTS_FETCH_EXPIRES_MS = 2_000;
/** Results pulled ahead into one orchestrator's mailbox. */
export const DEFAULT_RESULTS_BATCH = 256;
/** Pause before a result that could not be handed over (owner unreachable, store error) is delivered again. */
export const DEFAULT_RESULTS_RETRY_MS = 1_000;

/**
 * How long a finished run's record stays in the runs bucket (run-retention.ts). The ledger keeps its
 * audit trail for good; this bounds the orchestrators' working state (~2 KB per run of three stages).
 * It must exceed the longest a parent run may still reconcile a finished child after a restart.
 */
export const DEFAULT_RUN_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Removals of finished run records after which their delete markers are purged from the bucket. */
export const DEFAULT_RUN_MARKER_PURGE_EVERY = 1_000;
/** Delete markers younger than this stay (a reader listing keys meanwhile sees the removal). */
export const DEFAULT_RUN_MARKER_PURGE_AGE_MS = 60_000;

/** Start arguments of the orchestrator (kind `orchestrator`); the other defaults above are fixed. */
export const OrchestratorArgsSchema = z.strictObject({
  bucket: arg.text().default(DEFAULT_RUNS_BUCKET),
  agentMissedBeats: arg.positive().default(DEFAULT_AGENT_MISSED_BEATS),
  agentHeartbeatMs: arg.positive().default(DEFAULT_AGENT_HEARTBEAT_MS),
  sweepIntervalMs: arg.positive().default(DEFAULT_SWEEP_INTERVAL_MS),
  assignTimeoutMs: arg.positive().default(DEFAULT_ASSIGN_TIMEOUT_MS),
  refusalCooldownMs: arg.positive().default(DEFAULT_REFUSAL_COOLDOWN_MS),
  lostTaskGraceMs: arg.positive().default(DEFAULT_LOST_TASK_GRACE_MS),
  maxRunsInFlight: arg.positive().default(DEFAULT_MAX_RUNS_IN_FLIGHT),
  runRetentionMs: arg.positive().default(DEFAULT_RUN_RETENTION_MS),
  /** Folder searched for `pipeline` tasks that name a pipeline (`name: diagnostic` → diagnostic.yaml). */
  pipelinesDir: arg.text().optional(),
});
export type OrchestratorArgs = z.output<typeof OrchestratorArgsSchema>;
