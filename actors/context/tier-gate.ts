/**
 * The context actors' tier rules: T0 reads, T1 writes (memory of its runs, work status), T2 deletes and
 * restores. The tier and the caller are the ones the broker vouches for: a write is taken only on
 * `gov.ctx.<kind>.<tier>.<principal>`, which a credential may publish on only under its own name at its
 * own tier (protocols/permissions.ts). On `gov.svc.<kind>` (reads) the caller is unknown, so a write
 * there is refused whatever tier its body claims.
 */
import { ForbiddenError, TierForbiddenError } from '../../protocols/vocabulary/errors.ts';
import { contextSenderOf } from '../../protocols/subjects.ts';
import { isTier, type Tier, tierAtLeast } from '../../protocols/vocabulary/tiers.ts';
import { type Refusal, refuse } from '../runtime/actor-kind.ts';

/** Who sent a context request, as the broker vouches: undefined off `gov.ctx.<kind>.…`. */
export interface ContextCaller {
  tier: Tier;
  principal: string;
}

export function contextCallerOf(kind: string, subject: string): ContextCaller | undefined {
  const sender = contextSenderOf(subject);
  if (!sender || sender.kind !== kind || !isTier(sender.tier)) return undefined;
  return { tier: sender.tier, principal: sender.principal };
}

/** A refusal when `tier` is below `min`, else undefined. */
export function requireTier(tier: Tier, min: Tier, action: string): Refusal | undefined {
  if (tierAtLeast(tier, min)) return undefined;
  return refuse(
    new TierForbiddenError(`${action} needs tier ${min} (caller has ${tier})`, {
      details: { action, required: min, tier },
    }),
  );
}

/**
 * A refusal unless the broker vouched for a caller of at least `min` (see above); the caller otherwise.
 */
export function requireCaller(
  kind: string,
  caller: ContextCaller | undefined,
  min: Tier,
  action: string,
): Refusal | ContextCaller {
  if (!caller)
    return refuse(
      new ForbiddenError(
        `${action} is taken only on gov.ctx.${kind}.<tier>.<principal>, where the broker vouches for the caller`,
        { details: { action, required: min } },
      ),
    );
  return requireTier(caller.tier, min, action) ?? caller;
}
