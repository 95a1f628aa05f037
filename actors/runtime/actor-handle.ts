/** What whoever starts an actor holds: its handle, its exit report, the options of `runActor` (actor.ts). */
import type { BusOptions } from '../../bus/bus-options.ts';
import type { SharedConnection } from '../../bus/shared-connection.ts';
import type { Clock } from '../../infra/clock/clock.ts';
import type { Logger } from '../../infra/logger.ts';
import type { SerializedError } from '../../protocols/vocabulary/errors.ts';

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
  /**
   * Runs the actor on its host's shared connection (bus/shared-connection.ts) instead of one of its
   * own, naming itself `principal` (its own principal name, among the host credential's members);
   * `bus.credentials` are then unused. Its `ctx.redis` clients are the host's too (host-redis.ts).
   */
  host?: { connection: SharedConnection; principal: string };
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
  /** Graceful stop: drain queued messages, run the behaviour's stop, then exit with reason `shutdown`. */
  stop(reason?: string, drainMs?: number): Promise<ExitReport>;
  /**
   * Abrupt end as if its process had been SIGKILLed: none of the actor's code runs (no stop routine,
   * no flush, no exit report), its connection drops without draining, its timers stop, and nothing it
   * still attempts reaches the bus. For in-host children whose supervisor gave up waiting
   * (shutdown timeout, brutal_kill) and for tests that claim a kill.
   */
  kill(): Promise<void>;
  processed(): number;
}
