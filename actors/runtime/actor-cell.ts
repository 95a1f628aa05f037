/**
 * One running actor's mechanics (actor.ts is the face): its mailbox and the one-at-a-time pump, the
 * replies it owes (exactly one per ask), heartbeats, and the three ways out: graceful stop, crash, kill.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { Bus } from '../../bus/bus.ts';
import type { BusOptions } from '../../bus/bus-options.ts';
import { systemClock, type TimerHandle } from '../../infra/clock/clock.ts';
import { createLogger, type Logger } from '../../infra/logger.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import {
  ActorCrashedError,
  ActorStoppedError,
  BusClosedError,
  serializeError,
  type SerializedError,
  toGovError,
  UnhandledMessageError,
} from '../../protocols/vocabulary/errors.ts';
import {
  actorInbox,
  exitSubject,
  heartbeatSubject,
  serviceQueue,
  serviceSubject,
  startedSubject,
} from '../../protocols/subjects.ts';
import type { ActorHandle, ActorState, ExitReason, ExitReport, RunActorOptions } from './actor-handle.ts';
import { type ActorBehavior, type ActorContext, type ActorKind, Refusal } from './actor-kind.ts';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_STOP_DRAIN_MS } from './actor-options.ts';
import { FencedClock } from './fenced-clock.ts';
import { takeCredentialMessage } from './credential-messages.ts';
import { leaseHostRedis } from './host-redis.ts';

/** A message the actor sent itself (ctx.self): already an envelope. */
interface LocalMsg {
  subject: string;
  data: Uint8Array;
  reply: string;
  headers: undefined;
  local: Envelope;
}

const EMPTY = new Uint8Array(0);

export class ActorCell<A> {
  readonly handle: ActorHandle;
  private state: ActorState = 'starting';
  private processed = 0;
  private hbSeq = 0;
  private hbTimer: TimerHandle | undefined;
  private readonly subs: Subscription[] = [];
  private readonly mailbox: Msg[] = [];
  /** What the actor handed over with `ctx.hold`, dropped if it is killed. */
  private readonly held = new Set<() => void>();
  private draining = false;
  private resolveExit!: (r: ExitReport) => void;
  private readonly exited = new Promise<ExitReport>((r) => {
    this.resolveExit = r;
  });
  private behavior: ActorBehavior | undefined;
  private readonly incarnation = randomUUID();
  /** How long the connection took to open (where a restart's time goes: logged once started). */
  private connectMs = 0;
  /** Removes this actor's listeners from its connection (shared by host-mates, it outlives the actor). */
  private detach: () => void = () => {};
  /** Why the actor crashed (set once, by `crash`). */
  private crashError: Error | undefined;
  private readonly startedAt: number;
  private readonly heartbeatMs: number;

  /** Connects the actor's own bus; nothing of the behaviour runs yet. */
  static async open<A>(kind: ActorKind<A>, args: A, options: RunActorOptions): Promise<ActorCell<A>> {
    const clock = new FencedClock(options.clock ?? systemClock);
    const address = actorInbox(kind.kind, options.id);
    const busOptions: BusOptions = { ...options.bus, name: address, clock };
    const host = options.host;
    const connecting = performance.now();
    const bus = host
      ? Bus.onShared(host.connection, busOptions, host.principal)
      : await Bus.connect(busOptions);
    const connectMs = performance.now() - connecting;
    const log = (options.log ?? createLogger()).child({ actor: address });
    const cell = new ActorCell(kind, args, options, { clock, address, busOptions, bus, log });
    cell.connectMs = connectMs;
    return cell;
  }

  private readonly clock: FencedClock;
  private readonly address: string;
  private readonly bus: Bus;
  private readonly log: Logger;
  private readonly busOptions: BusOptions;

