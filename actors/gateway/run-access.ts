/**
 * What a key may see of a run and do to it, by the run's tier (`run.state.v1.tier`, the effective
 * tier it was admitted at):
 * - a key below the run's tier reads the run with every stage's `output` (and error `details`)
 *   replaced by a redaction marker: a T2 run's output may hold what only T2 may see;
 * - a key below T2 may report outcomes only against a run the orchestrator knows and whose tier is at
 *   most the key's (a T1 key cannot burn an admin run's budget until its token is revoked). T2 keys
 *   act on every run, known or not (tools that report with their PIPELINE_ID).
 * A run state without a tier (an older orchestrator) counts as T2: fail closed.
 */
import type { BodyOf } from '../../protocols/index.ts';
import { ForbiddenError, HIGHEST_TIER, type Tier, tierRank } from '../../protocols/index.ts';
import type { Caller } from './auth.ts';
import { askService } from './bus-call.ts';
import type { GatewayDeps } from './route-def.ts';

type RunState = BodyOf<'run.state.v1'>;

/** What replaces a stage's output for a key below the run's tier. */
export const REDACTED_OUTPUT = '[REDACTED: below the run tier]';

const runTier = (run: Pick<RunState, 'tier'>): Tier => run.tier ?? HIGHEST_TIER;

/** Whether `caller` may see and act on everything of a run at `tier`. */
export function mayActOn(caller: Caller, tier: Tier): boolean {
  return tierRank(caller.tier) >= tierRank(tier);
}

/** The run as `caller` may read it: outputs and error details redacted below the run's tier. */
export function redactRunFor(caller: Caller, run: RunState): RunState {
  if (mayActOn(caller, runTier(run))) return run;
  return {
    ...run,
    stages: run.stages.map((st) => {
      const out = { ...st };
      if (out.output !== undefined) out.output = REDACTED_OUTPUT;
      if (out.error?.details !== undefined) out.error = { ...out.error, details: { redacted: true } };
      return out;
    }),
    ...(run.error?.details !== undefined ? { error: { ...run.error, details: { redacted: true } } } : {}),
  };
}

/**
 * Refuses (403, or 404 for an unknown run) a report about `runId` from a key that may not act on it.
 * T2 keys are not asked about: they may act on every run.
 */
export async function requireRunAccess(
  deps: GatewayDeps,
  caller: Caller,
  runId: string,
  what: string,
): Promise<void> {
  if (caller.tier === HIGHEST_TIER) return;
  const reply = await askService(
    deps,
    deps.settings.services.orchestrator,
    { type: 'run.get.v1', body: { runId } },
    ['run.state.v1'],
  );
  const tier = runTier(reply.body);
  if (!mayActOn(caller, tier)) {
    throw new ForbiddenError(
      `${what} about run ${runId} needs a ${tier} key (the run's tier); key ${caller.name} is ${caller.tier}`,
      { details: { required: tier, tier: caller.tier, keyName: caller.name, runId } },
    );
  }
}
