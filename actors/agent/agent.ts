/**
 * The agent actor (kind `agent`): one governed agent, speaking the agent protocol
 * (protocols/messages/agent.ts, docs/agents.md).
 *
 * - Lifecycle: the XState machine of lifecycle-machine.ts, driven by lifecycle-driver.ts. Hooks only
 *   record effects; the driver carries them out after each transition, so every state change happens
 *   inside a mailbox handler, one at a time. Every transition is persisted to Redis/Dragonfly
 *   (lifecycle-store.ts), published on the feed `gov.obs.agent.<id>` (agent.transition.v1) and appended
 *   to the AUDIT stream (`gov.audit.agent.agent-<id>`, the ledger's verified sender) by agent-reporter.ts, through a transactional outbox kept
 *   in the lifecycle record (republished at the next start when a SIGKILL cut a publish off).
 * - Start: a persisted lifecycle is restored (restarts + 1) and resumed: a task that was running is
 *   reported failed (retryable) to its replyTo; otherwise BOOTSTRAP → preflight (tier valid, store
 *   reachable, work dir writable) → idle. A failed preflight is retried while the lifecycle allows.
 * - Tasks (run by task-host.ts): agent.task.assign.v1 is checked (assignment-rules.ts) against the tier (refused with GOV_ERR_TIER_FORBIDDEN and a
 *   violation on `gov.obs.violation.<id>` + audit) and the state (busy / unavailable, retryable), then
 *   accepted at once and run off the mailbox; progress and exactly one result go to `replyTo`. The
 *   assignment's `timeoutMs` is enforced; agent.task.cancel.v1 aborts. Completion comes back through
 *   the mailbox (ctx.self) so the lifecycle stays serialized.
 * - Commands (command-rules.ts): agent.command.v1; promote / demote / release only from T2. Every command, applied or
 *   refused, is published (agent.command.outcome.v1) and audited before the reply.
 * - Status: agent.status.v1 → agent.state.v1; the same state rides in every heartbeat's `status`, and
 *   agent.register.v1 is published on `gov.agents.register` at start.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { IncomingContext } from '../../bus/index.ts';
import type { TimerHandle } from '../../infra/index.ts';
import type { BodyIn, Envelope, GovError, OutMessage } from '../../protocols/index.ts';
import {
  ACTOR_KIND,
  ActorStoppedError,
  AgentUnavailableError,
  agentRegisterSubject,
  registrationTierOf,
  InternalError,
  PolicyViolationError,
  serializeError,
  TaskCancelledError,
  toGovError,
} from '../../protocols/index.ts';
import type { ActorBehavior, ActorContext } from '../runtime/index.ts';
import { defineActorKind, type Refusal, refuse } from '../runtime/index.ts';
import {
  AgentArgsSchema,
  type AgentArgs,
  type AgentOptions,
  agentOptions,
  DEFAULT_AUDIT_TIMEOUT_MS,
  DEFAULT_REGISTER_EVERY_MS,
  DEFAULT_STORE_TIMEOUT_MS,
} from './agent-options.ts';
import { AgentReporter } from './agent-reporter.ts';
import { tierRefusal, unavailableError } from './assignment-rules.ts';
import { admitCommand, COMMAND_AUTHORITY, rejectionError } from './command-rules.ts';
import {
  type LifecycleEvent,
  type LifecycleState,
  type LifecycleTask,
  tierAllowsTask,
} from './lifecycle-machine.ts';
import { LifecycleDriver } from './lifecycle-driver.ts';
import { LifecycleStore, type PersistedAgent, type PersistedTaskRef } from './lifecycle-store.ts';
import { type AssignEnvelope, type RunningTask, TaskHost, taskRef } from './task-host.ts';
import { AGENT_TASK_KINDS } from './tasks/index.ts';

type AgentStateBody = BodyIn<'agent.state.v1'>;

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

class GovernedAgent {
  private readonly id: string;
  private readonly redis: Redis;
  private readonly store: LifecycleStore;
  private readonly tasks: TaskHost;
  private readonly nonce = randomUUID();
  private readonly reporter: AgentReporter;
  private readonly life: LifecycleDriver;
  private stopped = false;
  private registerTimer: TimerHandle | undefined;

  constructor(
    private readonly ctx: ActorContext<AgentArgs>,
    private readonly opts: AgentOptions,
  ) {
    this.id = ctx.id;
    // The host's client when the agent runs on its host's shared connection, else its own.
    this.redis = ctx.redis(opts.redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: DEFAULT_STORE_TIMEOUT_MS,
      commandTimeout: DEFAULT_STORE_TIMEOUT_MS,
    });
    this.redis.on('error', (err: Error) =>
      ctx.log.debug('lifecycle store connection error', { error: err.message }),
    );
    this.store = new LifecycleStore(this.redis, opts.keyPrefix);
    this.reporter = new AgentReporter({
      agentId: this.id,
      bus: ctx.bus,
      log: ctx.log,
      clock: ctx.clock,
      persist: () => this.life.persist(),
    });
    this.tasks = new TaskHost({
      agentId: this.id,
      bus: ctx.bus,
      clock: ctx.clock,
      log: ctx.log,
      opts,
      tier: () => this.life.snapshot().context.tier,
      onSettled: (taskId) =>
        ctx.self({ type: 'agent.internal.v1', body: { event: 'task-finished', nonce: this.nonce, taskId } }),
    });
    this.life = new LifecycleDriver({
      agentId: this.id,
      opts,
      store: this.store,
      reporter: this.reporter,
      tasks: this.tasks,
      clock: ctx.clock,
      log: ctx.log,
      metrics: ctx.bus.metrics,
      probeName: `.preflight-${this.nonce}`,
      retryBootstrap: () =>
        ctx.self({ type: 'agent.internal.v1', body: { event: 'retry-bootstrap', nonce: this.nonce } }),
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
      this.life.halt();
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
    if (record) {
      // Audit events a SIGKILL cut off between their write and their publish go out first.
      await this.reporter.restore(record);
      await this.life.restore(record);
      await this.resume(record.task);
    } else {
      await this.life.create();
    }
    this.register();
    // Again and again: a receiver that restarted believes our heartbeats' tier only once it has
    // heard a registration (its subject carries our credential's tier).
    this.registerTimer = this.ctx.clock.setInterval(() => this.register(), DEFAULT_REGISTER_EVERY_MS);
  }

  /**
   * Announces the agent on `gov.agents.register.<its credential's tier>.<id>`: the tier of the credential
   * it holds now (a promotion's reissued credential raises it: actors/credentials), else its start tier.
   */
  private register(): void {
    if (this.stopped) return;
    const tier = registrationTierOf(this.ctx.bus.credential()?.jwt, this.id) ?? this.opts.tier;
    this.reporter.safely('register', () =>
      this.ctx.bus.tell(agentRegisterSubject(tier, this.id), {
        type: 'agent.register.v1',
        body: this.state(),
      }),
    );
  }

  /** Picks up where a restored lifecycle left off. */
  private async resume(lostTask: PersistedTaskRef | null): Promise<void> {
    if (lostTask) this.reporter.lostTask(lostTask);
    switch (this.life.stateName()) {
      case 'working':
        await this.life.dispatch(
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
        await this.life.dispatch({ type: 'BOOTSTRAP' }, { reason: 'start' });
        break;
      case 'bootstrapping':
        // Entry hooks are not re-run on restore: run the preflight ourselves.
        await this.life.runPreflight();
        break;
      case 'failed':
        this.life.scheduleBootstrapRetry();
        break;
      default:
        if (lostTask) await this.life.persist();
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

  // ---- the status API --------------------------------------------------------------------------

  state(): AgentStateBody {
    const c = this.life.snapshot().context;
    const r = this.running;
    return {
      agentId: this.id,
      state: String(this.life.snapshot().value),
      tier: c.tier,
      role: c.role,
      team: c.team,
      capabilities: [...AGENT_TASK_KINDS],
      restarts: this.life.restarts,
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
    return unavailableError(this.id, state, this.life.snapshot().context, this.running !== undefined);
  }

  private async onAssign(
    env: AssignEnvelope,
    ictx: IncomingContext,
  ): Promise<OutMessage | Refusal | undefined> {
    const b = env.body;
    const snap = this.life.snapshot();
    const tier = snap.context.tier;
    const task: LifecycleTask = { id: b.taskId, kind: b.task.kind, requiredTier: b.requiredTier };
    const at = this.ctx.clock.now();
    if (!tierAllowsTask(tier, task)) {
      const refused = tierRefusal(this.id, tier, task, at);
      // When idle, the lifecycle records the violation and reports it through its hook.
      if (snap.value === 'idle')
        await this.life.dispatch({ type: 'ASSIGN_TASK', task, at }, { request: env, reason: refused.reason });
      else this.reporter.violation(refused.violation, b);
      return this.refuse(ictx, refused.error);
    }
    const refusal = this.unavailable(this.life.stateName());
    if (refusal) return this.refuse(ictx, refusal);
    await this.life.dispatch(
      { type: 'ASSIGN_TASK', task, at },
      { request: env, reason: `task ${b.taskId} (${b.task.kind})` },
    );
    if (this.running?.request !== env) {
      return this.refuse(
        ictx,
        new InternalError(`agent ${this.id} did not start task ${b.taskId}`, {
          details: { state: this.life.stateName() },
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
    const { command, by, reason } = env.body;
    // The body's `byTier` is a claim: the authority is the broker's (command-rules.ts).
    const byTier = COMMAND_AUTHORITY;
    const before = this.life.snapshot();
    const why = `${command} by ${by}${reason ? `: ${reason}` : ''}`;
    let error: GovError | undefined;
    const admitted = admitCommand(this.id, { ...env.body, byTier }, before, this.ctx.clock.now());
    if ('error' in admitted) error = admitted.error;
    else {
      const { rejections } = await this.life.dispatch(admitted.event, { reason: why });
      if (rejections[0]) error = rejectionError(this.id, command, byTier, rejections[0]);
    }
    const after = this.life.snapshot();
    this.reporter.commandOutcome({
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
    });
    // A command's reply means it is on the audit trail.
    await this.reporter.flush();
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
      if (this.life.stateName() === 'failed')
        await this.life.dispatch({ type: 'BOOTSTRAP' }, { reason: 'bootstrap retry' });
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
    const snap = this.life.snapshot();
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
      await this.life.dispatch(event, { reason: `task ${taskId} ${outcome.status}` });
    } else {
      await this.life.persist();
    }
  }

  // ---- stop --------------------------------------------------------------------------------------

  private async stop(): Promise<void> {
    if (this.stopped) return;
    this.life.clearRetry();
    if (this.registerTimer) this.ctx.clock.clear(this.registerTimer);
    const running = this.running;
    const err = new ActorStoppedError(
      `agent ${this.id} stopped${running ? ` while running task ${running.request.body.taskId}` : ''}`,
    );
    if (this.tasks.stop(err)) {
      if (this.life.stateName() === 'working')
        await this.life.dispatch(
          { type: 'TASK_FAILED', error: { code: err.code, message: err.message } },
          { reason: 'agent stopped' },
        );
      else await this.life.persist();
    }
    this.stopped = true;
    this.life.halt();
    await Promise.race([
      this.reporter.flush(),
      new Promise((res) => setTimeout(res, DEFAULT_AUDIT_TIMEOUT_MS)),
    ]);
    this.reporter.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
