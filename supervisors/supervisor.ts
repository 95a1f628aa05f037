/**
 * The supervisor actor: carries out the commands of the pure OTP reducer (supervisor-logic.ts, whose
 * doc comment is the specification of restart semantics) against real children.
 *
 * Children (StartDescriptor):
 * - `actor`: an actor in this supervisor's host process (runActor);
 * - `process`: an actor in its own OS process (`agov actor <kind> --id <id>`), started here;
 * - `supervisor`: a nested supervisor (an in-host `supervisor` actor), forming a tree.
 *
 * Death is detected three ways, whichever comes first:
 * 1. the child's exit report (`actor.exit.v1` on `gov.sys.exit.<kind>.<id>`): immediate for crashes;
 * 2. the child process exiting (the OS tells us): immediate for SIGKILL and the like;
 * 3. missed heartbeats: no `actor.heartbeat.v1` for `missedBeats × heartbeatMs` (a hung child, e.g. one
 *    stopped with SIGSTOP, or one cut off from the bus); the child is then killed and counted as crashed.
 * Reports are tagged with the child's incarnation, so a late report from a replaced child is ignored.
 *
 * Escalation: when the reducer gives up (restart intensity exceeded), the supervisor has already
 * stopped its children; it then crashes itself with the reason, and its own parent applies its strategy.
 *
 * Every start, exit (with reason and how it was detected), hang, scheduled restart and escalation is
 * published on the feed (`gov.obs.supervisor.<id>`, `supervisor.event.v1`) and the audit stream.
 * `supervisor.status.v1` answers one page of the tree with each child's status, restarts and last heartbeat,
 * and the whole subtree's summary (supervisor-tree.ts reads a tree of any size page by page).
 */
import type { Subscription } from '@nats-io/transport-node';
import type { TimerHandle } from '../infra/index.ts';
import { type ActorHandle, runActor } from '../actors/runtime/index.ts';
import {
  type ActorBehavior,
  type ActorContext,
  type ActorKind,
  defineActorKind,
} from '../actors/runtime/index.ts';
import {
  ACTOR_KIND,
  auditSubject,
  exitSubject,
  heartbeatSubject,
  type BodyIn,
  type SerializedError,
  type SupervisorTree,
  serializeError,
  toGovError,
} from '../protocols/index.ts';
import { z } from 'zod';
import { arg } from '../actors/runtime/index.ts';
import {
  type ChildSpec,
  type StartDescriptor,
  type SupervisorSpec,
  validateSupervisorSpec,
} from './child-spec.ts';
import { HangDetector } from './hang-detector.ts';
import { SupervisorEscalation } from './supervisor-escalation.ts';
import { type TreeRequest, treeRequest } from './supervisor-tree.ts';
import { descriptorKind, treePage } from './supervisor-status.ts';
import type { ProcessChild } from './process-child.ts';
import { startProcessChild } from './process-launch.ts';
import { issuerSeedFor } from '../infra/nats-auth/index.ts';
import { childCredentials, childPrincipal } from './child-credentials.ts';
import {
  type ChildExitReason,
  initSupervisor,
  onChildExit,
  onChildStarted,
  onChildStartFailed,
  onRestartDue,
  type SupervisorCommand,
  type SupervisorState,
  type SupervisorStep,
  stopSupervisor,
} from './supervisor-logic.ts';
import {
  DEFAULT_CHILD_HEARTBEAT_MS,
  DEFAULT_MISSED_BEATS,
  DEFAULT_PROCESS_START_TIMEOUT_MS,
  DEFAULT_AGENTS_PER_CONNECTION,
  DEFAULT_RECONNECT_GRACE_MS,
} from './supervisor-options.ts';
import { HostConnections } from './host-connections.ts';

type Running =
  | { type: 'actor' | 'supervisor'; incarnation: number; handle: ActorHandle; kind: string; actorId: string }
  | { type: 'process'; incarnation: number; proc: ProcessChild; kind: string; actorId: string };

