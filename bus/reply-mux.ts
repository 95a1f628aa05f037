/**
 * Requests whose replies come back on one inbox subscription of our own: a request is a plain PUB
 * with reply subject `<inbox>.<n>`, settled by the reply to `n`, by the server's 503 "no responders"
 * status, or by one sweep timer when it is overdue.
 *
 * What `nc.request` does, minus its per-call cost: nats.js allocates a request context, a timeout
 * timer and three Error objects with stack traces per request (one only to reject an already
 * settled promise). The orchestrator makes several requests per stage (the run-state write, the
 * audit publishes, the assign), so that was a good share of its CPU. Errors are built here only
 * when a request fails.
 */
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import type { Clock, TimerHandle } from '../infra/clock/clock.ts';
import { BusClosedError, NoRespondersError, TimeoutError } from '../protocols/vocabulary/errors.ts';

interface Pending {
  subject: string;
  expiresAt: number;
  timeoutMs: number;
  resolve: (m: Msg) => void;
  reject: (err: unknown) => void;
}

export class ReplyMux {
  private readonly inbox: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<number, Pending>();
  private readonly sweeper: TimerHandle;
  private next = 0;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly clock: Clock,
    sweepMs: number,
  ) {
    // The connection's own inbox prefix: the broker lets each user read only its own (`_INBOX.<user>`).
    this.inbox = createInbox((nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, m) => (err ? undefined : this.onReply(m)) });
    this.sweeper = clock.setInterval(() => this.sweep(), sweepMs);
  }

  /** Requests not answered yet. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Publishes `data` to `subject` and resolves with the reply message. Rejects with
   * NoRespondersError (nobody listens), TimeoutError, or BusClosedError.
   */
  request(subject: string, data: Uint8Array, timeoutMs: number, headers?: MsgHdrs): Promise<Msg> {
    return new Promise((resolve, reject) => {
      if (this.closed || this.nc.isClosed()) {
        reject(new BusClosedError(`cannot send to ${subject}: the connection is closed`));
        return;
      }
      const n = this.next++;
      this.pending.set(n, { subject, expiresAt: this.clock.now() + timeoutMs, timeoutMs, resolve, reject });
      try {
        this.nc.publish(
          subject,
          data,
          headers ? { reply: `${this.inbox}.${n}`, headers } : { reply: `${this.inbox}.${n}` },
        );
      } catch (err) {
        this.pending.delete(n);
        reject(err);
      }
    });
  }

  private onReply(m: Msg) {
    const n = Number(m.subject.slice(this.inbox.length + 1));
    const p = this.pending.get(n);
    if (!p) return; // timed out already
    this.pending.delete(n);
    if (m.data.length === 0 && m.headers?.code === 503) {
      p.reject(
        new NoRespondersError(`no one is listening on ${p.subject}`, { details: { subject: p.subject } }),
      );
      return;
    }
    p.resolve(m);
  }

  private sweep() {
    const now = this.clock.now();
    for (const [n, p] of this.pending) {
      if (p.expiresAt > now) continue;
      this.pending.delete(n);
      p.reject(
        new TimeoutError(`no reply from ${p.subject} within ${p.timeoutMs} ms`, {
          details: { subject: p.subject, timeoutMs: p.timeoutMs },
        }),
      );
    }
  }

  /**
   * For a killed owner: stops the sweep and forgets the requests still pending without settling them
   * (nothing of a dead process resumes on an answer or a timeout).
   */
  abandon() {
    this.pending.clear();
    this.close();
  }

  /** Stops the sweep and the subscription; requests still pending are rejected. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.clock.clear(this.sweeper);
    try {
      this.sub.unsubscribe();
    } catch {
      // connection already closed
    }
    for (const p of this.pending.values())
      p.reject(new BusClosedError(`request to ${p.subject} abandoned: closing`));
    this.pending.clear();
  }
}
