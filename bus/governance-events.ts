/**
 * What the governance actors (token authority, token renewer, budget monitor) do on the bus besides
 * request/reply: publish an event on the feed and in the audit stream at once, and consume the run
 * events of `gov.audit.run` through a durable consumer of their own.
 */
import type { Logger } from '../infra/logger.ts';
import type { MessageType } from '../protocols/catalog.ts';
import type { AnyEnvelope, Envelope, OutMessage } from '../protocols/envelope.ts';
import { auditSubject } from '../protocols/subjects.ts';
import type { Bus } from './bus.ts';
import type { MessageInfo } from './durable-consumer.ts';
import { AUDIT_STREAM, ensureStreams, runEventsConsumer, streamDeclarations } from './streams.ts';

/**
 * Publishes one envelope on the JSON feed (`gov.obs.<tokens>`) and durably on
 * `gov.audit.<category>.<principal>` (same envelope id; the broker lets a connection name only itself). Resolves once the audit stream stored it.
 */
export async function publishFeedAndAudit<T extends MessageType>(
  bus: Bus,
  feed: [string, ...string[]],
  auditCategory: string,
  msg: OutMessage<T>,
): Promise<Envelope<T>> {
  const env = bus.wrap(msg);
  await publishEnvelopeFeedAndAudit(bus, feed, auditCategory, env);
  return env;
}

/**
 * The same for an envelope made earlier (`bus.wrap`), e.g. stored with the state that implies it:
 * published again after a crash, it keeps its id, so the stream and the ledger keep it once.
 */
export async function publishEnvelopeFeedAndAudit(
  bus: Bus,
  feed: [string, ...string[]],
  auditCategory: string,
  env: AnyEnvelope,
): Promise<void> {
  bus.publishFeed(feed, env);
  await bus.publishDurable(auditSubject(auditCategory, bus.principal()), env);
}

export type RunEventInfo = MessageInfo;

export interface RunEventConsumerOptions {
  durable: string;
  startFrom: 'new' | 'all';
  ackWaitMs: number;
  retryMs: number;
  log: Logger;
  /** The consumer ended without `stop()` (see EachOptions.onEnd): crash, to be started again. */
  onEnd?: (error: Error) => void;
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
    bus,
    streamDeclarations().filter((d) => d.name === AUDIT_STREAM),
  );
  const consumer = await bus.consumer(
    runEventsConsumer({
      durable: options.durable,
      ackWaitMs: options.ackWaitMs,
      startFrom: options.startFrom,
    }),
  );
  return consumer.each(
    (env): env is Envelope<'run.event.v1'> => env.type === 'run.event.v1',
    { retryMs: options.retryMs, log: options.log, onEnd: options.onEnd },
    handler,
  );
}
