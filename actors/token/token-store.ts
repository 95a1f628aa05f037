/**
 * Redis state of run tokens, shared by the token authority and the token renewer. Only accessors,
 * never tokens. Keys (prefix `agov:token`):
 *
 * - `<p>:run:<runId>`       hash: the run token record (see {@link RunTokenRecord})
 * - `<p>:children:<runId>`  hash: child key (`agentId/stageId/attempt`) → JSON {@link ChildTokenRecord}
 * - `<p>:agents:<runId>`    set: agents seen working on the run
 * - `<p>:accessor:<acc>`    string: run id of a run or child accessor
 * - `<p>:renew`             sorted set: run id scored by its next renewal time (the renewer's schedule)
 * - `<p>:outbox:<kind>:<id>` hash: the authority's or the renewer's audit outbox (envelope id → entry, audit-outbox.ts),
 *                            written in the same transaction as the state that implies the events
 */
import type { Redis } from 'ioredis';
import type { Tier } from '../../protocols/index.ts';
import { type OutboxEntry, RedisOutboxStore } from '../runtime/audit-outbox.ts';

export type TokenStateName = 'live' | 'revoked' | 'at-max-ttl' | 'expired';

export interface RunTokenRecord {
  runId: string;
  pipeline?: string;
  parentRunId?: string;
  /** Empty for a tombstone (the run was revoked before any token was issued). */
  accessor: string;
  policies: string[];
  tiers: Tier[];
  stageTiers?: Record<string, Tier>;
  state: TokenStateName;
  issuedAt: number;
  expiresAt: number;
  maxExpiresAt: number;
  ttlMs: number;
  renewEveryMs: number;
  maxTtlMs: number;
  renewals: number;
  lastRenewedAt?: number;
  revokedAt?: number;
  revokedReason?: string;
  /** Ids of the audit events this record implies (issued, renewed, max-ttl-reached, revoked), stored with it (the outbox). */
  auditIds?: string[];
}

export interface ChildTokenRecord {
  agentId: string;
  stageId?: string;
  attempt?: number;
  accessor: string;
  tier: Tier;
  policies: string[];
  issuedAt: number;
  expiresAt: number;
  descendant: boolean;
  /** Id of its `child-issued` audit event, stored with it (the outbox). */
  auditId?: string;
}

const JSON_FIELDS = new Set(['policies', 'tiers', 'stageTiers', 'auditIds']);
const NUM_FIELDS = new Set([
  'issuedAt',
  'expiresAt',
  'maxExpiresAt',
  'ttlMs',
  'renewEveryMs',
  'maxTtlMs',
  'renewals',
  'lastRenewedAt',
  'revokedAt',
]);

/**
 * Sets fields only while the record's state is `live`, with the outbox entries of the events the
 * change implies, their ids appended to the record's `auditIds`; returns 1 when written. KEYS: run,
 * outbox. ARGV: number of hash fields, the fields, then outbox id/json pairs.
 */
const SET_IF_LIVE = `
if redis.call('HGET', KEYS[1], 'state') ~= 'live' then return 0 end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + n)) end
if #ARGV > 1 + n then
  local ids = cjson.decode(redis.call('HGET', KEYS[1], 'auditIds') or '[]')
  for i = 2 + n, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], 'auditIds', cjson.encode(ids))
  redis.call('HSET', KEYS[2], unpack(ARGV, 2 + n, #ARGV))
end
return 1`;

/**
 * Creates a run record unless one exists, with its accessor index, renewal and outbox entries, in one
 * step (a SIGKILL can leave all of it or none). KEYS: run, accessor, renew, outbox. ARGV: run id,
 * accessor, renewal time ('' for none), number of hash fields, the fields, then outbox id/json pairs.
 */
const CREATE_RUN = `
if redis.call('HSETNX', KEYS[1], 'runId', ARGV[1]) == 0 then return 0 end
local n = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], unpack(ARGV, 5, 4 + n))
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[1]) end
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1]) end
if #ARGV > 4 + n then redis.call('HSET', KEYS[4], unpack(ARGV, 5 + n, #ARGV)) end
return 1`;

/**
 * Adds a child record unless its key exists, with its accessor index and outbox entries, in one step.
 * KEYS: children, accessor, outbox. ARGV: child key, child JSON, run id, outbox id/json pairs.
 */
