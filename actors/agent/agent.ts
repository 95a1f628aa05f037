/**
 * The agent actor (kind `agent`): one governed agent, speaking the agent protocol
 * (protocols/messages/agent.ts, docs/agents.md).
 *
 * - Lifecycle: the XState machine of lifecycle-machine.ts, with its hooks provided here. Hooks only
 *   record effects; the agent carries them out after each transition, so every state change happens
 *   inside a mailbox handler, one at a time. Every transition is persisted to Redis/Dragonfly
 *   (lifecycle-store.ts), published on the feed `gov.obs.agent.<id>` (agent.transition.v1) and appended
 *   to the AUDIT stream (`gov.audit.agent.agent-<id>`, the ledger's verified sender).
 * - Start: a persisted lifecycle is restored (restarts + 1) and resumed: a task that was running is
 *   reported failed (retryable) to its replyTo; otherwise BOOTSTRAP → preflight (tier valid, store
 *   reachable, work dir writable) → idle. A failed preflight is retried while the lifecycle allows.
 * - Tasks: agent.task.assign.v1 is checked against the tier (refused with GOV_ERR_TIER_FORBIDDEN and a
 *   violation on `gov.obs.violation.<id>` + audit) and the state (busy / unavailable, retryable), then
 *   accepted at once and run off the mailbox; progress and exactly one result go to `replyTo`. The
 *   assignment's `timeoutMs` is enforced; agent.task.cancel.v1 aborts. Completion comes back through
 *   the mailbox (ctx.self) so the lifecycle stays serialized.
 * - Commands: agent.command.v1; promote / demote / release only from T2. Every command, applied or
 *   refused, is published (agent.command.outcome.v1) and audited before the reply.
 * - Status: agent.status.v1 → agent.state.v1; the same state rides in every heartbeat's `status`, and
 *   agent.register.v1 is published on `gov.agents.register` at start.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createActor } from 'xstate';
import type { IncomingContext } from '../../bus/index.ts';
import type { TimerHandle } from '../../infra/index.ts';
import type { BodyIn } from '../../protocols/index.ts';
import type { AnyEnvelope, Envelope, OutMessage } from '../../protocols/index.ts';
import {
  ActorCrashedError,
  ActorStoppedError,
  AgentBusyError,
  AgentUnavailableError,
  ConfigError,
  type GovError,
  InternalError,
  InvalidTransitionError,
  PolicyViolationError,
  serializeError,
  TaskCancelledError,
  TierForbiddenError,
  toGovError,
} from '../../protocols/index.ts';
import { ACTOR_KIND } from '../../protocols/index.ts';
import { agentAuditSubject, agentRegisterSubject } from '../../protocols/index.ts';
import type { ActorBehavior, ActorContext } from '../runtime/index.ts';
import { defineActorKind, type Refusal, refuse } from '../runtime/index.ts';
import {
  AgentArgsSchema,
  type AgentArgs,
  type AgentOptions,
  agentOptions,
  DEFAULT_AUDIT_TIMEOUT_MS,
  DEFAULT_BOOTSTRAP_RETRY_MS,
  DEFAULT_STORE_TIMEOUT_MS,
} from './agent-options.ts';
import {
  canAccept,
  type LifecycleActor,
  type LifecycleEvent,
  type LifecycleSnapshot,
  type LifecycleState,
  type LifecycleTask,
  lifecycleMachine,
  type PolicyViolation,
  type RejectedCommand,
  requiredTierForTask,
  restoreLifecycle,
  tierAllowsTask,
} from './lifecycle-machine.ts';
import { LifecycleStore, type PersistedAgent, type PersistedTaskRef } from './lifecycle-store.ts';
import { type AssignEnvelope, type RunningTask, TaskHost, taskRef } from './task-host.ts';
import { AGENT_TASK_KINDS } from './tasks/index.ts';
import { canPerform } from './tiers.ts';

type AgentStateBody = BodyIn<'agent.state.v1'>;
type CommandName = BodyIn<'agent.command.v1'>['command'];

/** What the lifecycle hooks ask for; carried out by the agent after the transition. */
type Effect =
  | { kind: 'preflight' }
  | { kind: 'start-task' }
  | { kind: 'abort-task'; reason: string }
  | { kind: 'violation'; violation: PolicyViolation }
  | { kind: 'rejected'; rejection: RejectedCommand }
  | { kind: 'release' };

