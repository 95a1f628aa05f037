/**
 * Drives one agent's lifecycle machine (lifecycle-machine.ts): one event at a time, from the agent's
 * mailbox. The machine's hooks only record effects; after each transition the driver carries them out
 * (start or abort the task, report a violation, run the preflight), publishes and audits the change
 * (agent-reporter.ts), and persists the record when it changed (lifecycle-store.ts), with the audit
 * events not acknowledged yet (the reporter's outbox): they are published once that write landed. A lifecycle that
 * fails retries its bootstrap after `DEFAULT_BOOTSTRAP_RETRY_MS` while it has restarts left.
 */
import { createActor } from 'xstate';
import type { BusMetrics } from '../../bus/index.ts';
import type { Clock, Logger, TimerHandle } from '../../infra/index.ts';
import { TaskCancelledError, toGovError } from '../../protocols/index.ts';
import { type AgentOptions, DEFAULT_BOOTSTRAP_RETRY_MS } from './agent-options.ts';
import type { AgentReporter, Transition } from './agent-reporter.ts';
import {
  type LifecycleActor,
  type LifecycleEvent,
  type LifecycleSnapshot,
  type LifecycleState,
  lifecycleMachine,
  type PolicyViolation,
  type RejectedCommand,
  restoreLifecycle,
} from './lifecycle-machine.ts';
import type { LifecycleStore, PersistedAgent } from './lifecycle-store.ts';
import { preflightCheck } from './preflight.ts';
import { type AssignEnvelope, type TaskHost, taskRef } from './task-host.ts';

/** What the lifecycle hooks ask for; carried out by the driver after the transition. */
type Effect =
  | { kind: 'preflight' }
  | { kind: 'start-task' }
  | { kind: 'abort-task'; reason: string }
  | { kind: 'violation'; violation: PolicyViolation }
  | { kind: 'rejected'; rejection: RejectedCommand }
  | { kind: 'release' };

export interface DispatchMeta {
  /** The assignment that caused an ASSIGN_TASK. */
  request?: AssignEnvelope;
  reason?: string;
}

export interface LifecycleDriverDeps {
  agentId: string;
  opts: AgentOptions;
  store: LifecycleStore;
  reporter: AgentReporter;
  tasks: TaskHost;
  clock: Clock;
  log: Logger;
  metrics: BusMetrics;
  /** Names the preflight's probe file (unique to this agent incarnation). */
  probeName: string;
  /** Asks the agent's mailbox to retry the bootstrap (so the retry is serialized with everything else). */
  retryBootstrap(): void;
}

export class LifecycleDriver {
  /** Times this agent was started again from its persisted record. */
  restarts = 0;
  private lifecycle!: LifecycleActor;
  private effects: Effect[] = [];
  private retryTimer: TimerHandle | undefined;
  private lastPersisted = '';
  private stopped = false;

  constructor(private readonly deps: LifecycleDriverDeps) {}

  /** Rebuilds the lifecycle from its persisted record: restarts + 1, a RESTORE transition, persisted. */
  async restore(record: PersistedAgent): Promise<void> {
    this.restarts = record.restarts + 1;
    this.lifecycle = restoreLifecycle(record.snapshot, this.machine());
    this.lifecycle.start();
    const state = this.stateName();
    this.emitTransition({ from: state, to: state, event: 'RESTORE', reason: `restart ${this.restarts}` });
    await this.persist();
  }

  /** Starts a fresh lifecycle and bootstraps it. */
  async create(): Promise<void> {
    const { agentId, opts } = this.deps;
    this.lifecycle = createActor(this.machine(), {
      input: { agentId, tier: opts.tier, team: opts.team, role: opts.role, maxRestarts: opts.maxRestarts },
    });
    this.lifecycle.start();
    await this.persist();
    await this.dispatch({ type: 'BOOTSTRAP' }, { reason: 'start' });
  }

  snapshot(): LifecycleSnapshot {
    return this.lifecycle.getSnapshot();
  }

  stateName(): LifecycleState {
    return this.snapshot().value as LifecycleState;
  }

  /**
   * Sends one event to the lifecycle, then: carries out the hooks' effects, publishes and audits the
   * transition, persists, and runs a requested preflight (which dispatches its own outcome).
   */
  async dispatch(event: LifecycleEvent, meta: DispatchMeta = {}): Promise<{ rejections: RejectedCommand[] }> {
    const before = this.snapshot();
    this.effects = [];
    this.lifecycle.send(event);
    const after = this.snapshot();
    const { rejections, preflight } = this.carryOut(this.effects.splice(0), meta);
    const from = String(before.value);
    const to = String(after.value);
    if (from !== to || before.context.tier !== after.context.tier) {
      this.emitTransition({
        from,
        to,
        event: event.type,
        fromTier: before.context.tier,
        reason: meta.reason,
      });
    }
    await this.persist();
    if (preflight) await this.runPreflight();
    if (to === 'failed' && from !== 'failed') this.scheduleBootstrapRetry();
    return { rejections };
  }

