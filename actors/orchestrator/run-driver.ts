/**
 * Drives runs through the reducer (run-machine.ts) and persists them: the one place where a run's new
 * state is stored and, only once it is, its events published and its effects carried out
 * (`commit`). Admission of a new run and the per-run deadline/retry timers live here too.
 *
 * Order on one run, by construction: a state write, then (when it is stored) its events in order, then
 * its effects; an assign leaves right behind the write that records it (RunStore.save's `onSent`).
 * Events of a change that needs no write of its own (an accept, a progress report) follow the run's
 * latest write in flight, so they never overtake the events of an earlier change.
 *
 * Transactional outbox: the events of a change get their envelope (and so their id) before the write,
 * and the write that stores the change also stores them (`RunRecord.outbox`, with every event id in
 * `auditIds`). They leave the outbox with the run's next write once the audit stream acknowledged them
 * (a finished run gets one last write for that). After a SIGKILL, whatever a stored record still holds
 * is published again under the same ids (`republish`): JetStream's Msg-Id window and the ledger's unique
 * event ids keep it once. So every event implied by a stored state reaches the ledger exactly once.
 */
import { jsonDigest } from '../ledger/index.ts';
import type { ActorContext } from '../runtime/actor-kind.ts';
import {
  type Effect,
  isInFlight,
  isTerminalRun,
  nextDueAt,
  type RunEventBody,
  waitExpired,
  type RunInput,
  type RunRecord,
  type RunEventEnvelope,
  step,
} from './run-machine.ts';
import type { RunEvents } from './run-events.ts';
import { pipelineSha256 } from './pipeline-source.ts';
import { runGovernance } from './run-governance.ts';
import type { RunStore } from './run-store.ts';
import type { RunView } from './run-view.ts';
import type { Scheduler } from './scheduler.ts';

/** What the driver asks of the rest of the orchestrator. */
export interface DriverHooks {
  /** Carries out one effect of a stored state. */
  perform(run: RunRecord, eff: Effect): void;
  /** The agent held by an attempt that was never stored is free again. */
  release(agentId: string, taskId: string): void;
  /** A run's state changed, or its retry pause ended: its ready stages may be dispatched. */
  noteRun(run: RunRecord): void;
  /** A finished run's last write (its outbox empty) is stored: nothing of it is pending any more. */
  retired(run: RunRecord): void;
}

export class RunDriver {
  /** runId → its latest state write (resolves once that state, or a newer one, is stored). */
  private readonly writes = new Map<string, Promise<void>>();
  /** Runs whose first write is in flight (admit). */
  private readonly admitting = new Set<string>();
  /** runId → events of stored (or being stored) changes the audit stream has not acknowledged. */
  private readonly unacked = new Map<string, RunEventEnvelope[]>();
  /** runId → every audit event id of its stored changes. */
  private readonly auditIds = new Map<string, string[]>();
  /** Finished runs whose outbox is not empty yet: their last write clears it. */
  private readonly finishing = new Map<string, RunRecord>();

  constructor(
    private readonly ctx: ActorContext,
    private readonly view: RunView,
    private readonly store: RunStore,
    private readonly events: RunEvents,
    private readonly scheduler: Scheduler,
    private readonly hooks: DriverHooks,
  ) {}

  private get now(): number {
    return this.ctx.clock.now();
  }

  /**
   * Applies one input to a run: the new state is stored, then its events and effects go out.
   * An accept or a progress report changes nothing anyone acts on, so its state is not written on its
   * own: it goes out with the next write (after a restart such a stage is still in flight either way).
   */
  apply(runId: string, input: RunInput): boolean {
    const run = this.view.get(runId);
    if (!run) return false;
    const s = step(run, input, this.now);
    if (!s.changed) return false;
    this.view.update(run, s.run);
    this.armTimer(s.run);
    this.hooks.noteRun(s.run);
    if ((input.type === 'accepted' || input.type === 'progress') && s.effects.length === 0) {
      this.publishAfterWrites(runId, s.events);
      return true;
    }
    this.commit(s.run, s.events, s.effects);
    this.scheduler.requestPump();
    return true;
  }