  private constructor(
    private readonly kind: ActorKind<A>,
    private readonly args: A,
    private readonly options: RunActorOptions,
    io: { clock: FencedClock; address: string; busOptions: BusOptions; bus: Bus; log: Logger },
  ) {
    this.clock = io.clock;
    this.address = io.address;
    this.bus = io.bus;
    this.log = io.log;
    this.busOptions = io.busOptions;
    this.clock.onError = (err) => void this.crash(err);
    // A connection that ends for good (nats.js gives up after repeated authentication errors, say)
    // leaves an actor that can neither hear nor answer: it crashes, so its supervisor replaces it with
    // a fresh connection (and fresh credentials) instead of keeping a deaf child that looks alive.
    const offStatus = this.bus.onStatus((s) => {
      this.log.debug('connection', { state: s });
      if (s === 'closed' && (this.state === 'running' || this.state === 'starting'))
        void this.crash(new BusClosedError(`the connection of ${this.address} closed`));
    });
    // A shared connection's errors are its host's: logged once there, not by each actor on it.
    const offErrors = options.host
      ? () => {}
      : this.bus.onConnectionError((error) => this.log.warn('connection error', { error }));
    // A shared connection outlives its actors: their listeners go with them.
    this.detach = () => {
      offStatus();
      offErrors();
    };
    void this.exited.then(this.detach);
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.startedAt = this.clock.now();
    const cell = this;
    this.handle = {
      id: options.id,
      kind: kind.kind,
      address: this.address,
      incarnation: this.incarnation,
      get state() {
        return cell.state;
      },
      exited: this.exited,
      processed: () => this.processed,
      stop: (reason, drainMs) => this.stop(reason, drainMs),
      kill: () => this.kill(),
    };
  }

  private context(): ActorContext<A> {
    return {
      id: this.options.id,
      kind: this.kind.kind,
      address: this.address,
      bus: this.bus,
      clock: this.clock,
      log: this.log,
      args: this.args,
      busOptions: this.busOptions,
      crash: (err) => void this.crash(err),
      self: (msg: OutMessage) => {
        // Made here, not received: it skips the codec (no bytes, no boundary validation to repeat).
        const local: LocalMsg = {
          subject: this.address,
          data: EMPTY,
          reply: '',
          headers: undefined,
          local: this.bus.wrap(msg),
        };
        this.enqueue(local as unknown as Msg);
      },
      hold: (resource, drop) => this.hold(resource, drop),
      redis: (url, options) => {
        if (!this.options.host) return this.hold(new Redis(url, options ?? {}), (r) => r.disconnect());
        const lease = leaseHostRedis(url, options);
        return this.hold(lease.redis, () => lease.kill());
      },
    };
  }

  private hold<T>(resource: T, drop: (resource: T) => void): T {
    const release = () => drop(resource);
    if (this.state === 'crashed' || this.state === 'stopped') release();
    else this.held.add(release);
    return resource;
  }

  /** Starts the behaviour, subscribes, announces the actor and starts its heartbeat. */
  async start(): Promise<void> {
    const { bus, kind } = this;
    const starting = performance.now();
    try {
      this.behavior = await kind.start(this.context());
      // Crashed while starting (ctx.crash, the connection lost): that is a failed start, never a
      // running actor on a closed connection (a supervisor escalating during its init was one).
      if (this.state !== 'starting')
        throw this.crashError ?? new ActorCrashedError(`${this.address} crashed`);
      const enqueue = (m: Msg) => this.enqueue(m);
      this.subs.push(bus.subscribeRaw(this.address, enqueue));
      if (this.behavior.service !== false)
        this.subs.push(
          bus.subscribeRaw(serviceSubject(kind.kind), enqueue, { queue: serviceQueue(kind.kind) }),
        );
      for (const s of this.behavior.subscriptions ?? [])
        this.subs.push(bus.subscribeRaw(s.subject, enqueue, { queue: s.queue }));
      // Subscriptions live before the announcement; while disconnected both wait in nats.js for the
      // reconnect, which sends subscriptions before buffered publishes: no reason to fail the start.
      await bus.flush().catch((err: unknown) => {
        if (bus.isClosed()) throw err;
      });
    } catch (err) {
      if (this.state !== 'starting') {
        // crash() has reported the exit and closed the connection; what the behaviour started stops here.
        await this.stopBehavior();
        await this.exited;
        throw toGovError(this.crashError ?? err);
      }
      this.state = 'crashed';
      this.detach();
      this.unsubscribeAll();
      this.dropHeld();
      await this.publishExit('crash', serializeError(err));
      await bus.close();
      throw toGovError(err);
    }
    this.state = 'running';
    this.log.info('started', {
      connectMs: Math.round(this.connectMs),
      startMs: Math.round(performance.now() - starting),
      uptimeMs: Math.round(process.uptime() * 1000),
    });
    bus.tell(startedSubject(kind.kind, this.options.id), {
      type: 'actor.started.v1',
      body: {
        actorId: this.options.id,
        kind: kind.kind,
        pid: process.pid,
        host: hostname(),
        incarnation: this.incarnation,
      },
    });
    this.heartbeat();
    this.hbTimer = this.clock.setInterval(() => this.heartbeat(), this.heartbeatMs);
    void this.pump();
  }

