/**
 * JetStream publishes with their acks tracked on the bus's reply inbox (bus/reply-mux.ts).
 *
 * `js.publish` (and `kv.put`, built on it) is a NATS request with nats.js's per-request cost; the
 * orchestrator makes one run-state write and 3–4 audit publishes per stage. Here a publish is a
 * plain PUB to the stream's subject with a reply subject; the stream's ack settles it.
 *
 * Semantics are those of `js.publish`: the promise resolves with the PubAck once the stream stored
 * the message, and rejects on a stream error, no responders (no stream or JetStream down) or no ack
 * in time. A `Nats-Msg-Id` makes a retried publish land once (the stream's duplicate window).
 */
import { headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { InternalError } from '../protocols/vocabulary/errors.ts';
import type { ReplyMux } from './reply-mux.ts';

export interface PubAckLite {
  stream: string;
  seq: number;
  duplicate?: boolean;
}

const decoder = new TextDecoder();

export class JsPublisher {
  constructor(
    private readonly mux: ReplyMux,
    private readonly timeoutMs: number,
  ) {}

  /** Publishes `data` to the stream that holds `subject`; `msgId` deduplicates retries. */
  async publish(subject: string, data: Uint8Array, msgId?: string): Promise<PubAckLite> {
    let h: ReturnType<typeof natsHeaders> | undefined;
    if (msgId !== undefined) {
      h = natsHeaders();
      h.set('Nats-Msg-Id', msgId);
    }
    return readAck(subject, await this.mux.request(subject, data, this.timeoutMs, h));
  }
}

function readAck(subject: string, m: Msg): PubAckLite {
  let ack: {
    stream?: string;
    seq?: number;
    duplicate?: boolean;
    error?: { code?: number; err_code?: number; description?: string };
  };
  try {
    ack = JSON.parse(decoder.decode(m.data));
  } catch (err) {
    throw new InternalError(`unreadable JetStream ack for ${subject}`, { cause: err });
  }
  if (ack.error || typeof ack.stream !== 'string' || ack.stream === '') {
    const e = ack.error;
    throw new InternalError(`JetStream refused a publish to ${subject}: ${e?.description ?? 'invalid ack'}`, {
      details: { subject, code: e?.code, errCode: e?.err_code },
    });
  }
  return { stream: ack.stream, seq: ack.seq ?? 0, ...(ack.duplicate ? { duplicate: true } : {}) };
}
