/**
 * The credential authority's messages to an actor's own inbox (actors/credentials): the runtime owns
 * the connection, so it takes them for every kind. A rekey is answered with the public key of a key
 * pair made here (the seed stays here); a renewed JWT replaces the connection's (a JWT for the new key
 * reconnects at once, so the old key can be revoked).
 */
import type { Msg } from '@nats-io/transport-node';
import type { Bus } from '../../bus/bus.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { toGovError } from '../../protocols/vocabulary/errors.ts';

export async function takeCredentialMessage(bus: Bus, log: Logger, m: Msg, env: Envelope): Promise<void> {
  try {
    const holder = bus.credential();
    if (!holder) throw new Error('this connection has no user JWT of its own to replace');
    if (env.type === 'credentials.rekey.v1') {
      bus.respond(m, { type: 'credentials.public-key.v1', body: { publicKey: holder.rekey() } }, env);
      return;
    }
    const how = await holder.replace((env as Envelope<'credentials.renewed.v1'>).body.jwt);
    log.info('credential replaced', { how });
    if (m.reply) bus.respond(m, { type: 'ack.v1', body: { ok: true } }, env);
  } catch (err) {
    const e = toGovError(err);
    bus.deadLetter(m, e);
    bus.respondError(m, e);
  }
}
