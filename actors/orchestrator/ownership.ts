/**
 * Ownership and recovery: every stored live run has one owner, the orchestrator instance that drives
 * it. A run is found in memory or the store (`locate`); a run whose owner no longer answers is adopted
 * (compare-and-set on the store, so of two adopters one wins); at start, and when another instance
 * exits, our own stored runs are resumed and orphans adopted, then child runs reconciled.
 */
import { NoRespondersError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox } from '../../protocols/subjects.ts';
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { ActorContext } from '../runtime/actor-kind.ts';
import { DEFAULT_OWNER_PING_TIMEOUT_MS } from './options.ts';
import { isTerminalRun, type RunRecord } from './run-machine.ts';
import type { RunStore } from './run-store.ts';
import type { RunView } from './run-view.ts';

/** What ownership asks of the rest of the orchestrator. */
export interface OwnershipHooks {
  /** Takes a stored run into memory and carries on from its stored state. */
  resume(run: RunRecord): void;
  /** A stored finished run with nothing pending, read at start (its record's retention restarts from it). */
  retired(run: RunRecord): void;
  reconcileChildren(): Promise<void>;
  requestPump(): void;
}

export type Located = { run: RunRecord; where: 'here' | 'stored' | 'elsewhere' };

export class Ownership {
  constructor(
    private readonly ctx: ActorContext,
    private readonly view: RunView,
    private readonly store: RunStore,
    private readonly hooks: OwnershipHooks,
  ) {}

  /**
   * The run, from memory or the store. A stored live run owned by an orchestrator that no longer
   * answers (or by us, before a restart) is adopted; one owned by a live orchestrator is reported
   * as `elsewhere` so the caller can forward to it.
   */
  async locate(runId: string): Promise<Located | undefined> {
    const mine = this.view.get(runId);
    if (mine) return { run: mine, where: 'here' };
    const stored = await this.store.get(runId);
    if (!stored) return undefined;
    if (isTerminalRun(stored.status)) return { run: stored, where: 'stored' };
    if (stored.owner !== this.ctx.id && (await this.ownerAlive(stored.owner)))
      return { run: stored, where: 'elsewhere' };
    const adopted =
      stored.owner === this.ctx.id ? stored : await this.store.claim(runId, stored.owner, this.ctx.id);
    if (!adopted) return this.locate(runId);
    this.hooks.resume(adopted);
    return { run: this.view.get(runId) ?? adopted, where: 'here' };
  }

  async ownerAlive(owner: string): Promise<boolean> {
    try {
      await this.ctx.bus.ask(
        actorInbox(ACTOR_KIND.orchestrator, owner),
        { type: 'actor.ping.v1', body: {} },
        { timeoutMs: DEFAULT_OWNER_PING_TIMEOUT_MS },
      );
      return true;
    } catch (err) {
      return !(err instanceof NoRespondersError);
    }
  }

  /**
   * Resumes our own runs at once (at start only) and adopts runs whose owner is gone.
   *
   * Once running, every run we own is in memory until its end is stored, so a later recovery (another
   * instance exited) leaves our own runs alone: the listing it reads may predate a run's end, and
   * taking that stale record back would dispatch stages that already ran.
   */
  async recover(opts: { atStart: boolean }): Promise<void> {
    const all = await this.store.all();
    const active = all.filter((r) => !isTerminalRun(r.status));
    if (opts.atStart) {
      for (const run of active) if (run.owner === this.ctx.id) this.hooks.resume(run);
      // Finished runs whose last events the audit stream may not have acknowledged (a SIGKILL between
      // the write and the acks): published again under the same ids, so the ledger holds them once.
      for (const run of all)
        if (isTerminalRun(run.status) && (run.outbox?.length ?? 0) > 0) this.hooks.resume(run);
      const retired = all.filter((r) => isTerminalRun(r.status) && (r.outbox?.length ?? 0) === 0);
      retired.sort((a, b) => (a.finishedAt ?? a.createdAt) - (b.finishedAt ?? b.createdAt));
      for (const run of retired) this.hooks.retired(run);
    }
    for (const run of active) {
      if (run.owner === this.ctx.id || this.view.has(run.runId)) continue;
      if (await this.ownerAlive(run.owner)) continue;
      const adopted = await this.store.claim(run.runId, run.owner, this.ctx.id);
      if (adopted) this.hooks.resume(adopted);
    }
    await this.hooks.reconcileChildren();
    this.hooks.requestPump();
  }
}
