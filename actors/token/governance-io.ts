/**
 * I/O shared by the governance actors (token authority, token renewer, budget monitor):
 * publishing an event on the feed and in the audit stream at once, a per-key lock, and the durable
 * JetStream consumer of run events (`gov.audit.run`).
 */
import type { ConsumerMessages } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Bus, IncomingContext } from '../../bus/index.ts';
import {
  AUDIT_STREAM,
  ensureConsumer,
  ensureStreams,
  runEventsConsumer,
  streamDeclarations,
} from '../../bus/index.ts';
import type { Logger } from '../../infra/index.ts';
import type { MessageType } from '../../protocols/index.ts';
import type { Envelope, OutMessage } from '../../protocols/index.ts';
import { errorToHeaders } from '../../protocols/index.ts';
import type { ActorContext } from '../runtime/index.ts';
import { auditSubject, isSubjectToken, obsSubject } from '../../protocols/index.ts';
import type { StartFrom } from '../runtime/index.ts';

/**
 * Publishes one envelope on the JSON feed (`gov.obs.<tokens>`) and durably on `gov.audit.<category>`
 * (same envelope id). Resolves once the audit stream stored it.
 */
export async function publishGovernanceEvent<T extends MessageType>(
  bus: Bus,
  feed: [string, ...string[]],
  auditCategory: string,
  msg: OutMessage<T>,
): Promise<Envelope<T>> {
  const env = bus.wrap(msg);
  bus.nc.publish(obsSubject(...feed), bus.encode(env, 'json'));
  await bus.publishDurable(auditSubject(auditCategory), env);
  return env;
}

/** A feed token for a value that may not be one (an accessor from a foreign Vault, an odd run id). */
export function feedToken(value: string | undefined): string {
  return value && isSubjectToken(value) ? value : 'unknown';
}

/** Runs work for the same key one at a time (in call order); different keys run concurrently. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

export interface RunEventInfo {
  /** Stream sequence of the event in AUDIT (a ledger position). */
  seq: number;
  redelivered: boolean;
}

export interface RunEventConsumerOptions {
  durable: string;
  startFrom: StartFrom;
  ackWaitMs: number;
  retryMs: number;
  log: Logger;
}

/**
 * Consumes `run.event.v1` from `gov.audit.run` with a durable consumer of its own: events are
 * handled one at a time in stream order and acked (ack-ack) after the handler resolved, so a
 * restarted actor resumes where it stopped and misses nothing (at-least-once: handlers are idempotent).
 * A handler error naks the event for redelivery after `retryMs`.
 */
export async function consumeRunEvents(
  bus: Bus,
  options: RunEventConsumerOptions,
  handler: (env: Envelope<'run.event.v1'>, info: RunEventInfo) => Promise<void>,
): Promise<{ stop(): Promise<void> }> {
  await ensureStreams(
    bus.nc,
    streamDeclarations().filter((d) => d.name === AUDIT_STREAM),
  );
  await ensureConsumer(
    bus.nc,
    runEventsConsumer({
      durable: options.durable,
      ackWaitMs: options.ackWaitMs,
      startFrom: options.startFrom,
    }),
  );
  const consumer = await bus.jetstream().consumers.get(AUDIT_STREAM, options.durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 64 });
  const done = (async () => {
    for await (const m of messages) {
      const decoded = bus.decode(m.data);
      if (!decoded.ok || decoded.env.type !== 'run.event.v1') {
        options.log.warn('skipping an undecodable or foreign run event', { seq: m.seq });
        m.term();
        continue;
      }
      try {
        await handler(decoded.env as Envelope<'run.event.v1'>, { seq: m.seq, redelivered: m.redelivered });
        await m.ackAck().catch(() => m.ack());
      } catch (err) {
        options.log.warn('run event failed, will be redelivered', { seq: m.seq, error: String(err) });
        if (!bus.nc.isClosed()) m.nak(options.retryMs);
      }
    }
  })().catch((err) => options.log.warn('run event consumer ended', { error: String(err) }));
  return {
    async stop() {
      await messages.close();
      await done;
    },
  };
}

/**
 * Runs a handler whose failures are the asker's business, not a crash: the typed error is sent as
 * the reply (error headers, empty body) and the actor keeps running. The runtime's own reply that
 * follows is a second answer on the same inbox, which the asker never reads. Told messages that fail
 * are logged.
 */
export async function answerErrors(
  ctx: ActorContext,
  inc: IncomingContext,
  fn: () => Promise<OutMessage | undefined>,
): Promise<OutMessage | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (inc.reply) {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(errorToHeaders(err))) h.set(k, v);
      ctx.bus.nc.publish(inc.reply, new Uint8Array(0), { headers: h });
    } else {
      ctx.log.warn('told message failed', { subject: inc.subject, error: String(err) });
    }
    return undefined;
  }
}
