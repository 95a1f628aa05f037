/** Defaults and start arguments of the budget monitor. See docs/governance.md. */
import { z } from 'zod';
import { ACTOR_KIND } from '../../protocols/index.ts';
import { DEFAULT_DIAGNOSTIC_PIPELINE } from '../../protocols/pipeline/index.ts';
import { arg } from '../runtime/index.ts';
import { QuarantineArgs } from './quarantine-policy.ts';

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

/** Redelivery delay of a run event whose handling failed (Redis down). */
export const DEFAULT_BUDGET_EVENT_RETRY_MS = 1_000;
/** How long JetStream waits for the ack of a run event before redelivering it. */
export const DEFAULT_BUDGET_EVENT_ACK_WAIT_MS = 30_000;
/**
 * How long a monitor acting on a breach holds it (its claim) before another may take it over: longer
 * than acting takes (the revoke and diagnostic waits), short enough that a killed monitor's breach is
 * finished before its events come again (the ack wait).
 */
export const DEFAULT_BREACH_LEASE_MS = 20_000;
/** Actor kind of the agents the monitor suspends on a breach. */
export const DEFAULT_BUDGET_AGENT_KIND = ACTOR_KIND.agent;

/** Prefix of the monitor's quarantine keys (held agents, release times). */
export const DEFAULT_QUARANTINE_KEY_PREFIX = 'agov:gov:quarantine';

/** Start arguments of the budget monitor (kind `budget-monitor`). */
export const BudgetMonitorArgsSchema = z.strictObject({
  redisUrl: arg.text(),
  durable: arg.text().default(DEFAULT_BUDGET_MONITOR_DURABLE),
  startFrom: arg.startFrom(),
  keyPrefix: arg.text().default(DEFAULT_BUDGET_RUN_KEY_PREFIX),
  /** Prefix of the budget counters' keys (absent: the store's own default). */
  budgetKeyPrefix: arg.text().optional(),
  handoffKeyPrefix: arg.text().default(DEFAULT_HANDOFF_KEY_PREFIX),
  timelineErrors: arg.positive().default(DEFAULT_TIMELINE_ERRORS),
  maxAncestryDepth: arg.positive().default(DEFAULT_MAX_ANCESTRY_DEPTH),
  revokeTimeoutMs: arg.positive().default(DEFAULT_REVOKE_TIMEOUT_MS),
  diagnosticTimeoutMs: arg.positive().default(DEFAULT_DIAGNOSTIC_TIMEOUT_MS),
  diagnosticDir: arg.text().default(DEFAULT_DIAGNOSTIC_DIR),
  ackWaitMs: arg.positive().default(DEFAULT_BUDGET_EVENT_ACK_WAIT_MS),
  eventRetryMs: arg.positive().default(DEFAULT_BUDGET_EVENT_RETRY_MS),
  breachLeaseMs: arg.positive().default(DEFAULT_BREACH_LEASE_MS),
  agentKind: arg.text().default(DEFAULT_BUDGET_AGENT_KIND),
  quarantineKeyPrefix: arg.text().default(DEFAULT_QUARANTINE_KEY_PREFIX),
  ...QuarantineArgs,
});
export type BudgetMonitorArgs = z.output<typeof BudgetMonitorArgsSchema>;

/** The file a diagnostic name points at: a path (with `/` or `.yaml`/`.yml`) as is, else `<dir>/<name>.yaml`. */
export function diagnosticFile(name: string, dir = DEFAULT_DIAGNOSTIC_DIR): string {
  if (name.includes('/') || /\.ya?ml$/.test(name)) return name;
  return `${dir.replace(/\/$/, '')}/${name}.yaml`;
}
