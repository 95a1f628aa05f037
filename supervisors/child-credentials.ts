/**
 * The NATS credential a supervisor gives a child: minted for the child's own principal (its kind and
 * id, or for an agent its tier) from protocols/permissions.ts when this process holds the bus's
 * authority; otherwise the supervisor's own credential, the only one it has to give.
 */
import { createUser } from '@nats-io/jwt';
import type { Bus } from '../bus/bus.ts';
import type { BusCredentials } from '../bus/bus-options.ts';
import { ACTOR_KIND } from '../protocols/actor-kinds.ts';
import { serviceSubject } from '../protocols/subjects.ts';
import { NoRespondersError, TimeoutError } from '../protocols/vocabulary/errors.ts';
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

/** How long a supervisor waits for the credential authority before minting an agent's itself. */
export const DEFAULT_CA_ASK_TIMEOUT_MS = 2_000;

/**
 * An agent's credential from the credential authority (actors/credentials): the key pair is made here
 * and only its public key is sent; the authority signs a JWT for it and tracks it (renewal, revocation
 * on suspension, reissue on promotion). Undefined when no authority answers (a system without one, or
 * while it restarts): the caller mints locally.
 */
async function fromAuthority(bus: Bus, principal: Principal): Promise<BusCredentials | undefined> {
  if (principal.role !== 'agent') return undefined;
  const kp = createUser();
  try {
    const reply = await bus.ask(
      serviceSubject(ACTOR_KIND.credentialAuthority),
      { type: 'credentials.mint.v1', body: { principal, publicKey: kp.getPublicKey() } },
      { timeoutMs: DEFAULT_CA_ASK_TIMEOUT_MS },
    );
    if (reply.type !== 'credentials.minted.v1') return undefined;
    return { kind: 'jwt', jwt: reply.body.jwt, seed: new TextDecoder().decode(kp.getSeed()) };
  } catch (err) {
    if (err instanceof NoRespondersError || err instanceof TimeoutError) return undefined;
    throw err;
  }
}

export async function childCredentials(
  servers: string,
  own: BusCredentials | undefined,
  principal: Principal,
  bus?: Bus,
): Promise<BusCredentials | undefined> {
  const issued = bus ? await fromAuthority(bus, principal) : undefined;
  if (issued) return issued;
  const minted = await mintLocal(servers, principal);
  if (minted) return { kind: 'jwt', jwt: minted.jwt, seed: minted.seed };
  return own ?? (await defaultCredentialsFor(servers));
}
