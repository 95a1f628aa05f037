/**
 * Run events out of the hot path, without losing any: each `run.event.v1` goes on the JSON feed
 * `gov.obs.run.<runId>` at once and to the audit stream (`gov.audit.run`) as a tracked JetStream
 * publish that nobody awaits on the dispatch path.
 *
 * - Order: events of a run are published in the order they are given (feed and stream alike: one
 *   connection, published in sequence).
 * - Not lost: a failed or unacknowledged audit publish is retried (same envelope, same `Nats-Msg-Id`,
 *   so the stream stores it once) until it is acknowledged; retries go out in the original order.
 * - A run's terminal event (`run-succeeded` / `run-failed` / `run-cancelled`) reaches the feed only
 *   once every audit publish of that run (its own included) is acknowledged: a run reported finished
 *   is fully on the audit trail.
 * - `drain()` waits for every pending publish (the actor's stop awaits it, bounded).
 * - Off the critical path: events are encoded and published through the orchestrator's Outbox
 *   (outbox.ts), one turn of the event loop after the state change, with the stream acks of that turn,
 *   while the agent works on the assign that left first.
 */
import type { Bus } from '../../bus/bus.ts';
import type { Clock, TimerHandle } from '../../infra/clock/clock.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { isTerminalRunEvent } from '../../protocols/vocabulary/run-status.ts';
import { auditSubject } from '../../protocols/subjects.ts';
import type { JsPublisher } from '../../bus/index.ts';
import type { Outbox } from './outbox.ts';
import type { RunEventBody } from './run-machine.ts';

interface Audit {
  seq: number;
  runId: string;
  event: string;
  bytes: Uint8Array;
  msgId: string;
  tries: number;
  /** Called once the audit stream acknowledged it (the driver then drops it from the run's outbox). */
  onAcked?: () => void;
}

interface RunPending {
  count: number;
  /** Feed publishes held until the run's audits are acknowledged (its terminal event). */
  held: Uint8Array[];
}

export class RunEvents {
  /** `gov.audit.run.<principal>`: the broker lets this connection publish audit events only as itself. */
  private readonly subject: string;
  private readonly runs = new Map<string, RunPending>();
  private readonly retry = new Map<number, Audit>();
  private retryTimer: TimerHandle | undefined;
  private seq = 0;
  private pendingTotal = 0;
  private idle: Array<() => void> = [];
  private closed = false;
  /**
   * Events given to `publish`, wrapped but not sent yet. Their timestamp is the wrap's: `apply` publishes
   * once the state write that recorded the change is acknowledged, so it trails the state change by that
   * write's latency (it is not the time of the change itself).
   */
  private queued: Envelope<'run.event.v1'>[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly publisher: JsPublisher,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly retryMs: number,
    private readonly outbox: Outbox,
  ) {
    this.subject = auditSubject('run', bus.principal());
  }

  /** Audit publishes not acknowledged yet. */
  get pending(): number {
    return this.pendingTotal + this.queued.length;
  }

  /** How an agent wants its deliveries (the orchestrator's agent table), copied onto its stage events. */
  encodingOf: (agentId: string) => 'msgpack' | 'json' | undefined = () => undefined;

  publish(b: RunEventBody): void {
    this.publishEnvelope(this.wrap(b));
  }

  /** The envelope of a run event: its id is fixed here, before the state that implies it is stored. */
  wrap(event: RunEventBody): Envelope<'run.event.v1'> {
    let b = event;
    if (
      b.agentId !== undefined &&
      (b.event === 'stage-dispatched' || b.event === 'stage-accepted') &&
      this.encodingOf(b.agentId) === 'json'
    )
      b = { ...b, agentEncoding: 'json' };
    return this.bus.wrap({ type: 'run.event.v1', body: b, run: b.runId });
  }

