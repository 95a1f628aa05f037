/**
 * Time, injected. Every timer in the system (heartbeats, 2 h token TTL, 30 min renewal,
 * budget windows, restart intensity periods) goes through a Clock so tests can run hours in milliseconds.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clear(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: number;
}

/** The wall clock. */
export const systemClock: Clock = (() => {
  let next = 1;
  const timers = new Map<number, NodeJS.Timeout>();
  return {
    now: () => Date.now(),
    setTimeout(fn, ms) {
      const id = next++;
      timers.set(
        id,
        setTimeout(() => {
          timers.delete(id);
          fn();
        }, ms),
      );
      return { id };
    },
    setInterval(fn, ms) {
      const id = next++;
      timers.set(id, setInterval(fn, ms));
      return { id };
    },
    clear(handle) {
      const t = timers.get(handle.id);
      if (t) {
        clearTimeout(t);
        clearInterval(t);
        timers.delete(handle.id);
      }
    },
  };
})();

interface ManualTimer {
  id: number;
  at: number;
  every: number | undefined;
  fn: () => void;
}

/**
 * A clock that moves only when told to. `advance(ms)` fires due timers in time order.
 *
 * @example
 * const clock = new ManualClock(0);
 * clock.setTimeout(() => fired = true, 7_200_000); // 2 h
 * clock.advance(7_200_000); // fired === true, instantly
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers = new Map<number, ManualTimer>();

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.current + Math.max(0, ms), every: undefined, fn });
    return { id };
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    const every = Math.max(1, ms);
    this.timers.set(id, { id, at: this.current + every, every, fn });
    return { id };
  }

  clear(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** Moves time forward, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let due: ManualTimer | undefined;
      for (const t of this.timers.values()) if (t.at <= target && (!due || t.at < due.at)) due = t;
      if (!due) break;
      this.current = due.at;
      if (due.every === undefined) this.timers.delete(due.id);
      else due.at += due.every;
      due.fn();
    }
    this.current = target;
  }

  /** Timers still pending. */
  pending(): number {
    return this.timers.size;
  }
}
