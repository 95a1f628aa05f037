/**
 * What the budget monitor remembers of a breach it is acting on, in Redis (prefix `agov:gov`), so that
 * a monitor killed half-way is followed by one that finishes the job, once:
 *
 * - `<p>:breaches:pending`      sorted set: runs whose breach is latched and not fully acted on (score: breachedAt)
 * - `<p>:breach:<runId>`        string: the {@link BreachRecord} (JSON), its steps marked as they are done
 * - `<p>:breach:<runId>:claim`  string: the monitor instance acting on it now, with a lease (SET NX PX)
 */
import type { Redis } from 'ioredis';
import type { BodyOf, Envelope } from '../../protocols/index.ts';
import type { SerializedError } from '../../protocols/index.ts';
import type { TimelineError } from './budget-run-store.ts';

export type BreachWindows = NonNullable<BodyOf<'budget.event.v1'>['windows']>;

export interface BreachToken {
  accessor?: string;
  revoked: boolean;
  revokedAt?: number;
  reason?: string;
  suspendedAgents: string[];
  error?: SerializedError;
}

export interface BreachDiagnostic {
  pipeline: string;
  runId?: string;
  error?: SerializedError;
}

/** A latched breach and how far acting on it got. */
export interface BreachRecord {
  runId: string;
  /** Chosen when the breach latched: a resumed handoff overwrites the same report. */
  reportId: string;
  trigger: TimelineError;
  verdict: 'ok' | 'warn' | 'breach';
  breachedAt?: number;
  windows: BreachWindows;
  errorCount: number;
  /**
   * The breach event, its envelope fixed when the breach latched and stored with this record (its
   * transactional outbox): announcing again after a crash publishes it under the same id, kept once.
   */
  breachEvent?: Envelope<'budget.event.v1'>;
  /** Ids of the audit events this record implies (the breach event, then `handoff.ready`). */
  auditIds?: string[];
  /**
   * The `handoff.ready` event, its envelope fixed and stored here (after the report, before its
   * publish): a successor resuming the steps publishes this one again, under its id, so it is kept once.
   */
  handoffEvent?: Envelope<'handoff.ready.v1'>;
  /** Steps done: the breach event published and the containment ordered. */
  announced?: boolean;
  /** The agents its evidence pointed at, decided once. */
  implicated?: string[];
  token?: BreachToken;
  diagnostic?: BreachDiagnostic;
  /** The quarantined agents' holds written. */
  held?: boolean;
  done?: boolean;
}

/** Releases a claim only if this instance still holds it (KEYS[1] claim, ARGV[1] owner). */
const UNCLAIM_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export class BreachStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  private key(runId: string, suffix?: string) {
    return `${this.prefix}:breach:${runId}${suffix ? `:${suffix}` : ''}`;
  }

  private get pendingKey() {
    return `${this.prefix}:breaches:pending`;
  }

  /**
   * A breach just latched: its record starts afresh (after a budget reset it may latch again), it is
   * pending, and `owner` claims it for `leaseMs` — one round trip. False when another holds the claim.
   */
  async open(record: BreachRecord, owner: string, leaseMs: number): Promise<boolean> {
    const replies = await this.redis
      .multi()
      .set(this.key(record.runId), JSON.stringify(record), 'PX', this.ttlMs)
      .zadd(this.pendingKey, record.breachedAt ?? Date.now(), record.runId)
      .set(this.key(record.runId, 'claim'), owner, 'PX', leaseMs, 'NX')
      .exec();
    return replies?.[2]?.[1] === 'OK';
  }

  async get(runId: string): Promise<BreachRecord | undefined> {
    const s = await this.redis.get(this.key(runId));
    return s ? (JSON.parse(s) as BreachRecord) : undefined;
  }

  /** Marks the steps done so far. */
  async save(record: BreachRecord): Promise<void> {
    await this.redis.set(this.key(record.runId), JSON.stringify(record), 'PX', this.ttlMs);
  }

  /** Every step done: no longer pending. */
  async finish(record: BreachRecord): Promise<void> {
    await this.redis
      .multi()
      .set(this.key(record.runId), JSON.stringify({ ...record, done: true }), 'PX', this.ttlMs)
      .zrem(this.pendingKey, record.runId)
      .exec();
  }

  /** Not a breach (any more): forgotten as pending. */
  async drop(runId: string): Promise<void> {
    await this.redis.zrem(this.pendingKey, runId);
  }

  /**
   * A latched breach seen again (a redelivered event): pending unless its record says done — it was
   * latched by a monitor killed before it could even write the record.
   */
  async ensurePending(runId: string, breachedAt: number): Promise<void> {
    if ((await this.get(runId))?.done) return;
    await this.redis.zadd(this.pendingKey, 'NX', breachedAt, runId);
  }

  async pending(): Promise<string[]> {
    return this.redis.zrange(this.pendingKey, 0, -1);
  }

  /** True when `owner` now holds the breach for `leaseMs` (nobody else acting on it). */
  async claim(runId: string, owner: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.set(this.key(runId, 'claim'), owner, 'PX', leaseMs, 'NX')) === 'OK';
  }

  async unclaim(runId: string, owner: string): Promise<void> {
    await this.redis.eval(UNCLAIM_LUA, 1, this.key(runId, 'claim'), owner);
  }
}
