import type { Bus, IncomingContext } from '../../bus/index.ts';
import type { Clock } from '../../infra/clock/clock.ts';
import type { Logger } from '../../infra/logger.ts';
import type { MessageType } from '../../protocols/catalog.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import { type GovError, toGovError } from '../../protocols/vocabulary/errors.ts';
import type { BusOptions } from '../../bus/bus-options.ts';
import type { z } from 'zod';
import type { Redis, RedisOptions } from 'ioredis';

/** Start arguments before a kind's schema has typed them. */
export type RawStartArgs = Readonly<Record<string, unknown>>;

/** What an actor's behaviour sees of the world. All I/O goes through here. */
export interface ActorContext<A = RawStartArgs> {
  readonly id: string;
  readonly kind: string;
  /** The actor's inbox subject. */
  readonly address: string;
  readonly bus: Bus;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * Start arguments (from the supervisor's child spec or `agov actor --arg k=v`), parsed with the
   * kind's schema: typed and complete, defaults filled in.
   */
  readonly args: Readonly<A>;
  /** Connection settings, for behaviours that must open connections of their own (JetStream consumers). */
  readonly busOptions: Readonly<BusOptions>;
  /** Crashes the actor from outside a handler (a timer or consumer callback failed). */
  crash(error: unknown): void;
  /** Enqueues a message into the actor's own mailbox, processed in order with everything else. */
  self(msg: OutMessage): void;
  /**
   * Hands the runtime a resource the actor opened itself (a Redis connection): if the actor is
   * killed, the runtime calls `drop` on it, abruptly, as the OS closes a killed process's sockets;
   * none of the actor's own stop logic runs. Graceful stops and crashes leave it to the behaviour's
   * `stop`. Returns the resource.
   * @example this.redis = ctx.hold(new Redis(url), (r) => r.disconnect());
   */
  hold<T>(resource: T, drop: (resource: T) => void): T;
  /**
   * A Redis client for this actor: its own, or, when it runs on its host's shared connection, a lease
   * of the host's client for `url` (actors/runtime/host-redis.ts). Either way it is dropped if the
   * actor is killed, and the behaviour's `quit()` on a graceful stop releases it.
   * @example this.redis = ctx.redis(args.redisUrl, { lazyConnect: true });
   */
  redis(url: string, options?: RedisOptions): Redis;
}

/**
 * A handler's typed refusal: the asker gets `error` (rebuilt on its side), a tell is dead-lettered
 * with it, and the actor keeps running — unlike a thrown exception, which crashes the actor.
 * Like a gen_server replying `{error, Reason}` rather than exiting.
 */
export class Refusal {
  constructor(readonly error: GovError) {}
}

/** @example if (!allowed) return refuse(new TierForbiddenError('T0 may not run exec')); */
export function refuse(error: GovError): Refusal {
  return new Refusal(error);
}

/**
 * Runs a handler whose failures are the asker's business, not a crash: any error it throws becomes a
 * refusal (the asker gets the typed error, a failed tell is dead-lettered), and the actor keeps running.
 * @example handle: (env) => refusing(() => authority.handle(env))
 */
export async function refusing<T>(fn: () => Promise<T> | T): Promise<T | Refusal> {
  try {
    return await fn();
  } catch (err) {
    return refuse(toGovError(err));
  }
}

/** A running actor's message handling. Handlers run one at a time, in mailbox order. */
export interface ActorBehavior {
  /** Message types handled; others are answered with GOV_ERR_UNHANDLED_MESSAGE and dead-lettered. */
  readonly accepts: readonly MessageType[];
  /**
   * Handles one message; the return value answers an `ask`. Throwing crashes the actor
   * (it exits with the error as reason; its supervisor decides what happens next).
   */
  handle(
    env: Envelope,
    ctx: IncomingContext,
  ): Promise<OutMessage | Refusal | undefined | void> | OutMessage | Refusal | undefined | void;
  /** Extra subjects whose messages join the mailbox (e.g. a wildcard an observer watches). */
  readonly subscriptions?: ReadonlyArray<{ subject: string; queue?: string }>;
  /** Listen on the kind's shared service subject (queue group). Default true. */
  readonly service?: boolean;
  /** Small facts included in every heartbeat (state, current task). */
  status?(): Record<string, unknown>;
  /** Releases resources; called on graceful stop and after a crash, never after a kill. */
  stop?(): Promise<void> | void;
}

/** A kind of actor: how to start one. */
export interface ActorKind<A = unknown> {
  readonly kind: string;
  readonly description: string;
  /**
   * The schema of its start arguments, every default in it (see start-args.ts). `runActor` parses
   * the arguments with it before `start`; a bad one fails the start with a ConfigError naming it.
   */
  readonly args: z.ZodType<A>;
  start(ctx: ActorContext<A>): Promise<ActorBehavior> | ActorBehavior;
}

/** Defines an actor kind (identity helper for type inference of its arguments). */
export function defineActorKind<A>(def: ActorKind<A>): ActorKind<A> {
  return def;
}