interface DispatchMeta {
  /** The assignment that caused an ASSIGN_TASK. */
  request?: AssignEnvelope;
  reason?: string;
}

/** The agent actor kind. Start args: `AgentArgsSchema` (agent-options.ts). */
export const agentKind = defineActorKind({
  kind: ACTOR_KIND.agent,
  args: AgentArgsSchema,
  description:
    'a governed agent: persisted XState lifecycle, tiers, sandboxed task runners (noop, sleep, fail, exec, http)',
  async start(ctx) {
    const agent = new GovernedAgent(ctx, agentOptions(ctx.id, ctx.args));
    await agent.start();
    return agent.behavior();
  },
});

function commandEvent(
  command: CommandName,
  byTier: BodyIn<'agent.command.v1'>['byTier'],
  reason: string,
  at: number,
): LifecycleEvent {
  switch (command) {
    case 'promote':
      return { type: 'PROMOTE', byTier };
    case 'demote':
      return { type: 'DEMOTE', byTier };
    case 'release':
      return { type: 'RELEASE', byTier };
    case 'suspend':
      return { type: 'SUSPEND', reason };
    case 'resume':
      return { type: 'RESUME' };
    case 'quarantine':
      return { type: 'QUARANTINE', reason, at };
    case 'terminate':
      return { type: 'TERMINATE', reason };
  }
}

class GovernedAgent {
  private readonly id: string;
  private readonly redis: Redis;
  private readonly store: LifecycleStore;
  private lifecycle!: LifecycleActor;
  private effects: Effect[] = [];
  private readonly tasks: TaskHost;
  private restarts = 0;
  private readonly nonce = randomUUID();
  private readonly audits = new Set<Promise<void>>();
  private retryTimer: TimerHandle | undefined;
  private lastPersisted = '';
  private stopped = false;

  constructor(
    private readonly ctx: ActorContext<AgentArgs>,
    private readonly opts: AgentOptions,
  ) {
    this.id = ctx.id;
    this.redis = ctx.hold(
      new Redis(opts.redisUrl, {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        connectTimeout: DEFAULT_STORE_TIMEOUT_MS,
        commandTimeout: DEFAULT_STORE_TIMEOUT_MS,
      }),
      (r) => r.disconnect(),
    );
    this.redis.on('error', (err: Error) =>
      ctx.log.debug('lifecycle store connection error', { error: err.message }),
    );
    this.store = new LifecycleStore(this.redis, opts.keyPrefix);
    this.tasks = new TaskHost({
      agentId: this.id,
      bus: ctx.bus,
      clock: ctx.clock,
      log: ctx.log,
      opts,
      tier: () => this.snapshot().context.tier,
      onSettled: (taskId) =>
        ctx.self({ type: 'agent.internal.v1', body: { event: 'task-finished', nonce: this.nonce, taskId } }),
    });
  }

  private get running(): RunningTask | undefined {
    return this.tasks.current;
  }

  // ---- start ---------------------------------------------------------------------------------

  async start(): Promise<void> {
    try {
      await this.startUp();
    } catch (err) {
      this.stopped = true;
      if (this.retryTimer) this.ctx.clock.clear(this.retryTimer);
      this.redis.disconnect();
      throw err;
    }
  }

