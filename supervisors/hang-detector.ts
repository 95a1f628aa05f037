/**
 * A supervisor's hang detection: the pure HeartbeatWatchdog, one timer set for its next deadline, and
 * the supervisor's own connection. Heartbeats travel over the bus, so while the supervisor is cut off
 * from it (a nats-server restart) silence says nothing about the children: detection pauses, and once
 * the connection is back every child gets a grace to reconnect and beat before it can be declared hung.
 */
import type { Clock, TimerHandle } from '../infra/index.ts';
import { HeartbeatWatchdog } from './heartbeat-watchdog.ts';

export interface HangDetectorOptions {
  clock: Clock;
  missedBeats: number;
  /** How long after our connection came back a child may stay silent (its own reconnect takes time). */
  reconnectGraceMs: number;
  /** Called once per hung child (it is no longer watched). */
  onHung: (childId: string) => void;
}

export class HangDetector {
  private readonly watchdog: HeartbeatWatchdog;
  private timer: { handle: TimerHandle; at: number } | undefined;
  private busDown = false;
  private ended = false;

  constructor(private readonly options: HangDetectorOptions) {
    this.watchdog = new HeartbeatWatchdog(options.missedBeats);
  }

  /** Watches a child (just started) as if it had just beaten. */
  watch(childId: string, intervalMs: number): void {
    this.watchdog.watch(childId, intervalMs, this.options.clock.now());
    this.arm();
  }

  beat(childId: string, intervalMs?: number): void {
    this.watchdog.beat(childId, this.options.clock.now(), intervalMs);
  }

  unwatch(childId: string): void {
    this.watchdog.unwatch(childId);
  }

  /** Our connection to the bus is down: no child is declared hung until it is back. */
  busLost(): void {
    this.busDown = true;
    this.disarm();
  }

  /** Our connection is back: every watched child has `reconnectGraceMs` from now to beat again. */
  busBack(): void {
    if (!this.busDown) return;
    this.busDown = false;
    this.watchdog.pardon(this.options.clock.now(), this.options.reconnectGraceMs);
    this.arm();
  }

  /** Cancels the pending check (a later `watch` arms it again). */
  disarm(): void {
    if (this.timer) this.options.clock.clear(this.timer.handle);
    this.timer = undefined;
  }

  /** Stops for good: the supervisor is stopping. */
  end(): void {
    this.ended = true;
    this.disarm();
  }

  /**
   * Sets the timer for the earliest moment a child can become hung. Beats only move deadlines later,
   * so a beat never re-arms: the timer fires at the old deadline, finds the child alive and re-arms
   * for the new one (one timer fire per child per `missedBeats` intervals).
   */
  private arm(): void {
    if (this.ended || this.busDown) return;
    const at = this.watchdog.nextDeadline();
    if (at === undefined) return;
    if (this.timer && this.timer.at <= at) return;
    this.disarm();
    const { clock } = this.options;
    // +1: hung means silent for *more than* the threshold, and the clock has millisecond resolution.
    const delayMs = Math.max(1, at - clock.now() + 1);
    const handle = clock.setTimeout(() => {
      // Confirmed one turn of the event loop later: a timer that fires after this process stalled
      // (a loaded machine) finds every child silent, while their beats sit unread in the socket; the
      // turn reads them first. Without it, one stall of the chaos runner declared six services hung at once.
      this.timer = { handle: clock.setTimeout(() => this.check(), 0), at };
    }, delayMs);
    this.timer = { handle, at };
  }

  private check(): void {
    this.timer = undefined;
    if (this.busDown || this.ended) return;
    for (const childId of this.watchdog.hung(this.options.clock.now())) this.options.onHung(childId);
    this.arm();
  }
}