  /** Publishes an envelope made by {@link wrap} (again, after a crash: the same id is stored once). */
  publishEnvelope(env: Envelope<'run.event.v1'>, onAcked?: () => void): void {
    if (onAcked) this.ackCallbacks.set(env.id, onAcked);
    this.queued.push(env);
    if (this.queued.length === 1) this.outbox.defer(() => this.sendQueued());
  }

  private readonly ackCallbacks = new Map<string, () => void>();

  private sendQueued(): void {
    const batch = this.queued;
    this.queued = [];
    for (const env of batch) this.sendNow(env);
  }

  private sendNow(env: Envelope<'run.event.v1'>): void {
    const b = env.body;
    let feed: Uint8Array;
    let bytes: Uint8Array;
    try {
      feed = this.bus.encode(env, 'json');
      bytes = this.bus.encode(env);
    } catch (err) {
      this.log.warn('run event not published', { runId: b.runId, event: b.event, error: String(err) });
      return;
    }
    let run = this.runs.get(b.runId);
    if (!run) {
      run = { count: 0, held: [] };
      this.runs.set(b.runId, run);
    }
    run.count++;
    this.pendingTotal++;
    if (isTerminalRunEvent(b.event) || run.held.length > 0) run.held.push(feed);
    else this.feed(b.runId, feed);
    this.send({
      seq: this.seq++,
      runId: b.runId,
      event: b.event,
      bytes,
      msgId: (env as Envelope).id,
      tries: 0,
      onAcked: this.takeCallback(env.id),
    });
  }

  private feed(runId: string, bytes: Uint8Array) {
    try {
      this.bus.publishFeed(['run', runId], bytes);
    } catch (err) {
      this.log.warn('run event not on the feed', { runId, error: String(err) });
    }
  }

  private send(a: Audit) {
    a.tries++;
    this.publisher.publish(this.subject, a.bytes, a.msgId).then(
      () => this.acked(a),
      (err: unknown) => {
        if (a.tries === 1 || a.tries % 10 === 0) {
          this.log.warn('run event not audited yet, will retry', {
            runId: a.runId,
            event: a.event,
            tries: a.tries,
            error: String(err),
          });
        }
        this.bus.metrics.inc('orchestrator.audit.retried');
        if (this.closed) return;
        this.retry.set(a.seq, a);
        this.retryTimer ??= this.clock.setTimeout(() => this.resend(), this.retryMs);
      },
    );
  }

  private resend() {
    this.retryTimer = undefined;
    const due = [...this.retry.values()].sort((x, y) => x.seq - y.seq);
    this.retry.clear();
    for (const a of due) this.send(a);
  }

  private takeCallback(id: string): (() => void) | undefined {
    const f = this.ackCallbacks.get(id);
    this.ackCallbacks.delete(id);
    return f;
  }

  private acked(a: Audit) {
    a.onAcked?.();
    this.pendingTotal--;
    const run = this.runs.get(a.runId);
    if (run && --run.count === 0) {
      this.runs.delete(a.runId);
      for (const f of run.held) this.feed(a.runId, f);
    }
    if (this.pendingTotal === 0) for (const f of this.idle.splice(0)) f();
  }

  /**
   * Resolves once every audit publish so far is acknowledged, or after `timeoutMs`; then publishes
   * feed events still held (so they are not lost) and stops retrying. Returns how many audits were
   * still unacknowledged.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.sendQueued();
    if (this.pendingTotal > 0) {
      let timer: TimerHandle | undefined;
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        timer = this.clock.setTimeout(resolve, timeoutMs);
      });
      if (timer) this.clock.clear(timer);
    }
    this.closed = true;
    if (this.retryTimer) this.clock.clear(this.retryTimer);
    this.retryTimer = undefined;
    const left = this.pendingTotal;
    if (left > 0) this.log.error('run events not audited at stop', { pending: left });
    for (const [runId, run] of this.runs) for (const f of run.held.splice(0)) this.feed(runId, f);
    return left;
  }
}
