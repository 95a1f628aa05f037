/**
 * An actor's own view of the clock: every timer it sets is remembered, so that a kill can cancel them
 * all without the actor's help, as a process's death ends its timers. After `fence()` no timer of
 * this clock fires again and new ones are never armed.
 */
import type { Clock, TimerHandle } from '../../infra/clock.ts';

export class FencedClock implements Clock {
  private readonly live = new Map<number, TimerHandle>();
  private fenced = false;

  constructor(private readonly inner: Clock) {}

  now(): number {
    return this.inner.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    if (this.fenced) return DEAD_TIMER;
    const handle = this.inner.setTimeout(() => {
      this.live.delete(handle.id);
      if (!this.fenced) fn();
    }, ms);
    this.live.set(handle.id, handle);
    return handle;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    if (this.fenced) return DEAD_TIMER;
    const handle = this.inner.setInterval(() => {
      if (!this.fenced) fn();
    }, ms);
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
