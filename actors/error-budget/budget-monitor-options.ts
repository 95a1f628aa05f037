/** Defaults and start arguments of the budget monitor. See docs/governance.md. */
import { ConfigError } from '../../protocols/errors.ts';
import { DEFAULT_DIAGNOSTIC_PIPELINE } from '../../protocols/pipeline/options.ts';
import { argPositiveNumber, argStartFrom, argString, type StartFrom } from '../runtime/start-args.ts';
import { DEFAULT_EVENT_ACK_WAIT_MS, DEFAULT_EVENT_RETRY_MS } from '../token/token-options.ts';

/** Name of the monitor's durable JetStream consumer on `gov.audit.run`. */
export const DEFAULT_BUDGET_MONITOR_DURABLE = 'budget-monitor';
/** Prefix of the monitor's per-run Redis keys (run facts, error timeline, agents). */
export const DEFAULT_BUDGET_RUN_KEY_PREFIX = 'agov:gov';
/** Prefix of the handoff reports' Redis keys. */
export const DEFAULT_HANDOFF_KEY_PREFIX = 'agov:handoff';
/** Errors kept per run for the handoff report's timeline. */
export const DEFAULT_TIMELINE_ERRORS = 20;
/** Longest parentRunId chain a child's errors are propagated up. */
export const DEFAULT_MAX_ANCESTRY_DEPTH = 16;
/** How long the monitor waits for the token authority to revoke. */
export const DEFAULT_REVOKE_TIMEOUT_MS = 5_000;
/** How long the monitor waits for an orchestrator to accept the diagnostic run. */
export const DEFAULT_DIAGNOSTIC_TIMEOUT_MS = 5_000;
/** Folder of pipeline files a diagnostic name (`diagnostic`) resolves in: `<dir>/<name>.yaml`. */
export const DEFAULT_DIAGNOSTIC_DIR = 'examples';
export { DEFAULT_DIAGNOSTIC_PIPELINE };
/** Handoff reports are kept this long in Redis (30 days). */
export const DEFAULT_HANDOFF_TTL_MS = 30 * 24 * 3_600_000;
/** Run facts are kept this long after the last event (7 days, as the AUDIT stream). */
export const DEFAULT_RUN_FACTS_TTL_MS = 7 * 24 * 3_600_000;

export interface BudgetMonitorArgs {
  redisUrl: string;
  durable: string;
  startFrom: StartFrom;
  keyPrefix: string;
  budgetKeyPrefix?: string;
  handoffKeyPrefix: string;
  timelineErrors: number;
  maxAncestryDepth: number;
  revokeTimeoutMs: number;
  diagnosticTimeoutMs: number;
  diagnosticDir: string;
  ackWaitMs: number;
  eventRetryMs: number;
}

export function budgetMonitorArgs(
  args: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): BudgetMonitorArgs {
  const redisUrl = argString(args.redisUrl) ?? argString(env.REDIS_URL);
  if (!redisUrl) throw new ConfigError('the budget monitor needs redisUrl (arg or REDIS_URL)');
  const startFrom = argStartFrom(args.startFrom);
  return {
    redisUrl,
    durable: argString(args.durable) ?? DEFAULT_BUDGET_MONITOR_DURABLE,
    startFrom,
    keyPrefix: argString(args.keyPrefix) ?? DEFAULT_BUDGET_RUN_KEY_PREFIX,
    budgetKeyPrefix: argString(args.budgetKeyPrefix),
    handoffKeyPrefix: argString(args.handoffKeyPrefix) ?? DEFAULT_HANDOFF_KEY_PREFIX,
    timelineErrors: argPositiveNumber(args.timelineErrors, DEFAULT_TIMELINE_ERRORS),
    maxAncestryDepth: argPositiveNumber(args.maxAncestryDepth, DEFAULT_MAX_ANCESTRY_DEPTH),
    revokeTimeoutMs: argPositiveNumber(args.revokeTimeoutMs, DEFAULT_REVOKE_TIMEOUT_MS),
    diagnosticTimeoutMs: argPositiveNumber(args.diagnosticTimeoutMs, DEFAULT_DIAGNOSTIC_TIMEOUT_MS),
    diagnosticDir: argString(args.diagnosticDir) ?? DEFAULT_DIAGNOSTIC_DIR,
    ackWaitMs: argPositiveNumber(args.ackWaitMs, DEFAULT_EVENT_ACK_WAIT_MS),
    eventRetryMs: argPositiveNumber(args.eventRetryMs, DEFAULT_EVENT_RETRY_MS),
  };
}

/** The file a diagnostic name points at: a path (with `/` or `.yaml`/`.yml`) as is, else `<dir>/<name>.yaml`. */
export function diagnosticFile(name: string, dir = DEFAULT_DIAGNOSTIC_DIR): string {
  if (name.includes('/') || /\.ya?ml$/.test(name)) return name;
  return `${dir.replace(/\/$/, '')}/${name}.yaml`;
}
