/**
 * The actor runtime: one actor = one NATS connection (its own credentials), one mailbox handled
 * one message at a time in arrival order, periodic heartbeats, graceful stop, crash and kill semantics.
 *
 * Lifecycle: starting → running → (stopping → stopped) | crashed.
 * - started: after its subscriptions are live it publishes `actor.started.v1`, then heartbeats
 *   (`actor.heartbeat.v1`, the first one at once) every `heartbeatMs`.
 * - crash: an exception thrown by a handler (or passed to `ctx.crash`) crashes this actor only:
 *   subscriptions close, the asker of the failing message and of every message still queued gets a
 *   retryable GOV_ERR_ACTOR_CRASHED, queued tells are dead-lettered (so nothing vanishes silently),
 *   and an `actor.exit.v1` with reason `crash` and the error is published for its supervisor.
 * - stop (graceful): `actor.stop.v1` or `handle.stop()` unsubscribes, drains what is already queued,
 *   calls the behaviour's stop and publishes `actor.exit.v1` with reason `shutdown`.
 * - kill (SIGKILL semantics): `handle.kill()` runs none of the actor's code: no stop routine, no drain,
 *   no exit report; the connection is dropped without unsubscribing (askers of queued messages get no
 *   reply, as from a dead process), every timer of `ctx.clock` is cancelled, resources handed over with
 *   `ctx.hold` are dropped, and whatever of the actor still runs talks into a void (the bus discards its
 *   publishes and never settles its asks: Bus.kill).
 *
 * The mechanics live in actor-cell.ts; this file is the face: options, handle, `runActor`.
 */
import type { ActorHandle, RunActorOptions } from './actor-handle.ts';
import { ActorCell } from './actor-cell.ts';
import type { ActorKind } from './actor-kind.ts';
import { parseStartArgs } from './start-args.ts';

export type {
  ActorHandle,
  ActorState,
  ExitReason,
  ExitReport,
  RunActorOptions,
} from './actor-handle.ts';

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
  const cell = await ActorCell.open(kind, args, options);
  await cell.start();
  return cell.handle;
}
