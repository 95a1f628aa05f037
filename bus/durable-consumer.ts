/**
 * A durable JetStream pull consumer, opened through the bus (`bus.consumer(decl)`): the one way an
 * actor reads a stream. Three shapes, all of them at-least-once with explicit acks:
 *
 * - `each(handler)`: messages one at a time in stream order, acked (ack-ack) once the handler
 *   resolved, nak'd for redelivery after `retryMs` when it throws (governance actors' run events);
 * - `consume(callback)`: every message handed to a callback as it arrives; the owner acks when its
 *   work is durable (the ledger writer after fsync, the orchestrator once the state change is stored);
 * - `backlog(callback)`: what waited in the stream before we came, fetched in batches, then
 *   `consume` for the rest (the orchestrator takes the results that arrived while none ran).
 *
 * Acks on a closed connection are skipped (`settle`): unacked messages are delivered again after the
 * consumer's ack wait, which is what a crash would do anyway.
 */
import type { Consumer, ConsumerInfo, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../infra/logger.ts';
import type { Envelope } from '../protocols/envelope.ts';

export type { JsMsg };

/** What the consumer needs of its bus: decoding and whether the connection is gone. */
export interface ConsumerBus {
  decode(data: Uint8Array): { ok: true; env: Envelope } | { ok: false; error: unknown };
  isClosed(): boolean;
}

export interface EachOptions {
  /** Messages buffered ahead of the handler. */
  batch?: number;
  /** Pause before a message whose handler failed is delivered again. */
  retryMs: number;
  log: Logger;
  /**
   * Called once if the consumer ends without `stop()` (nats.js gave up on it: the connection closed, the
   * consumer or stream was deleted, a pull was refused). The owner should crash so its supervisor starts
   * it again; otherwise it would stay up and never see another message (a budget monitor that stopped
   * counting errors: failing runs never breached).
   */
  onEnd?: (error: Error) => void;
}

export interface MessageInfo {
  /** Stream sequence of the message (a ledger position for AUDIT). */
  seq: number;
  redelivered: boolean;
}

export interface Consuming {
  /** Resolves (with the error, if any) when the subscription ends for any reason. */
  closed(): Promise<Error | null | void>;
  /** Reports of the consumer's health (heartbeats missed, consumer or stream deleted). */
  onStatus(listener: (type: string) => void): void;
  stop(): Promise<void>;
}

export class DurableConsumer {
  constructor(
    private readonly bus: ConsumerBus,
    private readonly consumer: Consumer,
  ) {}

  info(): Promise<ConsumerInfo> {
    return this.consumer.info();
  }

  /** Hands every message to `callback` as it arrives; the callback acks. */
  async consume(batch: number, callback: (m: JsMsg) => void): Promise<Consuming> {
    const messages: ConsumerMessages = await this.consumer.consume({ max_messages: batch, callback });
    return consuming(messages);
  }

  /**
   * Fetches what is waiting in the stream now, in batches, handing each message to `callback`;
   * stops when nothing is left (or another instance of a shared consumer took it) or `stopped()`.
   */
  async backlog(
    batch: number,
    callback: (m: JsMsg) => void,
    stopped: () => boolean,
    expiresMs = 2_000,
  ): Promise<void> {
    let waiting = (await this.consumer.info()).num_pending;
    while (waiting > 0 && !stopped()) {
      const fetched = await this.consumer.fetch({
        max_messages: Math.min(waiting, batch),
        expires: expiresMs,
      });
      let got = 0;
      for await (const m of fetched) {
        got++;
        callback(m);
      }
      if (got === 0) break; // taken by another instance meanwhile
      waiting = (await this.consumer.info()).num_pending;
    }
  }

  /**
   * Handles messages one at a time in stream order, each decoded and acked after `handler` resolved;
   * an undecodable message (or one `accept` refuses) is terminated (never redelivered) and logged.
   */
  async each<E extends Envelope>(
    accept: (env: Envelope) => env is E,
    options: EachOptions,
    handler: (env: E, info: MessageInfo) => Promise<void>,
  ): Promise<{ stop(): Promise<void> }> {
    const messages: ConsumerMessages = await this.consumer.consume({ max_messages: options.batch ?? 64 });
    let stopping = false;
    const ended = (error: Error) => {
      options.log.warn('stream consumer ended', { error: String(error) });
      if (!stopping) options.onEnd?.(error);
    };
    const done = (async () => {
      for await (const m of messages) {
        const decoded = this.bus.decode(m.data);
        if (!decoded.ok || !accept(decoded.env)) {
          options.log.warn('skipping an undecodable or foreign stream message', { seq: m.seq });
          m.term();
          continue;
        }
        try {
          await handler(decoded.env, { seq: m.seq, redelivered: m.redelivered });
          // One ack per delivery: the broker lets a consumer answer a delivery's ack subject once
          // (protocols/permissions.ts, the response permission), so a second ack after a failed ack-ack
          // was only ever refused. An ack that did not land means a redelivery, deduplicated by event id.
          await m.ackAck().catch((err: unknown) =>
            options.log.warn('ack not confirmed; the message may be delivered again', {
              seq: m.seq,
              error: String(err),
            }),
          );
        } catch (err) {
          options.log.warn('stream message failed, will be redelivered', { seq: m.seq, error: String(err) });
          this.settle(options.log, () => m.nak(options.retryMs));
        }
      }
    })().then(
      () => ended(new Error('the stream consumer stopped')),
      (err: unknown) => ended(err instanceof Error ? err : new Error(String(err))),
    );
    return {
      async stop() {
        stopping = true;
        await messages.close();
        await done;
      },
    };
  }

  /** Runs an ack/nak unless the connection is gone (then the ack wait redelivers the message). */
  settle(log: Logger, fn: () => void): void {
    if (this.bus.isClosed()) return;
    try {
      fn();
    } catch (err) {
      log.warn('stream ack not sent', { error: String(err) });
    }
  }
}

function consuming(messages: ConsumerMessages): Consuming {
  return {
    closed: () => messages.closed(),
    onStatus(listener) {
      void (async () => {
        for await (const s of messages.status()) listener(s.type);
      })().catch(() => {});
    },
    async stop() {
      await messages.close();
    },
  };
}
