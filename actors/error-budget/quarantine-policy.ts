/**
 * Which agents a breach or a violation takes out of service, and for how long (pure, plain data).
 *
 * A breach contains the run; it quarantines an agent only when the evidence points at that agent:
 * its own failed attempts inside the breach window, enough of them and a large enough share of the
 * window's errors that the pipeline alone does not explain them. A pipeline that fails the same way on
 * every agent (retries spread over the fleet) quarantines nobody. A violation quarantines the agent
 * that committed it. Failures that are not the agent's doing (it died, no agent was found, no
 * credentials came, the run was stopped) are never evidence. See docs/governance.md, "Containment".
 */
import { z } from 'zod';
import { arg } from '../runtime/index.ts';
import type { TimelineError } from './budget-run-store.ts';

/**
 * How an agent leaves quarantine:
 * - `diagnostic-finished`: when the diagnostic run of the breach ends (any status), or after
 *   `coolDownMs` if that comes first (also when no diagnostic could start);
 * - `cool-down`: after `coolDownMs`;
 * - `operator`: only an operator releases it (`agov agents resume ID`, agent.command.v1 resume/release).
 */
export const QUARANTINE_RELEASES = ['diagnostic-finished', 'cool-down', 'operator'] as const;
export type QuarantineRelease = (typeof QUARANTINE_RELEASES)[number];

/** A breach's quarantine ends with its diagnostic run (or the cool-down, whichever comes first). */
export const DEFAULT_QUARANTINE_RELEASE: QuarantineRelease = 'diagnostic-finished';
/** A violation's quarantine is kept for an operator. */
export const DEFAULT_VIOLATION_RELEASE: QuarantineRelease = 'operator';
/** Longest a quarantine lasts unless kept for an operator: 5 minutes. */
export const DEFAULT_QUARANTINE_COOL_DOWN_MS = 5 * 60_000;
/** An agent needs at least this many failed attempts in the breach window to be implicated. */
export const DEFAULT_QUARANTINE_MIN_AGENT_ERRORS = 2;
/** …and at least this share of the window's agent-attributed errors. */
export const DEFAULT_QUARANTINE_MIN_SHARE = 0.5;
/** How often a keeper looks for quarantines whose cool-down is over. */
export const DEFAULT_QUARANTINE_POLL_MS = 1_000;
/** Error codes that never implicate the agent they happened on (not its doing). */
export const DEFAULT_QUARANTINE_IGNORED_CODES: readonly string[] = Object.freeze([
  'GOV_ERR_AGENT_LOST',
  'GOV_ERR_SCHEDULE_TO_START_TIMEOUT',
  'GOV_ERR_CREDENTIALS_MISSING',
  'GOV_ERR_RUN_CANCELLED',
  'GOV_ERR_RUN_CONTAINED',
  'GOV_ERR_TASK_CANCELLED',
  'GOV_ERR_AGENT_BUSY',
  'GOV_ERR_AGENT_UNAVAILABLE',
]);

/** The quarantine options of a breach (budget monitor start arguments). */
export const QuarantineArgs = {
  quarantineRelease: z.enum(QUARANTINE_RELEASES).default(DEFAULT_QUARANTINE_RELEASE),
  quarantineCoolDownMs: arg.positive().default(DEFAULT_QUARANTINE_COOL_DOWN_MS),
  quarantineMinAgentErrors: arg.positive().default(DEFAULT_QUARANTINE_MIN_AGENT_ERRORS),
  quarantineMinShare: z
    .preprocess((v) => (typeof v === 'string' ? Number(v) : v), z.number().gt(0).max(1))
    .default(DEFAULT_QUARANTINE_MIN_SHARE),
  quarantinePollMs: arg.positive().default(DEFAULT_QUARANTINE_POLL_MS),
};

export interface EvidencePolicy {
  minAgentErrors: number;
  minShare: number;
  ignoredCodes?: readonly string[];
}

/** Agents a breach's evidence points at, sorted: see the file comment. */
export function implicatedAgents(
  errors: readonly TimelineError[],
  window: { from: number; to: number },
  policy: EvidencePolicy,
): string[] {
  const ignored = new Set(policy.ignoredCodes ?? DEFAULT_QUARANTINE_IGNORED_CODES);
  const byAgent = new Map<string, number>();
  let total = 0;
  for (const e of errors) {
    if (e.agentId === undefined || e.at < window.from || e.at > window.to) continue;
    if (e.code !== undefined && ignored.has(e.code)) continue;
    byAgent.set(e.agentId, (byAgent.get(e.agentId) ?? 0) + 1);
    total++;
  }
  const out: string[] = [];
  for (const [agentId, n] of byAgent)
    if (n >= policy.minAgentErrors && n / total >= policy.minShare - 1e-9) out.push(agentId);
  return out.sort();
}

/** When a quarantine taken at `now` ends by itself (undefined: kept for an operator). */
export function releaseAt(release: QuarantineRelease, coolDownMs: number, now: number): number | undefined {
  return release === 'operator' ? undefined : now + coolDownMs;
}
