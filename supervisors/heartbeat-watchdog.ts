/**
 * Pure bookkeeping of children's heartbeats. A child whose last sign of life is older than
 * `missedBeats × intervalMs` is hung (stopped with SIGSTOP, stuck in a loop, or cut off from the bus)
 * and its supervisor treats it as dead.
 */
export interface WatchedChild {
  intervalMs: number;
  lastSeenMs: number;
  /** Not hung before this, whatever its silence (set by `pardon`). */
  graceUntilMs?: number;
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

  /**
   * Silence until `nowMs + graceMs` says nothing about any child watched now (the bus between them and
   * us was down): none is hung before then, nor before its usual threshold counted from its last beat.
   */
  pardon(nowMs: number, graceMs: number): void {
    for (const c of this.children.values()) c.graceUntilMs = nowMs + graceMs;
  }

  unwatch(id: string): void {
    this.children.delete(id);
  }

  /** Children hung at `nowMs`; each is reported once (it is unwatched). */
  hung(nowMs: number): string[] {
    const out: string[] = [];
    for (const [id, c] of this.children) {
      if (nowMs > this.deadline(c)) out.push(id);
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
      const at = this.deadline(c);
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /** The last moment `c` may stay silent and still be alive. */
  private deadline(c: WatchedChild): number {
    return Math.max(c.lastSeenMs + this.missedBeats * c.intervalMs, c.graceUntilMs ?? 0);
  }

  lastSeen(id: string): number | undefined {
    return this.children.get(id)?.lastSeenMs;
  }
}