  private unsubscribeAll() {
    for (const s of this.subs.splice(0)) {
      try {
        s.unsubscribe();
      } catch {
        // connection already closed
      }
    }
  }

  private dropHeld() {
    for (const release of [...this.held]) {
      try {
        release();
      } catch (err) {
        this.log.warn('could not drop a held resource', { error: String(err) });
      }
    }
    this.held.clear();
  }

  private async publishExit(reason: ExitReason, error?: SerializedError): Promise<ExitReport> {
    const { id } = this.options;
    const kind = this.kind.kind;
    const report: ExitReport = { actorId: id, kind, reason, ...(error ? { error } : {}) };
    try {
      this.bus.tell(exitSubject(kind, id), {
        type: 'actor.exit.v1',
        body: {
          actorId: id,
          kind,
          pid: process.pid,
          incarnation: this.incarnation,
          reason,
          ...(error ? { error } : {}),
        },
      });
      await this.bus.flush();
    } catch (err) {
      this.log.warn('could not publish exit report', { error: String(err) });
    }
    return report;
  }

  private async stopBehavior() {
    try {
      await this.behavior?.stop?.();
    } catch (err) {
      this.log.warn('behaviour stop failed', { error: String(err) });
    }
  }

  private async crash(err: unknown) {
    if (this.state === 'crashed' || this.state === 'stopped') return;
    this.state = 'crashed';
    if (this.hbTimer) this.clock.clear(this.hbTimer);
    this.unsubscribeAll();
    const error = toGovError(err);
    this.crashError = error;
    this.log.error('actor crashed', { code: error.code, error: error.message });
    const crashed = new ActorCrashedError(`actor ${this.address} crashed: ${error.message}`, {
      cause: error,
    });
    for (const m of this.mailbox.splice(0)) {
      if (m.reply) this.bus.respondError(m, crashed);
      else this.bus.deadLetter(m, crashed);
    }
    await this.stopBehavior();
    this.held.clear(); // the behaviour's stop released what it holds
    const report = await this.publishExit('crash', serializeError(error));
    await this.bus.close();
    this.resolveExit(report);
  }

  /** Answers one message: exactly one reply per ask, whatever the handler does. */
  private async handleOne(m: Msg) {
    const { bus, address } = this;
    const local = (m as unknown as Partial<LocalMsg>).local;
    const decoded = local ? ({ ok: true, env: local } as const) : bus.decode(m.data);
    if (!decoded.ok) {
      bus.deadLetter(m, decoded.error);
      bus.respondError(m, decoded.error);
      return;
    }
    const env = decoded.env;
    this.processed++;
    if (env.type === 'actor.ping.v1') {
      const body = {
        actorId: this.options.id,
        kind: this.kind.kind,
        pid: process.pid,
        processed: this.processed,
      };
      bus.respond(m, { type: 'actor.pong.v1', body }, env);
      return;
    }
    if (env.type === 'actor.stop.v1') {
      bus.respond(m, { type: 'ack.v1', body: { ok: true } }, env);
      void this.stop(env.body.reason);
      return;
    }
    // The credential authority's renewals and rekeys, on this actor's own inbox (only system
    // credentials may publish there): the runtime owns the connection, so it takes them for every kind.
    if (
      (env.type === 'credentials.rekey.v1' || env.type === 'credentials.renewed.v1') &&
      m.subject === address
    ) {
      await takeCredentialMessage(this.bus, this.log, m, env);
      return;
    }
    const b = this.behavior!;
    if (!b.accepts.includes(env.type)) {
      const err = new UnhandledMessageError(`${address} does not handle ${env.type}`, {
        details: { type: env.type },
      });
      bus.metrics.inc(`rejected.${err.code}`);
      bus.deadLetter(m, err);
      bus.respondError(m, err);
      return;
    }
    let out: OutMessage | Refusal | undefined | void;
    try {
      out = await b.handle(env as Envelope, {
        subject: m.subject,
        reply: m.reply || undefined,
        headers: m.headers,
        size: m.data.length,
      });
    } catch (err) {
      if (m.reply)
        bus.respondError(
          m,
          new ActorCrashedError(`actor ${address} crashed: ${toGovError(err).message}`, { cause: err }),
        );
      await this.crash(err);
      return;
    }
    if (out instanceof Refusal) {
      bus.metrics.inc(`refused.${out.error.code}`);
      if (m.reply) bus.respondError(m, out.error);
      else bus.deadLetter(m, out.error);
      return;
    }
    if (m.reply) bus.respond(m, out ?? { type: 'ack.v1', body: { ok: true } }, env);
  }

