/**
 * The orchestrator actor (kind `orchestrator`): runs pipelines on the agent fleet.
 *
 * - Serves run.request.v1 / run.cancel.v1 / run.get.v1 / run.list.v1 on `gov.svc.orchestrator`
 *   (queue group; msgpack or JSON). A request is validated, persisted and answered with
 *   run.accepted.v1 at once; the run then proceeds in the background (run-requests.ts).
 * - Keeps a live view of agents (heartbeats with an agent `status`, agent.register.v1, exit reports)
 *   and dispatches each ready stage to an idle matching agent (least recently used) with
 *   agent.task.assign.v1 whose `replyTo` is `gov.results.orchestrator` (dispatch.ts): progress and
 *   results are kept by the RESULTS stream and taken from its durable consumer in mailbox order, each
 *   acked once the change it caused is stored (results-consumer.ts, report-intake.ts), so none is lost
 *   while no orchestrator runs. Reports on the service subject (assigns sent before an upgrade) are
 *   still taken.
 * - Stage state changes go through the pure reducer in run-machine.ts; every new state is written to
 *   the KV bucket before any effect (assign, cancel, child run, event) is carried out (run-driver.ts),
 *   so a restarted orchestrator resumes every run where it stood, and runs of a dead instance are
 *   adopted (ownership.ts; docs/orchestrator.md).
 *
 * This file composes the parts; each talks back through its own small hooks interface.
 */
import { ensureStreams } from '../../bus/streams.ts';
import type { IncomingContext } from '../../bus/bus.ts';
import { JsPublisher } from '../../bus/index.ts';
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { Tier } from '../../protocols/vocabulary/tiers.ts';
import { publishForgedReport } from './forged-reports.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import { ForbiddenError, toGovError } from '../../protocols/vocabulary/errors.ts';
import {
  boundedTier,
  verifiedHeartbeatStatus,
  verifiedRegistration,
} from '../../protocols/agent-identity.ts';
import {
  allAgentRegistrations,
  allContain,
  allExits,
  allHeartbeats,
  containSubject,
  serviceSubject,
} from '../../protocols/subjects.ts';
import { type AgentFacts, DEFAULT_ADMISSION_DIRECTORY_TIMEOUT_MS } from './admission.ts';
import type { ActorBehavior, ActorContext, Refusal } from '../runtime/actor-kind.ts';
import { defineActorKind, refuse } from '../runtime/actor-kind.ts';
import { ChildRuns } from './child-runs.ts';
import { AgentDirectory } from './dispatcher/agent-selection.ts';
import { Dispatcher } from './dispatch.ts';
import {
  DEFAULT_AUDIT_DRAIN_MS,
  DEFAULT_AUDIT_RETRY_MS,
  DEFAULT_JS_ACK_TIMEOUT_MS,
  DEFAULT_RESULTS_ACK_WAIT_MS,
  DEFAULT_RESULTS_BATCH,
  DEFAULT_RESULTS_DURABLE,
  DEFAULT_RESULTS_MAX_ACK_PENDING,
  DEFAULT_RESULTS_RETRY_MS,
  DEFAULT_RUN_MARKER_PURGE_EVERY,
  type OrchestratorArgs,
  OrchestratorArgsSchema,
} from './options.ts';
import { Outbox } from './outbox.ts';
import { Ownership } from './ownership.ts';
import { ReportIntake } from './report-intake.ts';
import { ResultsConsumer } from './results-consumer.ts';
import { RunDriver } from './run-driver.ts';
import { RunEvents } from './run-events.ts';
import { RunRequests } from './run-requests.ts';
import { RunStore } from './run-store.ts';
import type { RunRecord } from './run-machine.ts';
import { RunRetention } from './run-retention.ts';
import { RunView } from './run-view.ts';
import { Scheduler } from './scheduler.ts';

export { newRunId, toRunState } from './run-view.ts';

export const ORCHESTRATOR_KIND = ACTOR_KIND.orchestrator;

export type OrchestratorSettings = OrchestratorArgs;

class Orchestrator {
  private readonly view = new RunView();
  private readonly scheduler: Scheduler;
  private readonly retention: RunRetention;
  private readonly driver: RunDriver;
  private readonly dispatcher: Dispatcher;
  private readonly children: ChildRuns;
  private readonly ownership: Ownership;
  private readonly intake: ReportIntake;
  private readonly requests: RunRequests;
  /** Progress and results from the RESULTS stream (set once recovery is done). */
  results: ResultsConsumer | undefined;

