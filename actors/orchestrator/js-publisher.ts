/**
 * JetStream publishes with their acks tracked on one inbox subscription of our own.
 *
 * `js.publish` (and `kv.put`, built on it) is a NATS request: each call allocates a request
 * context, a timeout timer and three Error objects with stack traces (one of them only to reject an
 * already settled promise). On the orchestrator's hot path — one KV write and 3–4 audit publishes
 * per stage — that was a good share of its CPU. Here a publish is a plain PUB whose reply subject is
 * `<inbox>.<n>`; the stream's ack (or error, or the server's 503 "no responders" status) arrives on
 * the one wildcard subscription and settles the publish `n`. Timeouts are checked by one sweep timer.
 *
 * Semantics are those of `js.publish`: the promise resolves with the PubAck once the stream stored
 * the message, and rejects on a stream error, no responders (JetStream down) or no ack in time. A
 * `Nats-Msg-Id` header makes a retried publish land once (the stream's duplicate window).
 */
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Clock, TimerHandle } from '../../infra/clock.ts';
import { InternalError, NoRespondersError, TimeoutError } from '../../protocols/errors.ts';

export interface PubAckLite {
  stream: string;
  seq: number;
  duplicate?: boolean;
}

interface Pending {
  subject: string;
  expiresAt: number;
  resolve: (ack: PubAckLite) => void;
  reject: (err: unknown) => void;
}

const decoder = new TextDecoder();

export class JsPublisher {
  private readonly inbox: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<number, Pending>();
  private readonly sweeper: TimerHandle;
  private next = 0;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    sweepMs = Math.max(50, Math.min(1_000, Math.floor(timeoutMs / 4))),
  ) {
    this.inbox = createInbox();
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, m) => (err ? undefined : this.onAck(m)) });
    this.sweeper = clock.setInterval(() => this.sweep(), sweepMs);
  }

  /** Pending publishes (not acked yet). */
  get size(): number {
    return this.pending.size;
  }

  /** Publishes `data` to the stream that holds `subject`; `msgId` deduplicates retries. */
  publish(subject: string, data: Uint8Array, msgId?: string): Promise<PubAckLite> {
    return new Promise((resolve, reject) => {
      if (this.closed || this.nc.isClosed()) {
        reject(new InternalError(`cannot publish to ${subject}: the publisher is closed`));
        return;
      }
      const n = this.next++;
      let h: MsgHdrs | undefined;
      if (msgId !== undefined) {
        h = natsHeaders();
        h.set('Nats-Msg-Id', msgId);
      }
      this.pending.set(n, { subject, expiresAt: this.clock.now() + this.timeoutMs, resolve, reject });
      try {
        this.nc.publish(subject, data, { reply: `${this.inbox}.${n}`, ...(h ? { headers: h } : {}) });
      } catch (err) {
        this.pending.delete(n);
        reject(err);
      }
    });
  }

  private onAck(m: Msg) {
    const n = Number(m.subject.slice(this.inbox.length + 1));
    const p = this.pending.get(n);
    if (!p) return; // timed out already
    this.pending.delete(n);
    if (m.data.length === 0 && m.headers?.code === 503) {
      p.reject(new NoRespondersError(`no JetStream stream answers ${p.subject}`, { details: { subject: p.subject } }));
      return;
    }
    let ack: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = JSON.parse(decoder.decode(m.data));
    } catch (err) {
      p.reject(new InternalError(`unreadable JetStream ack for ${p.subject}`, { cause: err }));
      return;
    }
    if (ack.error || typeof ack.stream !== 'string' || ack.stream === '') {
      const e = ack.error;
      p.reject(
        new InternalError(`JetStream refused a publish to ${p.subject}: ${e?.description ?? 'invalid ack'}`, {
          details: { subject: p.subject, code: e?.code, errCode: e?.err_code },
        }),
      );
      return;
    }
    p.resolve({ stream: ack.stream, seq: ack.seq ?? 0, ...(ack.duplicate ? { duplicate: true } : {}) });
  }

  private sweep() {
    const now = this.clock.now();
    for (const [n, p] of this.pending) {
      if (p.expiresAt > now) continue;
      this.pending.delete(n);
      p.reject(new TimeoutError(`no JetStream ack for a publish to ${p.subject} within ${this.timeoutMs} ms`, { details: { subject: p.subject, timeoutMs: this.timeoutMs } }));
    }
  }

  /** Stops the sweep and the subscription; publishes still pending are rejected. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.clock.clear(this.sweeper);
    try {
      this.sub.unsubscribe();
    } catch {
      // connection already closed
    }
    for (const p of this.pending.values()) p.reject(new InternalError(`publish to ${p.subject} abandoned: the publisher is closed`));
    this.pending.clear();
  }
}
