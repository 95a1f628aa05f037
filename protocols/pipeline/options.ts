/**
 * Defaults of the pipeline DSL. One constant per default, unit in the name.
 * docs/pipeline-dsl.md lists them next to the fields they fill in.
 */

/** Time one attempt of a stage may take before it counts as failed, when the stage sets no `timeoutMs`. */
export const DEFAULT_STAGE_TIMEOUT_MS = 10 * 60_000;

/**
 * Longest a ready stage waits for an agent to take it (Temporal's schedule-to-start), when the stage
 * sets no `scheduleToStartMs`. Past it the attempt fails with GOV_ERR_SCHEDULE_TO_START_TIMEOUT and
 * counts (retries, error budget). Queueing behind other runs counts as waiting.
 */
export const DEFAULT_SCHEDULE_TO_START_MS = 5 * 60_000;
/**
 * Largest pipeline file (UTF-8 bytes) the parser reads; a larger one is a `yaml-limit` diagnostic
 * (400 over HTTP), before any YAML is parsed.
 */
export const DEFAULT_MAX_PIPELINE_BYTES = 128 * 1024;
/**
 * Most alias expansions (`*name`) the parser resolves in one file: a YAML "billion laughs" document
 * is a `yaml-limit` diagnostic instead of exhausting memory (the yaml library's own default).
 */
export const DEFAULT_MAX_YAML_ALIAS_COUNT = 100;

/** Retries of a failed stage when the stage sets no `retries`. */
export const DEFAULT_RETRIES_MAX = 0;
/** First pause between retries. */
export const DEFAULT_RETRY_BACKOFF_MS = 1_000;
/** Each pause is the previous one times this factor. */
export const DEFAULT_RETRY_FACTOR = 2;
/** Upper bound of a pause between retries. */
export const DEFAULT_RETRY_MAX_BACKOFF_MS = 60_000;

/** Time an `exec` task may run when it sets no `timeoutMs` of its own (still bounded by the stage's). */
export const DEFAULT_EXEC_TIMEOUT_MS = 5 * 60_000;
/** Output (stdout + stderr) an `exec` task may produce before it is cut off. */
export const DEFAULT_EXEC_MAX_OUTPUT_BYTES = 1024 * 1024;
/** Upper bound of an `exec` task's `maxOutputBytes`: output is held in the agent's memory and sent over the bus. */
export const MAX_EXEC_OUTPUT_BYTES = 8 * 1024 * 1024;
/**
 * Environment variables an `exec` task may never copy with `env.pass` (nor set with `env.set`): the
 * system's own configuration and credentials. A name is refused when it starts with one of these.
 */
export const SYSTEM_ENV_PREFIXES = ['AGOV_', 'NATS_', 'REDIS_', 'DRAGONFLY_', 'VAULT_', 'LEDGER_'] as const;
/** Whether `name` is one of the system's variables (see {@link SYSTEM_ENV_PREFIXES}). */
export function isSystemEnvName(name: string): boolean {
  return SYSTEM_ENV_PREFIXES.some((p) => name.startsWith(p));
}

/** Count form of the error budget used when a pipeline declares none: errors allowed per window. */
export const DEFAULT_ERROR_BUDGET_MAX_ERRORS = 5;
/** Sliding window of the count-form error budget. */
export const DEFAULT_ERROR_BUDGET_WINDOW_MS = 10 * 60_000;
/** Share of the error budget spent at which a warning is raised. */
export const DEFAULT_ERROR_BUDGET_WARN_RATIO = 0.75;
/** Share of the error budget spent at which the budget is breached. */
export const DEFAULT_ERROR_BUDGET_BREACH_RATIO = 1;
/** SLO form: burn rate (error rate / allowed error rate) at which a warning is raised. */
export const DEFAULT_SLO_WARN_BURN_RATE = 2;
/** SLO form: burn rate at which the budget is breached. */
export const DEFAULT_SLO_BREACH_BURN_RATE = 14.4;
/** SLO form: window over which the burn rate is measured. */
export const DEFAULT_SLO_BURN_WINDOW_MS = 60 * 60_000;
/** Diagnostic pipeline (or template) spawned on a breach when the budget names none. */
export const DEFAULT_DIAGNOSTIC_PIPELINE = 'diagnostic';

/** Lifetime of a pipeline run's token. */
export const DEFAULT_TOKEN_TTL_MS = 2 * 60 * 60_000;
/** How often a run's token is renewed. */
export const DEFAULT_TOKEN_RENEW_EVERY_MS = 30 * 60_000;
/** Longest a token may live counting renewals. */
export const DEFAULT_TOKEN_MAX_TTL_MS = 24 * 60 * 60_000;

/** Nesting depth of `uses:` (templates using templates) past which expansion stops. */
export const DEFAULT_MAX_TEMPLATE_DEPTH = 16;