  /** Runs the preflight and dispatches its outcome (PREFLIGHT_OK or PREFLIGHT_FAILED). */
  async runPreflight(): Promise<void> {
    const error = await preflightCheck({
      opts: this.deps.opts,
      pingStore: () => this.deps.store.ping(),
      probeName: this.deps.probeName,
    });
    if (error) {
      this.deps.log.warn('preflight failed', { code: error.code, error: error.message });
      await this.dispatch(
        { type: 'PREFLIGHT_FAILED', error: { code: error.code, message: error.message } },
        { reason: error.message },
      );
    } else {
      await this.dispatch({ type: 'PREFLIGHT_OK' }, { reason: 'preflight passed' });
    }
  }

  scheduleBootstrapRetry(): void {
    const c = this.snapshot().context;
    if (this.stopped || c.restarts >= c.maxRestarts) return;
    this.clearRetry();
    this.retryTimer = this.deps.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) this.deps.retryBootstrap();
    }, DEFAULT_BOOTSTRAP_RETRY_MS);
  }

  clearRetry(): void {
    if (this.retryTimer) this.deps.clock.clear(this.retryTimer);
  }

  /** No bootstrap retry from now on. */
  halt(): void {
    this.stopped = true;
    this.clearRetry();
  }

  /** Writes the record when it changed. A failed write is logged and counted; the next change retries. */
  async persist(): Promise<void> {
    // The record carries the audit outbox: events are stored with the state that implies them.
    const { reporter } = this.deps;
    const { fields, fresh } = reporter.forWrite();
    const rec = { ...this.record(), ...fields };
    const key = JSON.stringify({ ...rec, savedAt: 0 });
    if (key === this.lastPersisted) return reporter.notWritten(fresh);
    try {
      await this.deps.store.save(rec);
      this.lastPersisted = key;
      reporter.written(fresh);
    } catch (err) {
      reporter.notWritten(fresh);
      this.deps.metrics.inc('agent.persist.failed');
      this.deps.log.warn('could not persist the lifecycle', { error: toGovError(err).message });
    }
  }

  private machine() {
    const push = (e: Effect) => this.effects.push(e);
    return lifecycleMachine.provide({
      actions: {
        runPreflight: () => push({ kind: 'preflight' }),
        startTask: () => push({ kind: 'start-task' }),
        abortTask: (_, p) => push({ kind: 'abort-task', reason: p.reason }),
        reportPolicyViolation: (_, p) => push({ kind: 'violation', violation: p }),
        rejectCommand: (_, p) => push({ kind: 'rejected', rejection: p }),
        tierChanged: () => {},
        releaseResources: () => push({ kind: 'release' }),
      },
    });
  }

  /** Carries out the hooks' effects; a requested preflight is left to the caller, after persisting. */
  private carryOut(
    effects: Effect[],
    meta: DispatchMeta,
  ): { rejections: RejectedCommand[]; preflight: boolean } {
    const { tasks, reporter } = this.deps;
    const rejections: RejectedCommand[] = [];
    let preflight = false;
    for (const e of effects) {
      switch (e.kind) {
        case 'violation':
          reporter.violation(e.violation, meta.request?.body);
          break;
        case 'rejected':
          rejections.push(e.rejection);
          break;
        case 'abort-task':
          tasks.abort(
            tasks.current,
            new TaskCancelledError(`task aborted: agent ${e.reason}`, { details: { reason: e.reason } }),
          );
          break;
        case 'start-task':
          if (meta.request) tasks.start(meta.request);
          break;
        case 'release':
          tasks.abort(tasks.current, new TaskCancelledError('task aborted: agent terminated'));
          this.clearRetry();
          break;
        case 'preflight':
          preflight = true;
          break;
      }
    }
    return { rejections, preflight };
  }

  private record(): PersistedAgent {
    const r = this.deps.tasks.current;
    return {
      v: 1,
      agentId: this.deps.agentId,
      snapshot: this.lifecycle.getPersistedSnapshot(),
      restarts: this.restarts,
      task: r
        ? { ...taskRef(r.request.body), replyTo: r.request.body.replyTo, kind: r.request.body.task.kind }
        : null,
      savedAt: this.deps.clock.now(),
    };
  }

  private emitTransition(t: Transition): void {
    this.deps.reporter.transition(t, this.snapshot().context, this.restarts);
  }
}
