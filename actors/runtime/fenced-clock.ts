/**
 * An actor's own view of the clock: every timer it sets is remembered, so that a kill can cancel them
 * all without the actor's help, as a process's death ends its timers. After `fence()` no timer of
 * this clock fires again and new ones are never armed. A timer callback that throws crashes its actor
 * (`onError`), never the host process it shares with others.
 */
import type { Clock, TimerHandle } from '../../infra/clock/clock.ts';

export class FencedClock implements Clock {
  private readonly live = new Map<number, TimerHandle>();
  private fenced = false;

  /** Where an exception thrown by a timer callback goes (the runtime crashes the actor with it). */
  onError: (err: unknown) => void = (err) => {
    throw err;
  };

  constructor(private readonly inner: Clock) {}

  private run(fn: () => void) {
    if (this.fenced) return;
    try {
      fn();
    } catch (err) {
      this.onError(err);
    }
  }

  now(): number {
    return this.inner.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    if (this.fenced) return DEAD_TIMER;
    const handle = this.inner.setTimeout(() => {
      this.live.delete(handle.id);
      this.run(fn);
    }, ms);
    this.live.set(handle.id, handle);
    return handle;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    if (this.fenced) return DEAD_TIMER;
    const handle = this.inner.setInterval(() => this.run(fn), ms);
    this.live.set(handle.id, handle);
    return handle;
  }

  clear(handle: TimerHandle): void {
    this.live.delete(handle.id);
    this.inner.clear(handle);
  }

  /** Timers armed and not yet fired or cleared. */
  pending(): number {
    return this.live.size;
  }

  /** Cancels every timer of this clock; later ones are never armed. */
  fence(): void {
    this.fenced = true;
    for (const h of this.live.values()) this.inner.clear(h);
    this.live.clear();
  }
}

const DEAD_TIMER: TimerHandle = { id: -1 };