  /**
   * Stores a run's new state with the events and effects it produced: the events are published and the
   * effects carried out once that state is stored (assigns as soon as its write has left).
   */
  private commit(run: RunRecord, events: RunEventBody[], effects: Effect[]): void {
    const runId = run.runId;
    // The assign leaves right behind the state write that records it, without waiting for its ack
    // (see RunStore.save: same socket write, handled in order by nats-server): what has to wait for
    // the ack — events, the RESULTS ack of the result that led here, other effects — still does.
    const assigns = effects.filter((e) => e.kind === 'assign');
    const envelopes = this.track(
      runId,
      events.map((e) => withOutputDigest(run, e)),
    );
    if (isTerminalRun(run.status)) this.finishing.set(runId, run);
    const saved = this.store.save(
      this.storable(run),
      assigns.length === 0
        ? undefined
        : () => {
            for (const eff of assigns) this.hooks.perform(run, eff);
          },
    );
    this.writes.set(runId, saved);
    // The write stays the run's latest until its events are out, so later events queue behind them.
    const forget = () => {
      if (this.writes.get(runId) === saved) this.writes.delete(runId);
    };
    saved.then(
      () => {
        // Every change stored by the same write is carried out in one pass, in order.
        this.scheduler.later(() => {
          for (const env of envelopes) this.events.publishEnvelope(env, () => this.acked(runId, env.id));
          forget();
          for (const eff of effects) if (eff.kind !== 'assign') this.hooks.perform(run, eff);
        });
      },
      (err: unknown) => {
        forget();
        // A failed admission is answered to its requester (admit); any other failed write is fatal.
        if (!this.admitting.has(runId)) this.ctx.crash(err);
      },
    );
    // The record stays in the store (run.get / run.list); memory keeps only live runs.
    if (isTerminalRun(run.status)) void saved.then(() => this.view.finish(run, saved));
  }

  /** Events of a change that is not written on its own: after the run's writes in flight, in order. */
  private publishAfterWrites(runId: string, events: RunEventBody[]): void {
    const pending = this.writes.get(runId);
    if (pending === undefined) {
      for (const e of events) this.events.publish(e);
      return;
    }
    // Registered after the callbacks of that write (and of the run's earlier writes), so these events
    // follow theirs: a fast agent's accept never overtakes `run-accepted` or its `stage-dispatched`.
    pending.then(
      () => this.scheduler.later(() => this.publishAll(events)),
      () => {},
    );
  }

  private publishAll(events: RunEventBody[]): void {
    for (const e of events) this.events.publish(e);
  }

  /** Resolves once every change of the run made so far is stored (rejects if that write failed). */
  stored(runId: string): Promise<void> {
    return this.writes.get(runId) ?? Promise.resolve();
  }

  /** Starts the run's queued write now (see RunStore.sendNow). */
  sendNow(runId: string): void {
    this.store.sendNow(runId);
  }

  /**
   * Stores a new run, started and with its first stages dispatched, in one write; resolves once it is
   * stored (the caller then answers the request). Nothing is acted on before that write: its events
   * (`run-accepted` first) and assigns follow it. If the write fails the run is dropped and the
   * request fails, as if it had never been made.
   */
  async admit(run: RunRecord): Promise<void> {
    // A second admission of a run in memory would replace it and dispatch its stages again.
    if (this.view.has(run.runId)) return;
    this.view.set(run);
    this.admitting.add(run.runId);
    const accepted: RunEventBody = {
      runId: run.runId,
      event: 'run-accepted',
      governance: runGovernance(run.pipeline),
    };
    if (run.parentRunId !== undefined) accepted.parentRunId = run.parentRunId;
    const sha = pipelineSha256(run.pipeline);
    if (sha !== undefined) accepted.pipelineSha256 = sha;
    const [acceptedEnv] = this.track(run.runId, [accepted]);
    const stored = this.store.save(this.storable(run));
    this.writes.set(run.runId, stored);
    // Registered before the start's own continuation, so it is published first.
    stored.then(
      () => this.events.publishEnvelope(acceptedEnv!, () => this.acked(run.runId, acceptedEnv!.id)),
      () => {},
    );
    this.apply(run.runId, { type: 'start' });
    // Dispatch the first stages now, so they are stored in the same write as the run.
    this.scheduler.pumpNow();
    try {
      await stored;
    } catch (err) {
      this.abandon(run.runId);
      throw err;
    } finally {
      this.admitting.delete(run.runId);
    }
  }

  /** Forgets a run whose admission could not be stored: its dispatches were never carried out. */
  private abandon(runId: string) {
    this.unacked.delete(runId);
    this.auditIds.delete(runId);
    const run = this.view.drop(runId);
    this.scheduler.cancel(runId);
    for (const st of Object.values(run?.stages ?? {}))
      if (st.taskId && st.agentId !== undefined) this.hooks.release(st.agentId, st.taskId);
    this.scheduler.requestPump();
  }