  private async startUp(): Promise<void> {
    let record: PersistedAgent | undefined;
    try {
      await this.redis.connect();
      if (this.opts.fresh) await this.store.delete(this.id);
      else record = await this.store.load(this.id);
    } catch (err) {
      const e = toGovError(err);
      if (e.code === 'GOV_ERR_DECODE') throw e;
      throw new AgentUnavailableError(
        `agent ${this.id}: cannot reach its lifecycle store at ${this.opts.redisUrl}: ${e.message}`,
        {
          cause: err,
        },
      );
    }
    const machine = this.machine();
    if (record) {
      this.restarts = record.restarts + 1;
      this.lifecycle = restoreLifecycle(record.snapshot, machine);
      this.lifecycle.start();
      const state = this.stateName();
      this.emitTransition({ from: state, to: state, event: 'RESTORE', reason: `restart ${this.restarts}` });
      await this.persist();
      await this.resume(record.task);
    } else {
      this.lifecycle = createActor(machine, {
        input: {
          agentId: this.id,
          tier: this.opts.tier,
          team: this.opts.team,
          role: this.opts.role,
          maxRestarts: this.opts.maxRestarts,
        },
      });
      this.lifecycle.start();
      await this.persist();
      await this.dispatch({ type: 'BOOTSTRAP' }, { reason: 'start' });
    }
    this.safely('register', () =>
      this.ctx.bus.tell(agentRegisterSubject(this.opts.tier, this.id), {
        type: 'agent.register.v1',
        body: this.state(),
      }),
    );
  }

  /** Picks up where a restored lifecycle left off. */
  private async resume(lostTask: PersistedTaskRef | null): Promise<void> {
    if (lostTask) {
      const error = new ActorCrashedError(
        `agent ${this.id} restarted while running task ${lostTask.taskId}`,
        {
          details: { agentId: this.id, taskId: lostTask.taskId },
        },
      );
      this.safely('lost-task result', () =>
        this.ctx.bus.tell(lostTask.replyTo, {
          type: 'agent.task.result.v1',
          body: {
            ...taskRef(lostTask),
            agentId: this.id,
            status: 'failed',
            error: serializeError(error),
            durationMs: 0,
          },
          run: lostTask.runId,
        }),
      );
    }
    switch (this.stateName()) {
      case 'working':
        await this.dispatch(
          {
            type: 'TASK_FAILED',
            error: { code: 'GOV_ERR_ACTOR_CRASHED', message: 'agent restarted during the task' },
          },
          {
            reason: 'restarted during the task',
          },
        );
        break;
      case 'created':
        await this.dispatch({ type: 'BOOTSTRAP' }, { reason: 'start' });
        break;
      case 'bootstrapping':
        // Entry hooks are not re-run on restore: run the preflight ourselves.
        await this.runPreflight();
        break;
      case 'failed':
        this.scheduleBootstrapRetry();
        break;
      default:
        if (lostTask) await this.persist();
    }
  }

  behavior(): ActorBehavior {
    return {
      accepts: [
        'agent.task.assign.v1',
        'agent.task.cancel.v1',
        'agent.command.v1',
        'agent.status.v1',
        'agent.internal.v1',
        'agent.credentials.v1',
        'agent.credentials.v2',
      ],
      // Agents are addressed one by one (by id, from the directory), never round-robin.
      service: false,
      handle: (env, ictx) => this.handle(env, ictx),
      status: () => this.state() as Record<string, unknown>,
      stop: () => this.stop(),
    };
  }

  // ---- the lifecycle -------------------------------------------------------------------------

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

  private snapshot(): LifecycleSnapshot {
    return this.lifecycle.getSnapshot();
  }

  private stateName(): LifecycleState {
    return this.snapshot().value as LifecycleState;
  }

