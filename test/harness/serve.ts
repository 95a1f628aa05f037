/**
 * A stand-in responder for tests and benches: serves a subject with a plain function, without an
 * actor around it (no mailbox, no heartbeats, no supervisor). Each message is decoded, validated,
 * handed to `handler` one at a time in arrival order and answered once with its return value (an ack
 * when it returns nothing); undecodable or unaccepted messages are dead-lettered and answered with
 * their typed error; a handler that throws answers with its error. Real actors use the runtime.
 */
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Bus, IncomingContext } from '../../bus/index.ts';
import type { MessageType } from '../../protocols/catalog.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import { UnhandledMessageError } from '../../protocols/vocabulary/errors.ts';

export type ServeHandler = (
  env: Envelope,
  ctx: IncomingContext,
) => Promise<OutMessage | undefined | void> | OutMessage | undefined | void;

export interface ServeOptions {
  queue?: string;
  /** Message types the handler accepts; anything else gets GOV_ERR_UNHANDLED_MESSAGE. */
  accepts?: readonly MessageType[];
}

export function serve(
  bus: Bus,
  subject: string,
  handler: ServeHandler,
  options: ServeOptions = {},
): Subscription {
  let chain = Promise.resolve();
  return bus.subscribeRaw(
    subject,
    (msg) => {
      chain = chain.then(() => dispatch(bus, msg, handler, options.accepts));
    },
    { queue: options.queue },
  );
}

async function dispatch(bus: Bus, msg: Msg, handler: ServeHandler, accepts?: readonly MessageType[]) {
  bus.metrics.inc('received');
  const decoded = bus.decode(msg.data);
  if (!decoded.ok) {
    bus.deadLetter(msg, decoded.error);
    bus.respondError(msg, decoded.error);
    return;
  }
  const env = decoded.env;
  if (accepts && !accepts.includes(env.type)) {
    const error = new UnhandledMessageError(`${msg.subject} does not handle ${env.type}`, {
      details: { type: env.type, accepts },
    });
    bus.metrics.inc(`rejected.${error.code}`);
    bus.deadLetter(msg, error);
    bus.respondError(msg, error);
    return;
  }
  try {
    const out = await handler(env, {
      subject: msg.subject,
      reply: msg.reply,
      headers: msg.headers,
      size: msg.data.length,
    });
    bus.respond(msg, out || { type: 'ack.v1', body: { ok: true } }, env);
  } catch (err) {
    bus.metrics.inc('handler.error');
    bus.respondError(msg, err);
  }
}