  constructor(
    private readonly ctx: ActorContext,
    private readonly store: RunStore,
    private readonly events: RunEvents,
    settings: OrchestratorSettings,
    private readonly outbox: Outbox,
  ) {
    const view = this.view;
    const agents = new AgentDirectory(settings.agentMissedBeats, settings.agentHeartbeatMs);
    events.encodingOf = (agentId) => agents.get(agentId)?.encoding;
    const now = () => ctx.clock.now();
    const apply = (runId: string, input: Parameters<RunDriver['apply']>[1]) =>
      this.driver.apply(runId, input);
    const admit = (run: Parameters<RunDriver['admit']>[0]) => this.driver.admit(run);
    const locate = (runId: string) => this.ownership.locate(runId);
    this.scheduler = new Scheduler(ctx.clock, () => this.dispatcher.pump());
    this.retention = new RunRetention(
      ctx.clock,
      store,
      { retentionMs: settings.runRetentionMs, purgeEvery: DEFAULT_RUN_MARKER_PURGE_EVERY },
      (runId, err) => ctx.log.warn('finished run record not removed', { runId, error: String(err) }),
    );
    this.driver = new RunDriver(ctx, view, store, events, this.scheduler, {
      perform: (run, eff) => this.dispatcher.perform(run, eff),
      release: (agentId, taskId) => agents.released(agentId, taskId),
      noteRun: (run) => this.dispatcher.noteRun(run),
      retired: (run) => this.retire(run),
    });
    this.children = new ChildRuns(ctx.id, view, store, settings, { apply, admit, now });
    this.dispatcher = new Dispatcher(ctx, view, agents, this.scheduler, settings, {
      apply,
      startChild: (parent, stageId, childRunId) => void this.children.start(parent, stageId, childRunId),
      childFinished: (child) => this.children.deliverResult(child),
      disarm: (runId) => this.driver.disarm(runId),
    });
    this.ownership = new Ownership(ctx, view, store, {
      resume: (run) => {
        this.driver.resume(run, (agentId, taskId) => agents.expect(agentId, taskId, now()));
        void this.containIfRevoked(run.runId);
      },
      retired: (run) => this.retire(run),
      reconcileChildren: () => this.children.reconcile(),
      requestPump: () => this.scheduler.requestPump(),
    });
    this.intake = new ReportIntake(ctx, view, agents, ACTOR_KIND.orchestrator, {
      apply,
      pumpNow: () => this.scheduler.pumpNow(),
      sendNow: (runId) => this.driver.sendNow(runId),
      stored: (runId) => this.driver.stored(runId),
      locate,
      results: () => this.results,
      late: (env, run) =>
        void this.lateResult(env, run).catch((err: unknown) =>
          ctx.log.warn('late result not recorded', { runId: env.body.runId, error: String(err) }),
        ),
      forged: (refusal, reportId) => publishForgedReport(ctx, refusal, reportId),
    });
    const startedAt = now();
    this.requests = new RunRequests(ctx, view, store, settings, {
      apply,
      admit,
      locate,
      admission: {
        local: () => agents.list(),
        directory: () => this.directoryAgents(),
        now,
        sleep: (ms) => new Promise((resolve) => ctx.clock.setTimeout(resolve, ms)),
        watch: () => this.listenForAgents(),
      },
      // Until every agent had time to heartbeat once, an unknown agent may just not have been heard yet.
      startupGraceMs: () =>
        Math.max(0, startedAt + settings.agentHeartbeatMs * settings.agentMissedBeats - now()),
    });
  }

  /** The agent directory's view (it may know agents this instance has not heard yet); [] when none answers. */
  /** A finished run with nothing pending: its record's retention runs from its end (run-retention.ts). */
  private retire(run: RunRecord): void {
    this.retention.track(run.runId, run.finishedAt ?? run.createdAt);
  }

  private async directoryAgents() {
    try {
      const r = await this.ctx.bus.ask(
        serviceSubject(ACTOR_KIND.agentDirectory),
        { type: 'agent.status.v1', body: {} },
        { timeoutMs: DEFAULT_ADMISSION_DIRECTORY_TIMEOUT_MS },
      );
      return r.type === 'agent.states.v1' ? r.body.agents : [];
    } catch {
      return [];
    }
  }