  /** Takes a stored run back into memory and carries on from its last stored state. */
  resume(stored: RunRecord, expect: (agentId: string, taskId: string) => void): void {
    if (this.view.has(stored.runId)) return;
    if (isTerminalRun(stored.status)) {
      this.republish(stored);
      return;
    }
    const run = this.republish(stored);
    this.view.adopt(run);
    for (const st of Object.values(run.stages))
      if (isInFlight(st.status) && st.taskId && st.agentId !== undefined && st.childRunId === undefined)
        expect(st.agentId, st.taskId);
    this.apply(run.runId, { type: run.status === 'pending' ? 'start' : 'resume' });
    this.armTimer(this.view.get(run.runId)!);
  }

  /**
   * Publishes again what a stored record's outbox still holds (a crash came between its write and the
   * stream's acks), under the same ids, and takes over its audit bookkeeping. Returns the record without
   * the outbox fields (the live form). A finished run gets the write that empties its outbox once acked.
   */
  republish(stored: RunRecord): RunRecord {
    const { outbox = [], auditIds = [], ...run } = stored;
    const runId = run.runId;
    this.auditIds.set(runId, [...auditIds]);
    this.unacked.set(runId, [...outbox]);
    if (isTerminalRun(run.status) && outbox.length > 0) this.finishing.set(runId, run);
    for (const env of outbox) this.events.publishEnvelope(env, () => this.acked(runId, env.id));
    if (outbox.length > 0) this.ctx.bus.metrics.inc('orchestrator.outbox.republished', outbox.length);
    return run;
  }

  /** Envelopes for a change's events, entered into the run's outbox before its write. */
  private track(runId: string, events: RunEventBody[]): RunEventEnvelope[] {
    const envs = events.map((e) => this.events.wrap(e));
    if (envs.length === 0) return envs;
    const ids = this.auditIds.get(runId) ?? [];
    const pending = this.unacked.get(runId) ?? [];
    for (const env of envs) {
      ids.push(env.id);
      pending.push(env);
    }
    this.auditIds.set(runId, ids);
    this.unacked.set(runId, pending);
    return envs;
  }

  /** The record as stored: the state with its outbox and audit ids. */
  private storable(run: RunRecord): RunRecord {
    const outbox = this.unacked.get(run.runId) ?? [];
    return { ...run, outbox: [...outbox], auditIds: [...(this.auditIds.get(run.runId) ?? [])] };
  }

  private acked(runId: string, id: string): void {
    const pending = this.unacked.get(runId);
    if (!pending) return;
    const i = pending.findIndex((e) => e.id === id);
    if (i >= 0) pending.splice(i, 1);
    if (pending.length > 0) return;
    const finished = this.finishing.get(runId);
    if (!finished) return;
    // The run's last write: its outbox is empty; nothing of the run is kept in memory after it.
    this.finishing.delete(runId);
    const last = this.storable(finished);
    this.unacked.delete(runId);
    this.auditIds.delete(runId);
    this.store.save(last).then(
      () => this.hooks.retired(last),
      (err: unknown) =>
        this.ctx.log.warn('finished run outbox not cleared (republished, once, after a restart)', {
          runId,
          error: String(err),
        }),
    );
  }

  /** A finished run's timer goes (its `finished` effect). */
  disarm(runId: string): void {
    this.scheduler.cancel(runId);
  }

  private armTimer(run: RunRecord) {
    this.scheduler.cancel(run.runId);
    if (isTerminalRun(run.status) || this.scheduler.isStopped) return;
    const due = nextDueAt(run, this.now);
    if (due === undefined) return;
    this.scheduler.at(run.runId, due, () => this.onDue(run.runId));
  }

  private onDue(runId: string) {
    const run = this.view.get(runId);
    if (!run) return;
    const now = this.now;
    for (const st of Object.values(run.stages)) {
      if (isInFlight(st.status) && st.deadline !== undefined && st.deadline <= now && st.taskId) {
        this.apply(runId, { type: 'timeout', taskId: st.taskId });
      }
    }
    // Stages no agent took within their schedule-to-start bound: the attempt fails and counts.
    const current = this.view.get(runId);
    if (current)
      for (const stageId of waitExpired(current, now))
        this.apply(runId, { type: 'schedule-timeout', stageId });
    const latest = this.view.get(runId);
    if (latest) {
      this.armTimer(latest);
      this.hooks.noteRun(latest);
    }
    this.scheduler.requestPump();
  }
}

/** A stage-succeeded event carries the digest of the stage output (evidence packages list it). */
function withOutputDigest(run: RunRecord, e: RunEventBody): RunEventBody {
  if (e.event !== 'stage-succeeded' || e.stageId === undefined) return e;
  const output = run.stages[e.stageId]?.output;
  if (output === undefined) return e;
  try {
    return { ...e, outputDigest: jsonDigest(output) };
  } catch {
    return e; // not JSON (cannot happen for a decoded result): the event goes without a digest
  }
}
