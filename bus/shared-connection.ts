/**
 * One NATS connection shared by the actors of a host (issue 17: a connection per in-host actor cost
 * each agent a socket and the server a client; 2,056 fds at 1,000 agents). Each actor gets a lease, a
 * view of the connection that behaves as its own: its subscriptions are its own, closing it drains only
 * them, killing it drops only them and turns whatever the dead actor still publishes, requests or
 * flushes into a void — while the socket, the CONNECT and the credential are the host's (a `host`
 * principal, protocols/permissions.ts: the union of its members' grants). Who may share, and why that
 * keeps zero trust: docs/security.md, "In-host actors share their host's connection".
 */
import type {
  Msg,
  NatsConnection,
  PublishOptions,
  RequestOptions,
  Subscription,
  SubscriptionOptions,
} from '@nats-io/transport-node';
import { BusClosedError } from '../protocols/vocabulary/errors.ts';
import { BusMetrics } from './bus-metrics.ts';
import { never } from './bus-wire.ts';
import { type ConnectArgs, openConnection } from './connection.ts';
import { ConnectionWatch } from './connection-watch.ts';

/** A bus on a host's shared connection: the actor's lease of it and the name it speaks under. */
export interface Leased {
  lease: ConnectionLease;
  principal: string;
}

export class SharedConnection {
  readonly metrics = new BusMetrics();
  /** The connection's state and the server's asynchronous errors, watched once for every lease. */
  readonly watch: ConnectionWatch;
  private live = 0;

  private constructor(
    private readonly nc: NatsConnection,
    readonly name: string,
  ) {
    this.watch = new ConnectionWatch(nc, this.metrics);
  }

  /** Connects as the host (`args.credentials`: a `host` principal's), waiting for the server. */
  static async open(args: ConnectArgs): Promise<SharedConnection> {
    return new SharedConnection(await openConnection(args), args.name);
  }

  /** Leases not yet closed or killed. */
  get leases(): number {
    return this.live;
  }

  isClosed(): boolean {
    return this.nc.isClosed();
  }

  /** A view of the connection for one actor (see ConnectionLease). */
  lease(): ConnectionLease {
    this.live++;
    return new ConnectionLease(this.nc, () => this.live--);
  }

  /** Drops the connection at once, as the OS does a killed process's socket. */
  async kill(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }

  /** Closes the connection itself, leases and all (the host is done with it). */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
  }
}

/**
 * One actor's view of a shared connection: a NatsConnection whose subscribe, publish, request, flush,
 * drain, close, isClosed and closed are this actor's; anything else (its options, its server info, what
 * JetStream and KV objects built on it read) is the connection's own.
 */
export class ConnectionLease {
  readonly nc: NatsConnection;
  private readonly subs = new Set<Subscription>();
  private ended = false;
  private dead = false;
  private resolveDone!: () => void;
  private readonly done = new Promise<void>((r) => {
    this.resolveDone = r;
  });

  constructor(
    private readonly shared: NatsConnection,
    private readonly onRelease: () => void,
  ) {
    void shared.closed().then(() => this.end());
    const own: Record<string | symbol, unknown> = {
      subscribe: (subject: string, opts?: SubscriptionOptions) => this.subscribe(subject, opts),
      publish: (subject: string, data?: Uint8Array, opts?: PublishOptions) =>
        this.publish(subject, data, opts),
      request: (subject: string, data?: Uint8Array, opts?: RequestOptions): Promise<Msg> =>
        this.dead ? never() : this.ended ? this.closedError(subject) : shared.request(subject, data, opts),
      flush: (): Promise<void> => (this.dead ? never() : shared.flush()),
      drain: () => this.drain(),
      close: () => this.drain(),
      isClosed: () => this.isClosed(),
      isDraining: () => false,
      closed: () => this.done,
    };
    this.nc = new Proxy(shared, {
      get(target, prop) {
        if (Object.hasOwn(own, prop)) return own[prop];
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
      // Nothing of one actor may change the connection its host-mates use.
      set: () => false,
      defineProperty: () => false,
    });
  }

  isClosed(): boolean {
    return this.ended || this.shared.isClosed();
  }

  /** Whether `kill()` ended this lease. */
  isKilled(): boolean {
    return this.dead;
  }

  private closedError(subject: string): Promise<never> {
    return Promise.reject(new BusClosedError(`cannot send to ${subject}: the connection is closed`));
  }

  private subscribe(subject: string, opts?: SubscriptionOptions): Subscription {
    if (this.ended) throw new BusClosedError(`cannot subscribe to ${subject}: the connection is closed`);
    const sub = this.shared.subscribe(subject, opts);
    this.subs.add(sub);
    void sub.closed.then(() => this.subs.delete(sub));
    return sub;
  }

  private publish(subject: string, data?: Uint8Array, opts?: PublishOptions): void {
    if (this.dead) return;
    if (this.ended) throw new BusClosedError(`cannot publish to ${subject}: the connection is closed`);
    this.shared.publish(subject, data, opts);
  }

  private end() {
    if (this.ended) return;
    this.ended = true;
    this.onRelease();
    this.resolveDone();
  }

  /** Graceful: this actor's subscriptions drained (what they hold is delivered), then the lease ends. */
  private async drain(): Promise<void> {
    if (this.ended) return;
    const subs = [...this.subs];
    this.subs.clear();
    await Promise.allSettled(subs.map((s) => s.drain()));
    this.end();
  }

  /**
   * As the OS ends a killed process's socket, for this actor only: its subscriptions dropped at once
   * (nothing more is delivered to them), and from now on what it publishes vanishes and what it
   * requests or flushes never settles. Its host-mates' subscriptions and the socket are untouched.
   */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    for (const s of this.subs) {
      try {
        s.unsubscribe();
      } catch {
        // the connection closed meanwhile: nothing left to drop
      }
    }
    this.subs.clear();
    this.end();
  }
}
