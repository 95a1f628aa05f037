/**
 * The actor runtime: one actor = one NATS connection (its own credentials), one mailbox handled
 * one message at a time in arrival order, periodic heartbeats, graceful stop and crash semantics.
 *
 * Lifecycle: starting → running → (stopping → stopped) | crashed.
 * - started: after its subscriptions are live it publishes `actor.started.v1`, then heartbeats
 *   (`actor.heartbeat.v1`, the first one at once) every `heartbeatMs`.
 * - crash: an exception thrown by a handler (or passed to `ctx.crash`) crashes this actor only:
 *   subscriptions close, the asker of the failing message and of every message still queued gets a
 *   retryable GOV_ERR_ACTOR_CRASHED, queued tells are dead-lettered (so nothing vanishes silently),
 *   and an `actor.exit.v1` with reason `crash` and the error is published for its supervisor.
 * - stop: `actor.stop.v1` or `handle.stop()` unsubscribes, drains what is already queued, calls the
 *   behaviour's stop and publishes `actor.exit.v1` with reason `shutdown`.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { Bus } from '../../bus/bus.ts';
import type { BusOptions } from '../../bus/bus-options.ts';
import { type Clock, systemClock, type TimerHandle } from '../../infra/clock.ts';
import { createLogger, type Logger } from '../../infra/logger.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import {
  ActorCrashedError,
  ActorStoppedError,
  serializeError,
  toGovError,
  UnhandledMessageError,
  type SerializedError,
} from '../../protocols/errors.ts';
import {
  actorInbox,
  exitSubject,
  heartbeatSubject,
  serviceQueue,
  serviceSubject,
  startedSubject,
} from '../../protocols/subjects.ts';
import { type ActorBehavior, type ActorContext, type ActorKind, Refusal } from './actor-kind.ts';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_STOP_DRAIN_MS } from './actor-options.ts';
import { parseStartArgs } from './start-args.ts';

export type ExitReason = 'normal' | 'shutdown' | 'crash';

export interface ExitReport {
  actorId: string;
  kind: string;
  reason: ExitReason;
  error?: SerializedError;
}

export interface RunActorOptions {
  id: string;
  args?: Record<string, unknown>;
  /** Connection settings; `name` is set to the actor's address. */
  bus: Omit<BusOptions, 'name'>;
  heartbeatMs?: number;
  clock?: Clock;
  log?: Logger;
}

export type ActorState = 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';

/** A handle on a running actor, held by whoever started it (host, supervisor, test). */
export interface ActorHandle {
  readonly id: string;
  readonly kind: string;
  readonly address: string;
  readonly incarnation: string;
  readonly state: ActorState;
  /** Resolves once the actor has exited, with why. */
  readonly exited: Promise<ExitReport>;
  /** Graceful stop: drain queued messages, then exit with reason `shutdown`. */
  stop(reason?: string, drainMs?: number): Promise<ExitReport>;
  /**
   * Abrupt end with no drain and no exit report, as if its process had been SIGKILLed;
   * for in-host children whose supervisor gave up waiting (shutdown timeout, brutal_kill).
   */
  kill(): Promise<void>;
  processed(): number;
}

/** A message the actor sent itself (ctx.self): already an envelope. */
interface LocalMsg {
  subject: string;
  data: Uint8Array;
  reply: string;
  headers: undefined;
  local: Envelope;
}

const EMPTY = new Uint8Array(0);

/**
 * Starts one actor of `kind` and resolves once it is subscribed and has announced itself.
 *
 * @example
 * const echo = await runActor(echoKind, { id: 'e1', bus: { servers: nats.url } });
 * await echo.stop();
 */
