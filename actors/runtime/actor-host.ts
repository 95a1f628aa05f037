/**
 * An actor host runs one or many actors in one OS process. Actors in a host share nothing but the
 * process: each has its own connection and mailbox, and one actor's crash ends only that actor.
 */
import type { BusOptions } from '../../bus/bus-options.ts';
import type { Clock } from '../../infra/clock/clock.ts';
import { createLogger, type Logger } from '../../infra/logger.ts';
import { type ActorHandle, runActor } from './actor.ts';
import type { ActorRegistry } from './registry.ts';

export interface ActorHostOptions {
  registry: ActorRegistry;
  bus: Omit<BusOptions, 'name'>;
  heartbeatMs?: number;
  clock?: Clock;
  log?: Logger;
}

let guardInstalled = false;

/**
 * Keeps a stray rejection in one actor's timer from taking the whole host down: it is logged and
 * counted instead (Node's default would exit the process and every actor in it).
 */
function installProcessGuard(log: Logger) {
  if (guardInstalled) return;
  guardInstalled = true;
  process.on('unhandledRejection', (reason) =>
    log.error('unhandled rejection in actor host', { reason: String(reason) }),
  );
}

export class ActorHost {
  private readonly actors = new Map<string, ActorHandle>();
  private readonly log: Logger;

  constructor(private readonly options: ActorHostOptions) {
    this.log = options.log ?? createLogger({ host: process.pid });
    installProcessGuard(this.log);
  }

  /** Starts an actor; its handle stays listed until it exits. */
  async spawn(kind: string, id: string, args: Record<string, unknown> = {}): Promise<ActorHandle> {
    const handle = await runActor(this.options.registry.get(kind), {
      id,
      args,
      bus: this.options.bus,
      heartbeatMs: this.options.heartbeatMs,
      clock: this.options.clock,
      log: this.log,
    });
    const key = handle.address;
    this.actors.set(key, handle);
    void handle.exited.then(() => {
      if (this.actors.get(key) === handle) this.actors.delete(key);
    });
    return handle;
  }

  list(): ActorHandle[] {
    return [...this.actors.values()];
  }

  /** Stops every actor gracefully (in reverse start order). */
  async stopAll(reason = 'host stopping'): Promise<void> {
    for (const a of [...this.actors.values()].reverse()) await a.stop(reason);
  }
}