  /**
   * Agents heard straight from the wire (registrations and heartbeats with an agent status) while an
   * admission waits: the mailbox that would update the live view is held by that very request.
   */
  private listenForAgents() {
    const heard = new Map<string, AgentFacts>();
    const registered = new Map<string, Tier>();
    const agents = this.dispatcher.agents;
    const take = (data: Uint8Array, subject: string, fromHeartbeat: boolean) => {
      const d = this.ctx.bus.decode(data);
      if (!d.ok) return;
      try {
        const facts =
          fromHeartbeat && d.env.type === 'actor.heartbeat.v1'
            ? verifiedHeartbeatStatus(subject, d.env.body)
            : d.env.type === 'agent.register.v1'
              ? verifiedRegistration(subject, d.env.body)
              : undefined;
        if (!facts) return;
        if (!fromHeartbeat) registered.set(facts.agentId, facts.tier);
        const credential = registered.get(facts.agentId) ?? agents.credentialTier(facts.agentId);
        heard.set(facts.agentId, { ...facts, tier: boundedTier(facts.tier, credential) });
      } catch {
        // A forgery: the mailbox refuses it (visibly) when it gets there.
      }
    };
    const subs = [
      this.ctx.bus.subscribeRaw(allHeartbeats(), (m) => take(m.data, m.subject, true)),
      this.ctx.bus.subscribeRaw(allAgentRegistrations(), (m) => take(m.data, m.subject, false)),
    ];
    return {
      heard: () => [...heard.values()],
      stop: () => {
        for (const s of subs) {
          try {
            s.unsubscribe();
          } catch {
            // connection already closed
          }
        }
      },
    };
  }

  /**
   * A resumed run whose containment order was sent while no orchestrator held it: its token tells (the
   * breach and the violation both revoke it, with their reason, after ordering the containment).
   */
  private async containIfRevoked(runId: string): Promise<void> {
    try {
      const t = await this.ctx.bus.ask(
        serviceSubject(ACTOR_KIND.tokenAuthority),
        { type: 'token.status.v1', body: { runId } },
        { timeoutMs: DEFAULT_ADMISSION_DIRECTORY_TIMEOUT_MS * 4 },
      );
      if (t.type !== 'token.state.v1' || t.body.state !== 'revoked') return;
      const reason = t.body.revokedReason ?? '';
      const cause = reason.startsWith('budget-exhausted')
        ? 'budget-exhausted'
        : reason.startsWith('policy-violation')
          ? 'policy-violation'
          : undefined;
      if (cause && this.view.has(runId))
        this.driver.apply(runId, {
          type: 'contain',
          cause,
          reason: `${reason} (found when the run was resumed)`,
        });
    } catch {
      // No token authority answering: the order, if any, is lost with the instance that missed it.
    }
  }

  /** A result that came after its run ended: recorded (feed and audit) when the run was contained. */
  private async lateResult(env: Envelope<'agent.task.result.v1'>, known?: { status: string }) {
    const b = env.body;
    const run = known ?? (await this.store.get(b.runId));
    if (run?.status !== 'contained') return;
    this.events.publish({
      runId: b.runId,
      event: 'stage-result-rejected',
      stageId: b.stageId,
      attempt: b.attempt,
      agentId: b.agentId,
      error: {
        code: 'GOV_ERR_RUN_CONTAINED',
        message: `result (${b.status}) of stage ${b.stageId} attempt ${b.attempt} from agent ${b.agentId} came after the run was contained: not applied`,
        retryable: false,
        details: { taskId: b.taskId, status: b.status },
      },
    });
  }

  recover(opts: { atStart: boolean }): Promise<void> {
    return this.ownership.recover(opts);
  }

  startSweeping(): void {
    this.dispatcher.startSweeping();
  }

  /**
   * Handles one message. A request that fails (invalid pipeline, unknown run) is refused with its
   * typed error without crashing the actor; the runtime sends that one reply.
   */
  async handle(env: Envelope, ictx: IncomingContext): Promise<OutMessage | Refusal | undefined> {
    try {
      return await this.route(env, ictx.subject, ictx.reply !== undefined);
    } catch (err) {
      this.ctx.log.info('request refused', { type: env.type, error: String(err) });
      return refuse(toGovError(err));
    }
  }