interface ChildRuntime {
  running?: Running;
  subs: Subscription[];
  lastHeartbeatMs?: number;
  heartbeatStatus?: Record<string, unknown>;
}

/** Start arguments of a supervisor. */
export const SupervisorArgsSchema = z.strictObject({
  /** What it supervises; checked in full (validateSupervisorSpec) before anything starts. */
  spec: z.custom<SupervisorSpec>().superRefine((spec, issues) => {
    try {
      validateSupervisorSpec(spec);
    } catch (err) {
      issues.addIssue({ code: 'custom', message: toGovError(err).message });
    }
  }),
  /** Heartbeat interval given to children. */
  childHeartbeatMs: arg.positive().default(DEFAULT_CHILD_HEARTBEAT_MS),
  /** Missed heartbeat intervals after which a child is declared hung. */
  missedBeats: arg.positive().default(DEFAULT_MISSED_BEATS),
  processStartTimeoutMs: arg.positive().default(DEFAULT_PROCESS_START_TIMEOUT_MS),
  /** In-host agents per shared connection; 0: each connects on its own (host-connections.ts). */
  agentsPerConnection: arg.int().default(DEFAULT_AGENTS_PER_CONNECTION),
  /** After our connection to the bus came back, how long a child may stay silent before it is hung. */
  reconnectGraceMs: arg.positive().default(DEFAULT_RECONNECT_GRACE_MS),
});
export type SupervisorArgs = z.output<typeof SupervisorArgsSchema>;

/** How a supervisor finds the kind of an in-host child (lazily, so a process loads only what it runs). */
export type ActorKindLoader = (kind: string) => Promise<ActorKind> | ActorKind;

/** The `supervisor` actor kind; `loadKind` resolves its in-host children's kinds, supervisors included. */
export function createSupervisorKind(loadKind: ActorKindLoader) {
  return defineActorKind({
    kind: ACTOR_KIND.supervisor,
    description:
      'OTP-style supervisor: starts, watches and restarts its children (actors, processes, supervisors)',
    args: SupervisorArgsSchema,
    start(ctx) {
      return new SupervisorRuntime(ctx, loadKind).behavior();
    },
  });
}

class SupervisorRuntime {
  private state!: SupervisorState;
  private readonly children = new Map<string, ChildRuntime>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly hangs: HangDetector;
  private readonly heartbeatMs: number;
  private readonly args: SupervisorArgs;
  private incarnations = 0;
  /** Inputs to the reducer, one at a time (the runtime contract of supervisor-logic.ts). */
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Audit publishes not yet acknowledged by the stream; a stop waits for them. */
  private readonly audits = new Set<Promise<void>>();
  /** The connections its in-host agents share. */
  private readonly hosts: HostConnections;

  constructor(
    private readonly ctx: ActorContext<SupervisorArgs>,
    private readonly loadKind: ActorKindLoader,
  ) {
    this.args = ctx.args;
    this.heartbeatMs = this.args.childHeartbeatMs;
    this.hosts = new HostConnections(
      ctx.busOptions.servers,
      ctx.id,
      this.args.spec.children,
      this.args.agentsPerConnection,
    );
    this.hangs = new HangDetector({
      clock: ctx.clock,
      missedBeats: this.args.missedBeats,
      reconnectGraceMs: this.args.reconnectGraceMs,
      onHung: (childId) => this.hung(childId),
    });
    // Heartbeats come over the bus: its outage is no child's hang (restart-nats chaos).
    ctx.bus.onStatus((s) => (s === 'connected' ? this.hangs.busBack() : this.hangs.busLost()));
    // Killed (SIGKILL semantics, no shutdown), a supervisor takes its children with it as its process
    // would: in-host children die with it, process children lose the pipe they watch and exit.
    ctx.hold(this.children, (children) => {
      for (const { running } of children.values()) {
        if (running?.type === 'process') running.proc.orphan();
        else if (running) void running.handle.kill();
      }
      void this.hosts.killAll();
    });
  }

