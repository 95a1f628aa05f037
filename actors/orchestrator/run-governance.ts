import type { BodyIn } from '../../protocols/catalog.ts';
import type { ConcretePipeline } from '../../protocols/pipeline/index.ts';

type RunGovernance = NonNullable<BodyIn<'run.event.v1'>['governance']>;

/**
 * What the governance actors need to know about a run, carried on its `run-accepted` event: the
 * tiers its stages use (the run token's policies derive from them), each stage's tier (scopes the
 * agents' child tokens), the token settings, the error budget and the diagnostic pipeline.
 */
export function runGovernance(pipeline: ConcretePipeline): RunGovernance {
  const stageTiers = Object.fromEntries(pipeline.stages.map((s) => [s.id, s.agent.tier]));
  const tiers = [...new Set(Object.values(stageTiers))].sort();
  return {
    pipeline: pipeline.name,
    tiers,
    stageTiers,
    token: { ...pipeline.token },
    errorBudget: { ...pipeline.errorBudget },
    diagnostic: pipeline.errorBudget.diagnostic,
  };
}