export async function runActor<A>(kind: ActorKind<A>, options: RunActorOptions): Promise<ActorHandle> {
  // Before anything is opened: a bad argument is the caller's mistake, not a crash of the actor.
  const args = parseStartArgs(kind.kind, kind.args, options.args);
  const clock = options.clock ?? systemClock;
  const address = actorInbox(kind.kind, options.id);
  const incarnation = randomUUID();
  const log = (options.log ?? createLogger()).child({ actor: address });
  const busOptions: BusOptions = { ...options.bus, name: address, clock };
  const bus = await Bus.connect(busOptions);
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const startedAt = clock.now();

  let state: ActorState = 'starting';
  let processed = 0;
  let hbSeq = 0;
  let hbTimer: TimerHandle | undefined;
  const subs: Subscription[] = [];
  const mailbox: Msg[] = [];
  let draining = false;
  let resolveExit!: (r: ExitReport) => void;
  const exited = new Promise<ExitReport>((r) => {
    resolveExit = r;
  });
  let behavior: ActorBehavior | undefined;

  const unsubscribeAll = () => {
    for (const s of subs.splice(0)) {
      try {
        s.unsubscribe();
      } catch {
        // connection already closed
      }
    }
  };

  const publishExit = async (reason: ExitReason, error?: SerializedError) => {
    const report: ExitReport = { actorId: options.id, kind: kind.kind, reason, ...(error ? { error } : {}) };
    try {
      bus.tell(exitSubject(kind.kind, options.id), {
        type: 'actor.exit.v1',
        body: {
          actorId: options.id,
          kind: kind.kind,
          pid: process.pid,
          incarnation,
          reason,
          ...(error ? { error } : {}),
        },
      });
      await bus.flush();
    } catch (err) {
      log.warn('could not publish exit report', { error: String(err) });
    }
    return report;
  };

  const stopBehavior = async () => {
    try {
      await behavior?.stop?.();
    } catch (err) {
      log.warn('behaviour stop failed', { error: String(err) });
    }
  };

  const crash = async (err: unknown) => {
    if (state === 'crashed' || state === 'stopped') return;
    state = 'crashed';
    if (hbTimer) clock.clear(hbTimer);
    unsubscribeAll();
    const error = toGovError(err);
    log.error('actor crashed', { code: error.code, error: error.message });
    const crashed = new ActorCrashedError(`actor ${address} crashed: ${error.message}`, { cause: error });
    for (const m of mailbox.splice(0)) {
      if (m.reply) bus.respondError(m, crashed);
      else bus.deadLetter(m, crashed);
    }
    await stopBehavior();
    const report = await publishExit('crash', serializeError(error));
    await bus.close();
    resolveExit(report);
  };

  const ctx: ActorContext<A> = {
    id: options.id,
    kind: kind.kind,
    address,
    bus,
    clock,
    log,
    args,
    busOptions,
    crash: (err) => void crash(err),
    self: (msg: OutMessage) => {
      // Made here, not received: it skips the codec (no bytes, no boundary validation to repeat).
      const local: LocalMsg = {
        subject: address,
        data: EMPTY,
        reply: '',
        headers: undefined,
        local: bus.wrap(msg),
      };
      enqueue(local as unknown as Msg);
    },
  };

  const handleOne = async (m: Msg) => {
    const local = (m as unknown as Partial<LocalMsg>).local;
    const decoded = local ? ({ ok: true, env: local } as const) : bus.decode(m.data);
    if (!decoded.ok) {
      bus.deadLetter(m, decoded.error);
      bus.respondError(m, decoded.error);
      return;
    }
    const env = decoded.env;
    processed++;
    if (env.type === 'actor.ping.v1') {
      bus.respond(
        m,
        {
          type: 'actor.pong.v1',
          body: { actorId: options.id, kind: kind.kind, pid: process.pid, processed },
        },
        env,
      );
      return;
    }
    if (env.type === 'actor.stop.v1') {
      bus.respond(m, { type: 'ack.v1', body: { ok: true } }, env);
      void handle.stop(env.body.reason);
      return;
    }
    const b = behavior!;
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
      await crash(err);
      return;
    }
    if (out instanceof Refusal) {
      bus.metrics.inc(`refused.${out.error.code}`);
      if (m.reply) bus.respondError(m, out.error);
      else bus.deadLetter(m, out.error);
      return;
    }
    if (m.reply) bus.respond(m, out ?? { type: 'ack.v1', body: { ok: true } }, env);
  };

  const pump = async () => {
    if (draining) return;
    draining = true;
    try {
      while (mailbox.length > 0 && (state === 'running' || state === 'stopping')) {
        await handleOne(mailbox.shift()!);
      }
    } finally {
      draining = false;
    }
  };

  function enqueue(m: Msg) {
    if (state !== 'running' && state !== 'starting') {
      if (m.reply) bus.respondError(m, new ActorStoppedError(`actor ${address} is ${state}`));
      return;
    }
    mailbox.push(m);
    if (state === 'running') void pump();
  }

  const heartbeat = () => {
    if (state !== 'running') return;
    try {
      bus.tell(heartbeatSubject(kind.kind, options.id), {
        type: 'actor.heartbeat.v1',
        body: {
          actorId: options.id,
          kind: kind.kind,
          seq: hbSeq++,
          pid: process.pid,
          host: hostname(),
          uptimeMs: clock.now() - startedAt,
          mailboxDepth: mailbox.length,
          processed,
          intervalMs: heartbeatMs,
          ...(behavior?.status ? { status: behavior.status() } : {}),
        },
      });
    } catch (err) {
      log.warn('heartbeat failed', { error: String(err) });
    }
  };

  const handle: ActorHandle = {
    id: options.id,
    kind: kind.kind,
    address,
    incarnation,
    get state() {
      return state;
    },
    exited,
    processed: () => processed,
    async stop(reason?: string, drainMs = DEFAULT_STOP_DRAIN_MS) {
      if (state !== 'running' && state !== 'starting') return exited;
      state = 'stopping';
      if (hbTimer) clock.clear(hbTimer);
      unsubscribeAll();
      log.info('stopping', { reason });
      const drained = (async () => {
        while (mailbox.length > 0 || draining) {
          await pump();
          if (draining) await new Promise((r) => setImmediate(r));
        }
      })();
      await Promise.race([drained, new Promise((r) => setTimeout(r, drainMs))]);
      if (state !== 'stopping') return exited; // crashed while draining
      state = 'stopped';
      for (const m of mailbox.splice(0)) {
        if (m.reply) bus.respondError(m, new ActorStoppedError(`actor ${address} stopped`));
        else
          bus.deadLetter(m, new ActorStoppedError(`actor ${address} stopped before handling this message`));
      }
      await stopBehavior();
      const report = await publishExit('shutdown');
      await bus.close();
      resolveExit(report);
      return exited;
    },
    async kill() {
      if (state === 'stopped' || state === 'crashed') return;
      state = 'crashed';
      if (hbTimer) clock.clear(hbTimer);
      unsubscribeAll();
      mailbox.length = 0;
      await stopBehavior();
      await bus.abort();
      resolveExit({
        actorId: options.id,
        kind: kind.kind,
        reason: 'crash',
        error: serializeError(new ActorCrashedError('killed')),
      });
    },
  };

  try {
    behavior = await kind.start(ctx);
    subs.push(bus.subscribeRaw(address, enqueue));
    if (behavior.service !== false)
      subs.push(bus.subscribeRaw(serviceSubject(kind.kind), enqueue, { queue: serviceQueue(kind.kind) }));
    for (const s of behavior.subscriptions ?? [])
      subs.push(bus.subscribeRaw(s.subject, enqueue, { queue: s.queue }));
    await bus.flush();
  } catch (err) {
    unsubscribeAll();
    await publishExit('crash', serializeError(err));
    await bus.close();
    throw toGovError(err);
  }
  state = 'running';
  bus.tell(startedSubject(kind.kind, options.id), {
    type: 'actor.started.v1',
    body: { actorId: options.id, kind: kind.kind, pid: process.pid, host: hostname(), incarnation },
  });
  heartbeat();
  hbTimer = clock.setInterval(heartbeat, heartbeatMs);
  void pump();
  return handle;
}