const ADD_CHILD = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
if #ARGV > 3 then redis.call('HSET', KEYS[3], unpack(ARGV, 4, #ARGV)) end
return 1`;

function toHash(rec: Partial<RunTokenRecord>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    out.push(k, JSON_FIELDS.has(k) ? JSON.stringify(v) : String(v));
  }
  return out;
}

function fromHash(h: Record<string, string>): RunTokenRecord | undefined {
  if (!h.runId) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    if (JSON_FIELDS.has(k)) out[k] = JSON.parse(v);
    else if (NUM_FIELDS.has(k)) out[k] = Number(v);
    else out[k] = v;
  }
  return out as unknown as RunTokenRecord;
}

export class TokenStore {
  /** The audit outbox written with this store's state (absent: a store that writes no events). */
  readonly outbox: RedisOutboxStore | undefined;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    /** `kind:id` of the actor whose outbox this store writes. */
    outboxOwner?: string,
  ) {
    this.outbox = outboxOwner ? new RedisOutboxStore(redis, this.key('outbox', outboxOwner)) : undefined;
  }

  private outboxArgs(entries: readonly OutboxEntry[]): string[] {
    if (entries.length > 0 && !this.outbox) throw new Error('this token store keeps no outbox');
    return RedisOutboxStore.fields(entries);
  }

  private key(...parts: string[]) {
    return [this.prefix, ...parts].join(':');
  }

  async getRun(runId: string): Promise<RunTokenRecord | undefined> {
    return fromHash(await this.redis.hgetall(this.key('run', runId)));
  }

  /**
   * Creates the record unless one exists, with its accessor index, its renewal (`renewAt`) and the
   * outbox entries of the events it implies, atomically; true when created.
   */
  async createRun(
    rec: RunTokenRecord,
    options: { renewAt?: number; outbox?: readonly OutboxEntry[] } = {},
  ): Promise<boolean> {
    const fields = toHash(rec);
    const n = await this.redis.eval(
      CREATE_RUN,
      4,
      this.key('run', rec.runId),
      this.key('accessor', rec.accessor || '-'),
      this.key('renew'),
      this.outbox?.key ?? this.key('outbox', '-'),
      rec.runId,
      rec.accessor,
      options.renewAt === undefined ? '' : String(options.renewAt),
      String(fields.length),
      ...fields,
      ...this.outboxArgs(options.outbox ?? []),
    );
    return n === 1;
  }

  async updateRun(runId: string, fields: Partial<RunTokenRecord>): Promise<void> {
    await this.redis.hset(this.key('run', runId), ...toHash(fields));
  }

  /** Marks a run revoked, unschedules its renewal and stores the outbox entries, in one transaction. */
  async revokeRun(
    runId: string,
    fields: Partial<RunTokenRecord>,
    outbox: readonly OutboxEntry[] = [],
  ): Promise<void> {
    const multi = this.redis
      .multi()
      .hset(this.key('run', runId), ...toHash(fields))
      .zrem(this.key('renew'), runId);
    if (outbox.length > 0) multi.hset(this.outbox!.key, ...this.outboxArgs(outbox));
    const res = await multi.exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw failed?.[0] ?? new Error('token store transaction aborted');
  }

  /**
   * Updates only while the token is live (the renewer must not resurrect a revoked token), storing the
   * outbox entries of the events the update implies in the same step (their ids join `auditIds`).
   */
  async updateRunIfLive(
    runId: string,
    fields: Partial<RunTokenRecord>,
    outbox: readonly OutboxEntry[] = [],
  ): Promise<boolean> {
    const hash = toHash(fields);
    const n = await this.redis.eval(
      SET_IF_LIVE,
      2,
      this.key('run', runId),
      this.outbox?.key ?? this.key('outbox', '-'),
      String(hash.length),
      ...hash,
      ...this.outboxArgs(outbox),
    );
    return n === 1;
  }

  async runIdOf(accessor: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('accessor', accessor))) ?? undefined;
  }

  /** Adds a child record unless its key exists, with its accessor index and outbox entries, atomically. */
  async addChild(
    runId: string,
    key: string,
    child: ChildTokenRecord,
    outbox: readonly OutboxEntry[] = [],
  ): Promise<boolean> {
    const n = await this.redis.eval(
      ADD_CHILD,
      3,
      this.key('children', runId),
      this.key('accessor', child.accessor),
      this.outbox?.key ?? this.key('outbox', '-'),
      key,
      JSON.stringify(child),
      runId,
      ...this.outboxArgs(outbox),
    );
    return n === 1;
  }

  async hasChild(runId: string, key: string): Promise<boolean> {
    return (await this.redis.hexists(this.key('children', runId), key)) === 1;
  }

  async children(runId: string): Promise<ChildTokenRecord[]> {
    const h = await this.redis.hgetall(this.key('children', runId));
    return Object.values(h)
      .map((v) => JSON.parse(v) as ChildTokenRecord)
      .sort((a, b) => a.issuedAt - b.issuedAt);
  }

  async addAgent(runId: string, agentId: string): Promise<void> {
    await this.redis.sadd(this.key('agents', runId), agentId);
  }

  async agents(runId: string): Promise<string[]> {
    return (await this.redis.smembers(this.key('agents', runId))).sort();
  }

  async scheduleRenewal(runId: string, at: number): Promise<void> {
    await this.redis.zadd(this.key('renew'), at, runId);
  }

  async unscheduleRenewal(runId: string): Promise<void> {
    await this.redis.zrem(this.key('renew'), runId);
  }

  async dueRenewals(now: number, limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.key('renew'), '-inf', now, 'LIMIT', 0, limit);
  }

  async scheduled(): Promise<Array<{ runId: string; at: number }>> {
    const flat = await this.redis.zrange(this.key('renew'), 0, -1, 'WITHSCORES');
    const out: Array<{ runId: string; at: number }> = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ runId: flat[i]!, at: Number(flat[i + 1]) });
    return out;
  }
}
