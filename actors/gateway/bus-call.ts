/** How routes talk to other actors: an ask on a service subject, expecting one reply type. */
import type { MessageType } from '../../protocols/index.ts';
import type { Envelope, OutMessage } from '../../protocols/index.ts';
import { InternalError } from '../../protocols/index.ts';
import { contextSubject, serviceSubject, type Tier } from '../../protocols/index.ts';
import type { GatewayDeps, RouteResult } from './route-def.ts';

/**
 * Asks the service of actor `kind` and returns the reply, which must be one of `expect`. Bus errors
 * (NoResponders, Timeout, the remote's typed error) propagate and become HTTP statuses. With `tier`
 * (the verified API key's; context writes, deletes, restores) the ask goes to
 * `gov.ctx.<kind>.<tier>.<this gateway>`, where the service reads tier and caller from the subject.
 */
export async function askService<R extends MessageType>(
  deps: GatewayDeps,
  kind: string,
  msg: OutMessage,
  expect: readonly R[],
  tier?: Tier,
): Promise<Envelope<R>> {
  const subject = tier ? contextSubject(kind, tier, deps.bus.principal()) : serviceSubject(kind);
  const reply = await deps.bus.ask(subject, msg, { timeoutMs: deps.settings.askTimeoutMs });
  if (!(expect as readonly string[]).includes(reply.type)) {
    throw new InternalError(
      `${subject} answered ${msg.type} with ${reply.type}, expected ${expect.join(' or ')}`,
      {
        details: { subject, type: reply.type },
      },
    );
  }
  return reply as Envelope<R>;
}

/** {@link askService}, relayed as the route's answer: 200 with the reply's body as is. */
export async function relayService<R extends MessageType>(
  deps: GatewayDeps,
  kind: string,
  msg: OutMessage,
  expect: readonly R[],
  tier?: Tier,
): Promise<RouteResult> {
  const reply = await askService(deps, kind, msg, expect, tier);
  return { status: 200, body: reply.body };
}
