/** Defaults and start arguments of the budget monitor. See docs/governance.md. */
import { ConfigError } from '../../protocols/errors.ts';
import { DEFAULT_DIAGNOSTIC_PIPELINE } from '../../protocols/pipeline/options.ts';
import type { StartFrom } from '../token/token-options.ts';

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

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const num = (v: unknown, def: number): number => {
  if (v === undefined || v === '') return def;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`expected a positive number, got ${JSON.stringify(v)}`);
  return n;
};

export function budgetMonitorArgs(args: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv = process.env): BudgetMonitorArgs {
  const redisUrl = str(args.redisUrl) ?? str(env.REDIS_URL);
  if (!redisUrl) throw new ConfigError('the budget monitor needs redisUrl (arg or REDIS_URL)');
  const startFrom = str(args.startFrom) ?? 'new';
  if (startFrom !== 'new' && startFrom !== 'all') throw new ConfigError(`startFrom must be "new" or "all", got ${JSON.stringify(startFrom)}`);
  return {
    redisUrl,
    durable: str(args.durable) ?? DEFAULT_BUDGET_MONITOR_DURABLE,
    startFrom,
    keyPrefix: str(args.keyPrefix) ?? DEFAULT_BUDGET_RUN_KEY_PREFIX,
    budgetKeyPrefix: str(args.budgetKeyPrefix),
    handoffKeyPrefix: str(args.handoffKeyPrefix) ?? DEFAULT_HANDOFF_KEY_PREFIX,
    timelineErrors: num(args.timelineErrors, DEFAULT_TIMELINE_ERRORS),
    maxAncestryDepth: num(args.maxAncestryDepth, DEFAULT_MAX_ANCESTRY_DEPTH),
    revokeTimeoutMs: num(args.revokeTimeoutMs, DEFAULT_REVOKE_TIMEOUT_MS),
    diagnosticTimeoutMs: num(args.diagnosticTimeoutMs, DEFAULT_DIAGNOSTIC_TIMEOUT_MS),
    diagnosticDir: str(args.diagnosticDir) ?? DEFAULT_DIAGNOSTIC_DIR,
    ackWaitMs: num(args.ackWaitMs, 30_000),
    eventRetryMs: num(args.eventRetryMs, 1_000),
  };
}

/** The file a diagnostic name points at: a path (with `/` or `.yaml`/`.yml`) as is, else `<dir>/<name>.yaml`. */
export function diagnosticFile(name: string, dir = DEFAULT_DIAGNOSTIC_DIR): string {
  if (name.includes('/') || /\.ya?ml$/.test(name)) return name;
  return `${dir.replace(/\/$/, '')}/${name}.yaml`;
}