  private async pump() {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.mailbox.length > 0 && (this.state === 'running' || this.state === 'stopping')) {
        await this.handleOne(this.mailbox.shift()!);
      }
    } finally {
      this.draining = false;
    }
  }

  private enqueue(m: Msg) {
    if (this.state !== 'running' && this.state !== 'starting') {
      if (m.reply) this.bus.respondError(m, new ActorStoppedError(`actor ${this.address} is ${this.state}`));
      return;
    }
    this.mailbox.push(m);
    if (this.state === 'running') void this.pump();
  }

  private heartbeat() {
    if (this.state !== 'running') return;
    try {
      this.bus.tell(heartbeatSubject(this.kind.kind, this.options.id), {
        type: 'actor.heartbeat.v1',
        body: {
          actorId: this.options.id,
          kind: this.kind.kind,
          seq: this.hbSeq++,
          pid: process.pid,
          host: hostname(),
          uptimeMs: this.clock.now() - this.startedAt,
          mailboxDepth: this.mailbox.length,
          processed: this.processed,
          intervalMs: this.heartbeatMs,
          ...(this.behavior?.status ? { status: this.behavior.status() } : {}),
        },
      });
    } catch (err) {
      this.log.warn('heartbeat failed', { error: String(err) });
    }
  }

  /** Graceful: drain what is queued, run the behaviour's stop, report `shutdown`. */
  private async stop(reason?: string, drainMs = DEFAULT_STOP_DRAIN_MS): Promise<ExitReport> {
    if (this.state !== 'running' && this.state !== 'starting') return this.exited;
    this.state = 'stopping';
    if (this.hbTimer) this.clock.clear(this.hbTimer);
    this.unsubscribeAll();
    this.log.info('stopping', { reason });
    const drained = (async () => {
      while (this.mailbox.length > 0 || this.draining) {
        await this.pump();
        if (this.draining) await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.race([drained, new Promise((r) => setTimeout(r, drainMs))]);
    if (this.state !== 'stopping') return this.exited; // crashed while draining
    this.state = 'stopped';
    for (const m of this.mailbox.splice(0)) {
      if (m.reply) this.bus.respondError(m, new ActorStoppedError(`actor ${this.address} stopped`));
      else
        this.bus.deadLetter(
          m,
          new ActorStoppedError(`actor ${this.address} stopped before handling this message`),
        );
    }
    await this.stopBehavior();
    this.held.clear();
    const report = await this.publishExit('shutdown');
    await this.bus.close();
    this.resolveExit(report);
    return this.exited;
  }

  /** SIGKILL semantics: none of the actor's code runs from here on (see actor.ts). */
  private async kill(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'crashed') return;
    this.state = 'crashed';
    this.clock.fence();
    this.mailbox.length = 0;
    this.subs.length = 0; // dropped with the connection, not unsubscribed one by one
    this.dropHeld();
    await this.bus.kill();
    this.resolveExit({
      actorId: this.options.id,
      kind: this.kind.kind,
      reason: 'crash',
      error: serializeError(new ActorCrashedError(`actor ${this.address} was killed`)),
    });
  }
}
