/**
 * Policy-violation reports (`violation.report.v1`) as the token authority takes them: only from an
 * allowlisted reporter or one whose own inbox confirms it is T2; then the run is contained at once,
 * its tokens revoked, and only the agent that committed the violation quarantined (held for an
 * operator, or released after a cool-down, per `violationRelease`). Refusals and acceptances are on
 * the feed and audited.
 */
import type { Bus } from '../../bus/index.ts';
import type { Clock } from '../../infra/index.ts';
import { type BodyOf, containSubject, type Envelope, ForbiddenError } from '../../protocols/index.ts';
import { type QuarantineStore, releaseAt } from '../error-budget/index.ts';
import type { RevokeResult } from './token-authority-types.ts';
import type { TokenAuthorityArgs } from './token-options.ts';
import type { TokenStore } from './token-store.ts';

type Report = Envelope<'violation.report.v1'>;

export interface ViolationIntakeDeps {
  bus: Bus;
  clock: Clock;
  args: Pick<
    TokenAuthorityArgs,
    'reporterAllowlist' | 'reporterVerifyTimeoutMs' | 'violationRelease' | 'violationCoolDownMs'
  >;
  store: TokenStore;
  quarantine?: QuarantineStore;
  /** Publishes a token event on the feed and audits it. */
  event(msg: BodyOf<'token.event.v1'>): Promise<unknown>;
  /** The authority's revoke: tokens, then the named agents told to quarantine. */
  revoke(
    runId: string,
    reason: string,
    by: string,
    suspendAgents: boolean,
    agents: { ids: string[]; command: 'suspend' | 'quarantine' },
  ): Promise<RevokeResult>;
}

/** Whether the reporter may report: allowlisted, or a T2 claim its own inbox confirms. */
export async function reporterAuthorised(deps: ViolationIntakeDeps, env: Report): Promise<boolean> {
  if (deps.args.reporterAllowlist.includes(env.from)) return true;
  if (env.body.reporterTier !== 'T2') return false;
  // A T2 claim is checked with the reporter itself: its inbox must answer agent.state.v1 with tier T2.
  try {
    const reply = await deps.bus.ask(
      env.from,
      { type: 'agent.status.v1', body: {} },
      { timeoutMs: deps.args.reporterVerifyTimeoutMs },
    );
    return reply.type === 'agent.state.v1' && reply.body.tier === 'T2';
  } catch {
    return false;
  }
}

/** Takes a violation report: contain, revoke, quarantine the violator. Throws ForbiddenError for a reporter without standing. */
export async function takeViolation(deps: ViolationIntakeDeps, env: Report): Promise<RevokeResult> {
  const b = env.body;
  const run = await deps.store.getRun(b.runId);
  if (!(await reporterAuthorised(deps, env))) {
    await deps.event({
      runId: b.runId,
      action: 'violation-refused',
      accessor: run?.accessor || undefined,
      agentId: b.agentId,
      by: env.from,
      reason: `unauthorised reporter for policy ${b.policy}`,
    });
    throw new ForbiddenError(`violation reports need a T2 or allowlisted reporter; ${env.from} is neither`, {
      details: { reporter: env.from, runId: b.runId },
    });
  }
  // Contain the run before anything else: nothing more of it runs, whatever the revoke costs.
  deps.bus.tell(containSubject(b.runId), {
    type: 'run.contain.v1',
    body: {
      runId: b.runId,
      cause: 'policy-violation',
      reason: `policy violation: ${b.policy}`.slice(0, 500),
      ...(b.agentId ? { agentIds: [b.agentId] } : {}),
    },
    run: b.runId,
  });
  await deps.event({
    runId: b.runId,
    action: 'violation-accepted',
    accessor: run?.accessor || undefined,
    agentId: b.agentId,
    by: env.from,
    reason: `${b.policy}: ${b.description}`.slice(0, 500),
  });
  // Only the agent that committed the violation is quarantined (kept for an operator by default).
  const result = await deps.revoke(b.runId, `policy-violation: ${b.policy}`, env.from, false, {
    ids: b.agentId ? [b.agentId] : [],
    command: 'quarantine',
  });
  if (b.agentId && deps.quarantine) {
    const now = deps.clock.now();
    const at = releaseAt(deps.args.violationRelease, deps.args.violationCoolDownMs, now);
    await deps.quarantine.hold({
      agentId: b.agentId,
      runId: b.runId,
      reason: `policy-violation: ${b.policy}`,
      release: deps.args.violationRelease,
      since: now,
      ...(at === undefined ? {} : { releaseAt: at }),
    });
  }
  return result;
}