  private async route(env: Envelope, subject: string, asked: boolean): Promise<OutMessage | undefined> {
    const agents = this.dispatcher.agents;
    const now = this.ctx.clock.now();
    switch (env.type) {
      case 'run.request.v1':
        return this.requests.request(env);
      case 'run.cancel.v1':
        return this.requests.cancel(env);
      case 'run.pause.v1':
      case 'run.resume.v1':
        return this.requests.hold(env);
      case 'run.get.v1':
        return this.requests.get(env);
      case 'run.list.v1':
        return this.requests.list(env);
      case 'run.contain.v1': {
        // Authority from the credential: only the budget monitor and the token authority may publish
        // on gov.contain.* (protocols/permissions.ts); the service subject and inboxes are open wider.
        if (subject !== containSubject(env.body.runId))
          throw new ForbiddenError(`run.contain.v1 is taken only on ${containSubject(env.body.runId)}`, {
            details: { subject },
          });
        if (this.view.has(env.body.runId)) await this.requests.contain(env);
        else
          void this.requests.contain(env).catch((err: unknown) =>
            this.ctx.log.warn('containment order not carried out', {
              runId: env.body.runId,
              error: String(err),
            }),
          );
        return;
      }
      case 'agent.task.progress.v1':
      case 'agent.task.result.v1':
        await this.intake.take(env, subject, asked);
        return;
      case 'actor.heartbeat.v1': {
        const b = env.body;
        if (b.kind !== 'agent') return;
        // Identity from the subject the broker let it publish on: a heartbeat for another agent is refused.
        const status = verifiedHeartbeatStatus(subject, b);
        if (status) {
          if (agents.report(b.kind, status, now, b.intervalMs)) this.scheduler.requestPump();
          this.dispatcher.checkAgentTask(status.agentId);
        } else {
          agents.seen(b.actorId, now, b.intervalMs);
        }
        return;
      }
      case 'agent.register.v1':
        // Tier and id from the subject: the credential's, which bounds what its heartbeats may state.
        if (agents.register(verifiedRegistration(subject, env.body), now)) this.scheduler.requestPump();
        return;
      case 'actor.exit.v1': {
        const b = env.body;
        if (b.kind === 'agent') this.dispatcher.agentLost(b.actorId, `exited (${b.reason})`);
        else if (b.kind === ORCHESTRATOR_KIND && b.actorId !== this.ctx.id)
          // Not awaited (the mailbox goes on), so its failure must be caught here: a recovery cut off by
          // our own stop (connection draining) was an unhandled rejection, which kills a process. A
          // run it missed is adopted when its next result arrives, or at the next recovery.
          this.recover({ atStart: false }).catch((err: unknown) =>
            this.ctx.log.warn('recovery after another orchestrator exited did not finish', {
              exited: b.actorId,
              error: String(err),
            }),
          );
        return;
      }
      default:
        return;
    }
  }

  behavior(): ActorBehavior {
    return {
      accepts: [
        'run.request.v1',
        'run.cancel.v1',
        'run.pause.v1',
        'run.resume.v1',
        'run.get.v1',
        'run.list.v1',
        'run.contain.v1',
        'agent.task.progress.v1',
        'agent.task.result.v1',
        'actor.heartbeat.v1',
        'agent.register.v1',
        'actor.exit.v1',
      ],
      subscriptions: [
        { subject: allHeartbeats() },
        { subject: allExits() },
        { subject: allAgentRegistrations() },
        { subject: this.dispatcher.resultsSubject },
        { subject: allContain() },
      ],
      status: () => ({
        runs: this.view.size,
        agents: this.dispatcher.agents.list().filter((a) => !a.dead).length,
      }),
      handle: (env, ctx) => this.handle(env, ctx),
      stop: async () => {
        this.scheduler.stop();
        this.retention.stop();
        this.dispatcher.stopSweeping();
        // No more reports are taken; the ones taken are acked as their writes complete.
        await this.results?.close();
        // State writes in flight finish (their events follow), then every event reaches the audit stream.
        await this.store.settled();
        await this.events.drain(DEFAULT_AUDIT_DRAIN_MS);
        this.outbox.flush(); // acks of the last writes
      },
    };
  }
}

export const orchestratorKind = defineActorKind({
  kind: ORCHESTRATOR_KIND,
  description:
    'runs pipelines: run.request.v1 / run.cancel.v1 / run.get.v1 / run.list.v1 on gov.svc.orchestrator',
  args: OrchestratorArgsSchema,
  async start(ctx) {
    const settings = ctx.args;
    await ensureStreams(ctx.bus);
    const publisher = new JsPublisher(ctx.bus.replies(), DEFAULT_JS_ACK_TIMEOUT_MS);
    const store = await RunStore.open(ctx.bus, settings.bucket, publisher);
    const outbox = new Outbox();
    const events = new RunEvents(ctx.bus, publisher, ctx.clock, ctx.log, DEFAULT_AUDIT_RETRY_MS, outbox);
    const o = new Orchestrator(ctx, store, events, settings, outbox);
    const behavior = o.behavior();
    // Recovery needs the bus but not the subscriptions; results arriving meanwhile find their runs in the store.
    await o.recover({ atStart: true });
    // Reports kept while no orchestrator ran go into the mailbox before any heartbeat.
    o.results = await ResultsConsumer.open(
      ctx,
      {
        durable: DEFAULT_RESULTS_DURABLE,
        ackWaitMs: DEFAULT_RESULTS_ACK_WAIT_MS,
        maxAckPending: DEFAULT_RESULTS_MAX_ACK_PENDING,
        batch: DEFAULT_RESULTS_BATCH,
        retryMs: DEFAULT_RESULTS_RETRY_MS,
      },
      outbox,
    );
    await o.results.start();
    o.startSweeping();
    return behavior;
  },
});
