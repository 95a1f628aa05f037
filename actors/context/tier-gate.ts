/** The context actors' tier rules: T0 reads, T1 writes (memory of its runs, work status), T2 deletes and restores. */
import { TierForbiddenError } from '../../protocols/vocabulary/errors.ts';
import { type Tier, tierAtLeast } from '../../protocols/vocabulary/tiers.ts';
import { type Refusal, refuse } from '../runtime/actor-kind.ts';

/** A refusal when `tier` is below `min`, else undefined. */
export function requireTier(tier: Tier, min: Tier, action: string): Refusal | undefined {
  if (tierAtLeast(tier, min)) return undefined;
  return refuse(
    new TierForbiddenError(`${action} needs tier ${min} (caller has ${tier})`, {
      details: { action, required: min, tier },
    }),
  );
}
