/**
 * Retention of finished run records: a run's record is removed from the runs bucket `retentionMs`
 * after it finished, once its last write (the one that empties its outbox) is stored. The ledger keeps
 * the run's whole audit trail for good (`agov ledger query --run`, evidence packages); the bucket is
 * the orchestrators' working state and `agov runs`' recent history, and without a bound it grew by
 * every run ever made (33 MB after 15 000 runs), read whole by every recovery.
 *
 * Runs finish in about the order of their `finishedAt`, so the schedule is a FIFO queue with one timer
 * for its head: O(1) per run. A restarted orchestrator schedules the finished records it reads at
 * start (removing at once what is already past its time); two instances removing the same record is
 * harmless (a finished run never changes again). Delete markers are purged from the bucket now and
 * then (`purgeEvery` removals), so they do not pile up either.
 *
 * Retention must exceed the longest a parent run may still ask about a finished child (a parent
 * reconciling its children after a restart reads their records).
 */
import type { Clock, TimerHandle } from '../../infra/index.ts';

const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RunRemover {
  /** Removes a finished run's record. */
  remove(runId: string): Promise<void>;
  /** Drops delete markers left by earlier removals. */
  purgeMarkers(): Promise<void>;
}

export interface RunRetentionOptions {
  retentionMs: number;
  /** A purge of delete markers after this many removals. */
  purgeEvery: number;
}

export class RunRetention {
  private readonly due: { runId: string; at: number }[] = [];
  private head = 0;
  private timer: TimerHandle | undefined;
  private removedSincePurge = 0;
  private stopped = false;
  private busy = false;

  constructor(
    private readonly clock: Clock,
    private readonly store: RunRemover,
    private readonly opts: RunRetentionOptions,
    private readonly onError: (runId: string | undefined, err: unknown) => void,
  ) {}

  /** Records scheduled and not removed yet. */
  get pending(): number {
    return this.due.length - this.head;
  }

  /** Schedules the removal of a run that finished at `finishedAt` (its last write is stored). */
  track(runId: string, finishedAt: number): void {
    if (this.stopped) return;
    this.due.push({ runId, at: finishedAt + this.opts.retentionMs });
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clear(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer !== undefined || this.busy || this.stopped || this.pending === 0) return;
    // Node's timers hold at most 2^31 - 1 ms (~24.8 days): a later deadline wakes once on the way.
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, this.due[this.head]!.at - this.clock.now()));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.sweep();
    }, wait);
  }

  private async sweep(): Promise<void> {
    this.busy = true;
    try {
      while (!this.stopped && this.pending > 0 && this.due[this.head]!.at <= this.clock.now()) {
        const { runId } = this.due[this.head++]!;
        try {
          await this.store.remove(runId);
          if (++this.removedSincePurge >= this.opts.purgeEvery) {
            this.removedSincePurge = 0;
            await this.store.purgeMarkers().catch((err: unknown) => this.onError(undefined, err));
          }
        } catch (err) {
          this.onError(runId, err); // kept: the next start's recovery schedules it again
        }
      }
      if (this.head > 1024 && this.head * 2 > this.due.length) {
        this.due.splice(0, this.head);
        this.head = 0;
      }
    } finally {
      this.busy = false;
      this.arm();
    }
  }
}
