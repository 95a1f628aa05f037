/**
 * The NATS credential a supervisor gives a child: minted for the child's own principal (its kind and
 * id, or for an agent its tier) from protocols/permissions.ts when this process holds the bus's
 * authority; otherwise the supervisor's own credential, the only one it has to give.
 */
import type { BusCredentials } from '../bus/bus-options.ts';
import { defaultCredentialsFor, mintLocal } from '../infra/nats-auth/index.ts';
import type { Principal } from '../protocols/permissions.ts';
import { isTier } from '../protocols/vocabulary/tiers.ts';

/** The principal an actor of `kind` runs as: agents by tier (T0 when none is given), others by kind. */
export function childPrincipal(
  kind: string,
  id: string,
  args: Record<string, unknown> | undefined,
): Principal {
  if (kind === 'agent') return { role: 'agent', id, tier: isTier(args?.tier) ? args.tier : 'T0' };
  return { role: 'actor', kind, id };
}

export async function childCredentials(
  servers: string,
  own: BusCredentials | undefined,
  principal: Principal,
): Promise<BusCredentials | undefined> {
  const minted = await mintLocal(servers, principal);
  if (minted) return { kind: 'jwt', jwt: minted.jwt, seed: minted.seed };
  return own ?? (await defaultCredentialsFor(servers));
}