  async behavior(): Promise<ActorBehavior> {
    await this.input(() => initSupervisor(this.args.spec, this.ctx.clock.now()));
    return {
      accepts: ['supervisor.status.v1'],
      service: false,
      status: () => ({ phase: this.state.phase, children: this.state.children.length }),
      handle: async (env) => {
        if (env.type !== 'supervisor.status.v1') return undefined;
        return { type: 'supervisor.tree.v1', body: await this.tree(treeRequest(env.body)) };
      },
      stop: () => this.shutdown(),
    };
  }

  /** Feeds one input to the reducer and carries out its commands before the next input. */
  private input(step: () => SupervisorStep): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.state?.phase === 'terminated' && this.stopping) return;
      const { state, commands } = step();
      this.state = state;
      await this.execute(commands);
    });
    this.queue = run.catch((err) => this.ctx.crash(err));
    return run;
  }

  private async execute(commands: SupervisorCommand[]): Promise<void> {
    for (const cmd of commands) {
      switch (cmd.type) {
        case 'start':
          await this.startChild(cmd.childId, cmd.start);
          break;
        case 'stop':
          await this.stopChild(cmd.childId, cmd.shutdownMs);
          break;
        case 'schedule-restart': {
          this.event({ event: 'child-restart-scheduled', childId: cmd.childId, delayMs: cmd.delayMs });
          const t = this.ctx.clock.setTimeout(() => {
            this.timers.delete(cmd.childId);
            void this.input(() => onRestartDue(this.state, cmd.childId, this.ctx.clock.now()));
          }, cmd.delayMs);
          this.timers.set(cmd.childId, t);
          break;
        }
        case 'escalate':
          this.event({ event: 'escalated', childId: cmd.childId, reason: cmd.reason });
          this.ctx.crash(new SupervisorEscalation(this.ctx.id, cmd.cause, cmd.childId));
          return;
      }
    }
  }

  private spec(childId: string): ChildSpec | undefined {
    return this.state.children.find((c) => c.spec.id === childId)?.spec;
  }

  private async startChild(childId: string, start: StartDescriptor): Promise<void> {
    const { kind, actorId } = descriptorKind(start);
    const incarnation = ++this.incarnations;
    const rt: ChildRuntime = this.children.get(childId) ?? { subs: [] };
    this.children.set(childId, rt);
    this.unsubscribe(rt);
    const now = () => this.ctx.clock.now();
    const bus = this.ctx.bus;
    // Listen before starting, so no report can slip between start and subscribe.
    rt.subs.push(
      bus.subscribeRaw(exitSubject(kind, actorId), (m) => {
        const d = bus.decode(m.data);
        if (!d.ok || d.env.type !== 'actor.exit.v1') return;
        const body = d.env.body;
        if (rt.running?.incarnation !== incarnation) return;
        if (
          rt.running.type === 'process'
            ? body.pid !== rt.running.proc.pid
            : body.incarnation !== rt.running.handle.incarnation
        )
          return;
        const reason: ChildExitReason =
          body.reason === 'crash'
            ? { error: (body.error as SerializedError | undefined) ?? 'crash' }
            : body.reason === 'normal'
              ? 'normal'
              : 'shutdown';
        this.childDied(childId, incarnation, reason, 'exit-report');
      }),
      bus.subscribeRaw(heartbeatSubject(kind, actorId), (m) => {
        const d = bus.decode(m.data);
        if (!d.ok || d.env.type !== 'actor.heartbeat.v1' || rt.running?.incarnation !== incarnation) return;
        rt.lastHeartbeatMs = now();
        rt.heartbeatStatus = d.env.body.status;
        this.hangs.beat(childId, d.env.body.intervalMs);
      }),
    );
    try {
      rt.running = await this.launch(start, kind, actorId, incarnation, childId);
    } catch (err) {
      this.unsubscribe(rt);
      this.ctx.log.warn('child start failed', { childId, error: String(err) });
      this.event({
        event: 'child-start-failed',
        childId,
        actorKind: kind,
        actorId,
        reason: { error: serializeError(err) },
      });
      const step = onChildStartFailed(this.state, childId, serializeError(err), now());
      this.state = step.state;
      await this.execute(step.commands);
      return;
    }
    this.hangs.watch(childId, this.heartbeatMs);
    rt.lastHeartbeatMs = now();
    const pid = rt.running.type === 'process' ? rt.running.proc.pid : process.pid;
    this.event({
      event: 'child-started',
      childId,
      actorKind: kind,
      actorId,
      pid,
      restartCount: this.restartCount(childId),
    });
    const step = onChildStarted(this.state, childId, now());
    this.state = step.state;
    await this.execute(step.commands);
  }

  private async launch(
    start: StartDescriptor,
    kind: string,
    actorId: string,
    incarnation: number,
    childId: string,
  ): Promise<Running> {
    const busOptions = { ...this.ctx.busOptions } as Record<string, unknown>;
    delete busOptions.name;
    const host = start.kind === 'actor' ? await this.hosts.shareFor(kind, actorId) : undefined;
    // Each child connects as itself, with exactly the rights of its kind (or tier) — never ours; on
    // its host's connection, as one of the members the host's credential names (host-connections.ts).
    const credentials = host
      ? undefined
      : await childCredentials(
          this.ctx.busOptions.servers,
          this.ctx.busOptions.credentials,
          childPrincipal(kind, actorId, start.kind === 'supervisor' ? undefined : start.args),
        );
    busOptions.credentials = credentials;
    if (start.kind === 'process') {
      const proc = await startProcessChild({
        bus: this.ctx.bus,
        natsUrl: this.ctx.busOptions.servers,
        log: this.ctx.log,
        childId,
        kind,
        actorId,
        start,
        credentials,
        issuerSeed: kind === 'supervisor' ? issuerSeedFor(this.ctx.busOptions.servers) : undefined,
        heartbeatMs: this.heartbeatMs,
        supervision: this.args,
      });
      void proc.exited.then((e) => {
        const reason: ChildExitReason =
          e.code === 0
            ? 'shutdown'
            : { error: e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}` };
        this.childDied(childId, incarnation, reason, 'process-exit');
      });
      return { type: 'process', incarnation, proc, kind, actorId };
    }
    const actorKind = await this.loadKind(kind);
    const args = start.kind === 'supervisor' ? { ...this.args, spec: start.spec } : (start.args ?? {});
    const handle = await runActor(actorKind, {
      id: actorId,
      args,
      bus: busOptions as never,
      heartbeatMs: this.heartbeatMs,
      clock: this.ctx.clock,
      log: this.ctx.log,
      ...(host ? { host } : {}),
    });
    return { type: start.kind, incarnation, handle, kind, actorId };
  }

  /** A child died (detected by `detectedBy`); feeds the exit to the reducer once per incarnation. */
  private childDied(
    childId: string,
    incarnation: number,
    reason: ChildExitReason,
    detectedBy: 'exit-report' | 'process-exit' | 'heartbeat',
  ) {
    const rt = this.children.get(childId);
    if (!rt?.running || rt.running.incarnation !== incarnation || this.stopping) return;
    const running = rt.running;
    rt.running = undefined;
    this.hangs.unwatch(childId);
    this.unsubscribe(rt);
    if (running.type === 'process') running.proc.signal('SIGKILL'); // an exit report may precede the exit
    const pid = running.type === 'process' ? running.proc.pid : process.pid;
    this.event({
      event: 'child-exited',
      childId,
      actorKind: running.kind,
      actorId: running.actorId,
      pid,
      reason,
      detectedBy,
    });
    void this.input(() => onChildExit(this.state, { childId, reason }, this.ctx.clock.now()));
  }

  /** A child silent past its threshold: killed, and counted as crashed. */
  private hung(childId: string) {
    const running = this.children.get(childId)?.running;
    if (!running) return;
    this.event({ event: 'child-hung', childId, actorKind: running.kind, actorId: running.actorId });
    if (running.type === 'process') running.proc.signal('SIGKILL');
    else void running.handle.kill();
    this.childDied(childId, running.incarnation, { error: 'hung: missed heartbeats' }, 'heartbeat');
  }

  private async stopChild(childId: string, shutdownMs: ChildSpec['shutdownMs']): Promise<void> {
    const rt = this.children.get(childId);
    const running = rt?.running;
    if (!rt || !running) return;
    rt.running = undefined; // exits from here on are expected, not crashes
    this.hangs.unwatch(childId);
    this.unsubscribe(rt);
    const t = this.timers.get(childId);
    if (t) this.ctx.clock.clear(t);
    if (running.type === 'process') {
      if (shutdownMs === 'brutal_kill') running.proc.signal('SIGKILL');
      await running.proc.stop(shutdownMs === 'brutal_kill' ? 0 : shutdownMs);
    } else if (shutdownMs === 'brutal_kill') {
      await running.handle.kill();
    } else {
      const limit = shutdownMs === 'infinity' ? 24 * 3_600_000 : shutdownMs;
      const stopped = running.handle.stop('supervisor stop', limit);
      const timedOut = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), limit + 50).unref());
      if ((await Promise.race([stopped, timedOut])) === 'timeout') await running.handle.kill();
    }
    this.event({ event: 'child-stopped', childId, actorKind: running.kind, actorId: running.actorId });
  }

  private unsubscribe(rt: ChildRuntime) {
    for (const s of rt.subs.splice(0)) {
      try {
        s.unsubscribe();
      } catch {
        // connection closed
      }
    }
  }

  private restartCount(childId: string): number {
    return this.state.children.find((c) => c.spec.id === childId)?.restartCount ?? 0;
  }

  private event(body: Omit<BodyIn<'supervisor.event.v1'>, 'supervisorId'>) {
    const msg = { type: 'supervisor.event.v1' as const, body: { supervisorId: this.ctx.id, ...body } };
    try {
      const env = this.ctx.bus.emit(['supervisor', this.ctx.id], msg);
      const p = this.ctx.bus
        .publishDurable(auditSubject('supervisor', this.ctx.bus.principal()), env)
        .then(() => undefined)
        .catch((err) => this.ctx.log.warn('audit publish failed', { error: String(err) }))
        .finally(() => this.audits.delete(p));
      this.audits.add(p);
    } catch (err) {
      this.ctx.log.warn('supervisor event not published', { error: String(err) });
    }
  }

  private tree(req: TreeRequest): Promise<SupervisorTree> {
    const s = this.args.spec;
    return treePage({
      bus: this.ctx.bus,
      supervisor: {
        supervisorId: this.ctx.id,
        strategy: s.strategy,
        intensity: s.intensity,
        periodMs: s.periodMs,
      },
      state: this.state,
      spec: (id) => this.spec(id)!,
      child: (id) => {
        const rt = this.children.get(id);
        const running = rt?.running;
        return {
          running: running !== undefined,
          ...(running?.type === 'process' && running.proc.pid ? { pid: running.proc.pid } : {}),
          ...(rt?.lastHeartbeatMs ? { lastHeartbeatMs: rt.lastHeartbeatMs } : {}),
          ...(rt?.heartbeatStatus ? { heartbeatStatus: rt.heartbeatStatus } : {}),
        };
      },
      req,
    });
  }

  /** Graceful stop (or after a crash): children in reverse start order, then timers. */
  private async shutdown(): Promise<void> {
    this.hangs.disarm();
    for (const t of this.timers.values()) this.ctx.clock.clear(t);
    this.timers.clear();
    await this.queue.catch(() => {});
    if (this.state && this.state.phase !== 'terminated') {
      const step = stopSupervisor(this.state);
      this.state = step.state;
      await this.execute(step.commands);
    }
    this.stopping = true;
    // A start queued before the stop may have armed the watchdog again.
    this.hangs.end();
    // Anything still running (e.g. after an escalation crash) must not outlive its supervisor.
    for (const [childId, rt] of this.children) {
      if (rt.running) await this.stopChild(childId, 'brutal_kill');
    }
    await Promise.all([...this.audits]);
    await this.hosts.closeAll();
  }
}
