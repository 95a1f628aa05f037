/**
 * Output that no stage waits for — run events, RESULTS stream acks — sent together one turn of the
 * event loop later (setImmediate), in the order it was deferred.
 *
 * nats.js flushes its buffer once per burst of publishes, and on the machines we measure each socket
 * write costs tens of µs (more than encoding a message). Events of a state write and the acks its
 * acknowledgement releases come in separate microtasks; deferred here they share one write, and
 * they leave after whatever the current turn put on the critical path (a state write, an assign).
 */
export class Outbox {
  private queue: Array<() => void> = [];

  /** Runs `fn` with everything else deferred in this turn, on the next turn. */
  defer(fn: () => void): void {
    this.queue.push(fn);
    if (this.queue.length === 1) setImmediate(() => this.flush());
  }

  /** Runs what is deferred now (a stop must not leave it behind). */
  flush(): void {
    const q = this.queue;
    this.queue = [];
    for (const fn of q) fn();
  }
}
