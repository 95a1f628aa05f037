/**
 * The orchestrator's one way to do work later: every deferred pass, pump request and timer goes
 * through here, so the actor has a single place that orders them and a single place that stops them.
 *
 * - `later(fn)`: after the microtasks already queued, in call order, all in one pass.
 * - `requestPump()`: one dispatch pass on a microtask, however often it is asked for in a turn;
 *   `pumpNow()` runs it at once (a caller that wants its dispatches in the write it is building).
 *   The pump never re-enters itself: a request made while it runs is served by one more pass.
 * - `at(key, dueMs, fn)`: one timer per key (a run's next deadline or retry), re-armed by calling again.
 * - `after(ms, fn)` / `every(ms, fn)`: unkeyed timers, cleared on stop.
 */
import type { Clock, TimerHandle } from '../../infra/clock/clock.ts';

export class Scheduler {
  private readonly deferred: Array<() => void> = [];
  private readonly keyed = new Map<string, TimerHandle>();
  private readonly loose = new Set<TimerHandle>();
  private readonly intervals: TimerHandle[] = [];
  private pumpQueued = false;
  private pumping = false;
  private pumpAgain = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly pump: () => void,
  ) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Defers work to one pass after the microtasks already queued, in call order. */
  later(then: () => void): void {
    this.deferred.push(then);
    if (this.deferred.length > 1) return;
    queueMicrotask(() => {
      // Work deferred while this pass runs joins it.
      for (let i = 0; i < this.deferred.length; i++) this.deferred[i]!();
      this.deferred.length = 0;
    });
  }

  requestPump(): void {
    if (this.pumpQueued || this.stopped) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pumpNow();
    });
  }

  pumpNow(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.pump();
      } while (this.pumpAgain && !this.stopped);
    } finally {
      this.pumping = false;
    }
  }

  at(key: string, dueMs: number, fn: () => void): void {
    this.cancel(key);
    if (this.stopped) return;
    this.keyed.set(
      key,
      this.clock.setTimeout(
        () => {
          this.keyed.delete(key);
          fn();
        },
        Math.max(0, dueMs - this.clock.now()),
      ),
    );
  }

  cancel(key: string): void {
    const t = this.keyed.get(key);
    if (t === undefined) return;
    this.clock.clear(t);
    this.keyed.delete(key);
  }

  after(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = this.clock.setTimeout(() => {
      this.loose.delete(t);
      fn();
    }, ms);
    this.loose.add(t);
  }

  every(ms: number, fn: () => void): void {
    if (this.stopped) return;
    this.intervals.push(this.clock.setInterval(fn, ms));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.keyed.values()) this.clock.clear(t);
    this.keyed.clear();
    for (const t of this.loose) this.clock.clear(t);
    this.loose.clear();
    for (const t of this.intervals) this.clock.clear(t);
    this.intervals.length = 0;
  }
}
