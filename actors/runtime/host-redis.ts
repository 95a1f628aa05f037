/**
 * The Redis connection in-host actors share (issue 17: an agent's own client cost it a socket; 1,000
 * agents held 1,000 Redis connections). One client per Redis URL and options in a process, leased to
 * each actor that runs on its host's shared connection (RunActorOptions.host); it closes when the last
 * lease is released. A lease behaves as the actor's own client: `connect` waits for the shared one,
 * `quit`/`disconnect` release only the lease, and a killed actor's lease turns every command it still
 * sends into a promise that never settles (as a killed process's socket would), leaving its host-mates'
 * commands alone. Only commands called on the client itself are fenced: a pipeline or a duplicate made
 * from it is not, so actors that share keep to plain commands (the agent's lifecycle store does).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { never } from '../../bus/bus-wire.ts';

type Listener = (...args: unknown[]) => void;

class SharedRedis {
  readonly client: Redis;
  refs = 0;
  private ready: Promise<void> | undefined;

  constructor(url: string, options: RedisOptions) {
    this.client = new Redis(url, { ...options, lazyConnect: true });
    this.client.setMaxListeners(0); // one error listener per leasing actor
    this.client.on('error', () => undefined); // each lease's own listeners report it
  }

  connect(): Promise<void> {
    if (!this.ready) {
      const ready = this.client.connect().catch((err: unknown) => {
        if (this.ready === ready) this.ready = undefined; // the next actor to start tries again
        throw err;
      });
      this.ready = ready;
    }
    return this.ready;
  }
}

const shared = new Map<string, SharedRedis>();

/** One actor's lease of its host's Redis client. */
export interface RedisLease {
  readonly redis: Redis;
  /** For a killed actor: its commands never settle from now on; the shared client stays up. */
  kill(): void;
}

/** Leases the host's client for `url` (made on first use with `options`) to one actor. */
export function leaseHostRedis(url: string, options: RedisOptions = {}): RedisLease {
  const key = `${url}\u0000${JSON.stringify(options)}`;
  let entry = shared.get(key);
  if (!entry) {
    entry = new SharedRedis(url, options);
    shared.set(key, entry);
  }
  const host = entry;
  host.refs++;
  const listeners: Array<[string, Listener]> = [];
  let released = false;
  let dead = false;
  const release = () => {
    if (released) return;
    released = true;
    for (const [event, l] of listeners.splice(0)) host.client.off(event, l);
    if (--host.refs === 0 && shared.get(key) === host) {
      shared.delete(key);
      host.client.disconnect();
    }
  };
  const listen = (event: string, l: Listener) => {
    if (!released) {
      listeners.push([event, l]);
      host.client.on(event, l);
    }
    return lease.redis;
  };
  const own: Record<string | symbol, unknown> = {
    connect: () =>
      dead ? never() : released ? Promise.reject(new Error('Connection is closed.')) : host.connect(),
    quit: async () => {
      release();
      return 'OK';
    },
    disconnect: () => release(),
    on: listen,
    addListener: listen,
    once: listen,
  };
  const lease: RedisLease = {
    redis: new Proxy(host.client, {
      get(target, prop) {
        if (Object.hasOwn(own, prop)) return own[prop];
        const v = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        if (dead) return never;
        if (released) return () => Promise.reject(new Error('Connection is closed.'));
        return v.bind(target);
      },
      set: () => false,
    }),
    kill() {
      dead = true;
      release();
    },
  };
  return lease;
}