  /**
   * Sends one event to the lifecycle, then: carries out the hooks' effects, publishes and audits the
   * transition, persists, and runs a requested preflight (which dispatches its own outcome).
   */
  private async dispatch(
    event: LifecycleEvent,
    meta: DispatchMeta = {},
  ): Promise<{ rejections: RejectedCommand[] }> {
    const before = this.snapshot();
    this.effects = [];
    this.lifecycle.send(event);
    const after = this.snapshot();
    const effects = this.effects.splice(0);
    const rejections: RejectedCommand[] = [];
    let preflight = false;
    for (const e of effects) {
      switch (e.kind) {
        case 'violation':
          this.reportViolation(e.violation, meta.request?.body);
          break;
        case 'rejected':
          rejections.push(e.rejection);
          break;
        case 'abort-task':
          this.tasks.abort(
            this.running,
            new TaskCancelledError(`task aborted: agent ${e.reason}`, { details: { reason: e.reason } }),
          );
          break;
        case 'start-task':
          if (meta.request) this.tasks.start(meta.request);
          break;
        case 'release':
          this.tasks.abort(this.running, new TaskCancelledError('task aborted: agent terminated'));
          if (this.retryTimer) this.ctx.clock.clear(this.retryTimer);
          break;
        case 'preflight':
          preflight = true;
          break;
      }
    }
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

  private async runPreflight(): Promise<void> {
    const error = await this.preflightCheck();
    if (error) {
      this.ctx.log.warn('preflight failed', { code: error.code, error: error.message });
      await this.dispatch(
        { type: 'PREFLIGHT_FAILED', error: { code: error.code, message: error.message } },
        { reason: error.message },
      );
    } else {
      await this.dispatch({ type: 'PREFLIGHT_OK' }, { reason: 'preflight passed' });
    }
  }

  /** Tier valid, lifecycle store reachable, work dir writable. */
  private async preflightCheck(): Promise<GovError | undefined> {
    if (!this.opts.tierValid)
      return new ConfigError(`tier ${JSON.stringify(this.opts.requestedTier)} is not one of T0, T1, T2`);
    try {
      await this.store.ping();
    } catch (err) {
      return new AgentUnavailableError(`lifecycle store unreachable: ${toGovError(err).message}`, {
        cause: err,
      });
    }
    try {
      await mkdir(this.opts.workDir, { recursive: true });
      const probe = join(this.opts.workDir, `.preflight-${this.nonce}`);
      await writeFile(probe, 'ok');
      await rm(probe, { force: true });
    } catch (err) {
      return new ConfigError(`work dir ${this.opts.workDir} is not writable: ${toGovError(err).message}`, {
        cause: err,
      });
    }
    return undefined;
  }

  private scheduleBootstrapRetry(): void {
    const c = this.snapshot().context;
    if (this.stopped || c.restarts >= c.maxRestarts) return;
    if (this.retryTimer) this.ctx.clock.clear(this.retryTimer);
    this.retryTimer = this.ctx.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped)
        this.ctx.self({ type: 'agent.internal.v1', body: { event: 'retry-bootstrap', nonce: this.nonce } });
    }, DEFAULT_BOOTSTRAP_RETRY_MS);
  }

  // ---- persistence, feed, audit ---------------------------------------------------------------

  private record(): PersistedAgent {
    const r = this.running;
    return {
      v: 1,
      agentId: this.id,
      snapshot: this.lifecycle.getPersistedSnapshot(),
      restarts: this.restarts,
      task: r
        ? { ...taskRef(r.request.body), replyTo: r.request.body.replyTo, kind: r.request.body.task.kind }
        : null,
      savedAt: this.ctx.clock.now(),
    };
  }

  /** Writes the record when it changed. A failed write is logged and counted; the next change retries. */
  private async persist(): Promise<void> {
    const rec = this.record();
    const key = JSON.stringify({ ...rec, savedAt: 0 });
    if (key === this.lastPersisted) return;
    try {
      await this.store.save(rec);
      this.lastPersisted = key;
    } catch (err) {
      this.ctx.bus.metrics.inc('agent.persist.failed');
      this.ctx.log.warn('could not persist the lifecycle', { error: toGovError(err).message });
    }
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.ctx.log.warn(`agent could not publish ${what}`, { error: toGovError(err).message });
    }
  }

  /** Appends an envelope to the AUDIT stream on its own subject (gov.audit.agent.agent-<id>); failures are logged and counted. */
  private audit(env: AnyEnvelope): void {
    const p = this.ctx.bus
      .publishDurable(agentAuditSubject(this.id), env, { timeoutMs: DEFAULT_AUDIT_TIMEOUT_MS })
      .then(
        () => undefined,
        (err: unknown) => {
          this.ctx.bus.metrics.inc('agent.audit.failed');
          this.ctx.log.warn('audit publish failed', { type: env.type, error: toGovError(err).message });
        },
      );
    this.audits.add(p);
    void p.then(() => this.audits.delete(p));
  }

  private async flushAudits(): Promise<void> {
    await Promise.all([...this.audits]);
  }

  private emitTransition(t: {
    from: string;
    to: string;
    event: string;
    fromTier?: BodyIn<'agent.transition.v1'>['tier'];
    reason?: string;
  }): void {
    const c = this.snapshot().context;
    this.safely('transition', () => {
      const env = this.ctx.bus.emit(['agent', this.id], {
        type: 'agent.transition.v1',
        body: {
          agentId: this.id,
          from: t.from,
          to: t.to,
          event: t.event,
          tier: c.tier,
          fromTier: t.fromTier ?? c.tier,
          team: c.team,
          role: c.role,
          restarts: this.restarts,
          ...(t.reason ? { reason: t.reason } : {}),
        },
      });
      this.audit(env);
    });
  }

  private reportViolation(v: PolicyViolation, assign?: { runId: string; stageId: string }): void {
    this.safely('violation', () => {
      const env = this.ctx.bus.emit(['violation', this.id], {
        type: 'agent.violation.v1',
        body: {
          agentId: this.id,
          kind: v.kind,
          tier: v.tier,
          reason: v.reason,
          ...(v.taskId ? { taskId: v.taskId } : {}),
          ...(v.taskKind ? { taskKind: v.taskKind } : {}),
          ...(v.requiredTier ? { requiredTier: v.requiredTier } : {}),
          ...(assign ? { runId: assign.runId, stageId: assign.stageId } : {}),
        },
      });
      this.audit(env);
    });
  }

  // ---- the status API --------------------------------------------------------------------------

  state(): AgentStateBody {
    const c = this.snapshot().context;
    const r = this.running;
    return {
      agentId: this.id,
      state: String(this.snapshot().value),
      tier: c.tier,
      role: c.role,
      team: c.team,
      capabilities: [...AGENT_TASK_KINDS],
      restarts: this.restarts,
      ...(r ? { currentTask: taskRef(r.request.body) } : {}),
    };
  }

  // ---- messages --------------------------------------------------------------------------------

  private async handle(env: Envelope, ictx: IncomingContext): Promise<OutMessage | Refusal | undefined> {
    switch (env.type) {
      case 'agent.task.assign.v1':
        return this.onAssign(env, ictx);
      case 'agent.task.cancel.v1':
        return this.onCancel(env);
      case 'agent.command.v1':
        return this.onCommand(env, ictx);
      case 'agent.status.v1':
        return { type: 'agent.state.v1', body: this.state() };
      case 'agent.internal.v1':
        return this.onInternal(env, ictx);
      case 'agent.credentials.v1':
        return this.onCredentials(env);
      case 'agent.credentials.v2':
        return this.onWrappedCredentials(env, ictx);
      default:
        return undefined;
    }
  }

  /**
   * Keeps a stage attempt's child token for its task, in memory only: it is never persisted, logged,
   * put in a heartbeat or echoed back (the ack names the accessor). See task-host.ts.
   */
  private onCredentials(env: Envelope<'agent.credentials.v1'>): OutMessage {
    this.tasks.addCredentials(env.body);
    return {
      type: 'ack.v1',
      body: { ok: true, info: { runId: env.body.runId, accessor: env.body.accessor } },
    };
  }

  /** Unwraps the child token in Vault; a wrapping token that does not unwrap is refused (dead letter). */
  private async onWrappedCredentials(
    env: Envelope<'agent.credentials.v2'>,
    ictx: IncomingContext,
  ): Promise<OutMessage | Refusal> {
    try {
      await this.tasks.addWrappedCredentials(env.body);
    } catch (err) {
      this.ctx.log.warn('wrapped credentials did not unwrap', {
        runId: env.body.runId,
        accessor: env.body.accessor,
      });
      return this.refuse(ictx, toGovError(err));
    }
    return {
      type: 'ack.v1',
      body: { ok: true, info: { runId: env.body.runId, accessor: env.body.accessor } },
    };
  }

  /** Answers an ask with a typed error (a tell is dead-lettered with it) without crashing the actor. */
  private refuse(_ictx: IncomingContext, error: GovError): Refusal {
    this.ctx.bus.metrics.inc(`agent.refused.${error.code}`);
    return refuse(error);
  }

  private unavailable(state: LifecycleState): GovError | undefined {
    const c = this.snapshot().context;
    const details = { agentId: this.id, state };
    switch (state) {
      case 'idle':
        return this.running
          ? new AgentBusyError(`agent ${this.id} is still winding down a task`, { details })
          : undefined;
      case 'working':
      case 'created':
      case 'bootstrapping':
        return new AgentBusyError(`agent ${this.id} is ${state}`, { details });
      case 'suspended':
        return new AgentUnavailableError(
          `agent ${this.id} is suspended (${c.suspendReason ?? 'no reason'})`,
          { details },
        );
      case 'quarantined':
        return new AgentUnavailableError(
          `agent ${this.id} is quarantined (${c.quarantineReason ?? 'policy'})`,
          { details },
        );
      case 'failed':
        return new AgentUnavailableError(`agent ${this.id} failed: ${c.lastError?.message ?? 'unknown'}`, {
          details,
        });
      case 'terminated':
        return new AgentUnavailableError(`agent ${this.id} is terminated`, { details, retryable: false });
    }
  }

  private async onAssign(
    env: AssignEnvelope,
    ictx: IncomingContext,
  ): Promise<OutMessage | Refusal | undefined> {
    const b = env.body;
    const snap = this.snapshot();
    const tier = snap.context.tier;
    const task: LifecycleTask = { id: b.taskId, kind: b.task.kind, requiredTier: b.requiredTier };
    const at = this.ctx.clock.now();
    if (!tierAllowsTask(tier, task)) {
      const required = requiredTierForTask(task);
      const reason = `task ${b.taskId} of kind ${b.task.kind} needs ${required ?? 'an unknown tier'}, agent is ${tier}`;
      if (snap.value === 'idle') {
        // The lifecycle records the violation and reports it through its hook.
        await this.dispatch({ type: 'ASSIGN_TASK', task, at }, { request: env, reason });
      } else {
        this.reportViolation(
          {
            kind: 'task-tier',
            agentId: this.id,
            tier,
            reason,
            taskId: b.taskId,
            taskKind: b.task.kind,
            requiredTier: required ?? null,
            at,
          },
          b,
        );
      }
      return this.refuse(
        ictx,
        new TierForbiddenError(`agent ${this.id}: ${reason}`, {
          details: {
            agentId: this.id,
            tier,
            taskKind: b.task.kind,
            requiredTier: required ?? null,
            taskId: b.taskId,
          },
        }),
      );
    }
    const refusal = this.unavailable(this.stateName());
    if (refusal) return this.refuse(ictx, refusal);
    await this.dispatch(
      { type: 'ASSIGN_TASK', task, at },
      { request: env, reason: `task ${b.taskId} (${b.task.kind})` },
    );
    if (this.running?.request !== env) {
      return this.refuse(
        ictx,
        new InternalError(`agent ${this.id} did not start task ${b.taskId}`, {
          details: { state: this.stateName() },
        }),
      );
    }
    return { type: 'agent.task.accepted.v1', body: { ...taskRef(b), agentId: this.id } };
  }

  private onCancel(env: Envelope<'agent.task.cancel.v1'>): OutMessage {
    const cancelled = this.tasks.cancel(
      env.body.taskId,
      new TaskCancelledError(`task cancelled: ${env.body.reason}`, { details: { reason: env.body.reason } }),
    );
    return { type: 'ack.v1', body: { ok: true, info: { cancelled, taskId: env.body.taskId } } };
  }

  private async onCommand(
    env: Envelope<'agent.command.v1'>,
    ictx: IncomingContext,
  ): Promise<OutMessage | Refusal | undefined> {
    const { command, byTier, by, reason } = env.body;
    const before = this.snapshot();
    const why = `${command} by ${by}${reason ? `: ${reason}` : ''}`;
    let error: GovError | undefined;
    if (
      (command === 'promote' || command === 'demote' || command === 'release') &&
      !canPerform(byTier, command)
    ) {
      error = new TierForbiddenError(`only T2 may ${command} an agent; ${by} is ${byTier}`, {
        details: { command, byTier, by },
      });
    } else {
      const event = commandEvent(command, byTier, reason ?? `${command} by ${by}`, this.ctx.clock.now());
      if (!canAccept(before, event)) {
        error = new InvalidTransitionError(
          `agent ${this.id} cannot ${command} in state ${String(before.value)}`,
          {
            details: { command, state: String(before.value) },
          },
        );
      } else {
        const { rejections } = await this.dispatch(event, { reason: why });
        const rej = rejections[0];
        if (rej?.reason === 'tier-forbidden')
          error = new TierForbiddenError(`only T2 may ${command} an agent`, { details: { command, byTier } });
        else if (rej?.reason === 'tier-bound')
          error = new InvalidTransitionError(`agent ${this.id} is already ${rej.tier}: cannot ${command}`, {
            details: { command, tier: rej.tier },
          });
        else if (rej)
          error = new InvalidTransitionError(
            `agent ${this.id} cannot ${command}: credentials are not valid yet`,
            { details: { command } },
          );
      }
    }
    const after = this.snapshot();
    this.safely('command outcome', () => {
      const out = this.ctx.bus.emit(['agent', this.id], {
        type: 'agent.command.outcome.v1',
        body: {
          agentId: this.id,
          command,
          by,
          byTier,
          ...(reason ? { reason } : {}),
          outcome: error ? 'refused' : 'applied',
          ...(error ? { error: serializeError(error) } : {}),
          fromState: String(before.value),
          toState: String(after.value),
          fromTier: before.context.tier,
          toTier: after.context.tier,
        },
      });
      this.audit(out);
    });
    // A command's reply means it is on the audit trail.
    await this.flushAudits();
    if (error) return this.refuse(ictx, error);
    return { type: 'agent.state.v1', body: this.state() };
  }

  private async onInternal(
    env: Envelope<'agent.internal.v1'>,
    ictx: IncomingContext,
  ): Promise<OutMessage | Refusal | undefined> {
    if (env.body.nonce !== this.nonce) {
      const err = new PolicyViolationError(
        `agent.internal.v1 is accepted only from agent ${this.id} itself`,
        { details: { from: env.from } },
      );
      this.ctx.bus.deadLetter({ subject: ictx.subject, data: this.ctx.bus.encode(env) }, err);
      return this.refuse(ictx, err);
    }
    if (env.body.event === 'retry-bootstrap') {
      if (this.stateName() === 'failed')
        await this.dispatch({ type: 'BOOTSTRAP' }, { reason: 'bootstrap retry' });
    } else {
      await this.completeTask(env.body.taskId);
    }
    return undefined;
  }

  // ---- running tasks -----------------------------------------------------------------------------

  private async completeTask(taskId: string): Promise<void> {
    const outcome = this.tasks.finish(taskId);
    if (!outcome) return;
    // Let the result's flush (queued as a microtask by the publish) go out before the lifecycle
    // write below, which writes to the store's socket at once: the result is on the stage's critical path.
    await Promise.resolve();
    const snap = this.snapshot();
    if (snap.value === 'working' && snap.context.currentTask?.id === taskId) {
      const event: LifecycleEvent =
        outcome.status === 'succeeded'
          ? { type: 'TASK_DONE', taskId }
          : {
              type: 'TASK_FAILED',
              taskId,
              error: outcome.error
                ? { code: outcome.error.code, message: outcome.error.message }
                : outcome.status,
            };
      await this.dispatch(event, { reason: `task ${taskId} ${outcome.status}` });
    } else {
      await this.persist();
    }
  }

  // ---- stop --------------------------------------------------------------------------------------

  private async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.retryTimer) this.ctx.clock.clear(this.retryTimer);
    const running = this.running;
    const err = new ActorStoppedError(
      `agent ${this.id} stopped${running ? ` while running task ${running.request.body.taskId}` : ''}`,
    );
    if (this.tasks.stop(err)) {
      if (this.stateName() === 'working')
        await this.dispatch(
          { type: 'TASK_FAILED', error: { code: err.code, message: err.message } },
          { reason: 'agent stopped' },
        );
      else await this.persist();
    }
    this.stopped = true;
    await Promise.race([this.flushAudits(), new Promise((res) => setTimeout(res, DEFAULT_AUDIT_TIMEOUT_MS))]);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
