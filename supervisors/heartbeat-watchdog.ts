/**
 * Pure bookkeeping of children's heartbeats. A child whose last sign of life is older than
 * `missedBeats × intervalMs` is hung (stopped with SIGSTOP, stuck in a loop, or cut off from the bus)
 * and its supervisor treats it as dead.
 */
export interface WatchedChild {
  intervalMs: number;
  lastSeenMs: number;
}

export class HeartbeatWatchdog {
  private readonly children = new Map<string, WatchedChild>();

  constructor(private readonly missedBeats: number) {}

  /** Starts watching (or re-arms) a child from `nowMs`, as if it had just beaten. */
  watch(id: string, intervalMs: number, nowMs: number): void {
    this.children.set(id, { intervalMs, lastSeenMs: nowMs });
  }

  beat(id: string, nowMs: number, intervalMs?: number): void {
    const c = this.children.get(id);
    if (!c) return;
    c.lastSeenMs = nowMs;
    if (intervalMs) c.intervalMs = intervalMs;
  }

  unwatch(id: string): void {
    this.children.delete(id);
  }

  /** Children hung at `nowMs`; each is reported once (it is unwatched). */
  hung(nowMs: number): string[] {
    const out: string[] = [];
    for (const [id, c] of this.children) {
      if (nowMs - c.lastSeenMs > this.missedBeats * c.intervalMs) out.push(id);
    }
    for (const id of out) this.children.delete(id);
    return out;
  }

  /**
   * When the next child becomes hung if no beat arrives before then (undefined: nobody watched).
   * A supervisor sets one timer for this moment instead of polling, so detection lags a hang's
   * threshold by timer latency (about a millisecond), not by a polling period.
   */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const c of this.children.values()) {
      const at = c.lastSeenMs + this.missedBeats * c.intervalMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  lastSeen(id: string): number | undefined {
    return this.children.get(id)?.lastSeenMs;
  }
}
