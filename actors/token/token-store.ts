/**
 * Redis state of run tokens, shared by the token authority and the token renewer. Only accessors,
 * never tokens. Keys (prefix `agov:token`):
 *
 * - `<p>:run:<runId>`       hash: the run token record (see {@link RunTokenRecord})
 * - `<p>:children:<runId>`  hash: child key (`agentId/stageId/attempt`) → JSON {@link ChildTokenRecord}
 * - `<p>:agents:<runId>`    set: agents seen working on the run
 * - `<p>:accessor:<acc>`    string: run id of a run or child accessor
 * - `<p>:renew`             sorted set: run id scored by its next renewal time (the renewer's schedule)
 */
import type { Redis } from 'ioredis';
import type { Tier } from '../../protocols/index.ts';

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
}

const JSON_FIELDS = new Set(['policies', 'tiers', 'stageTiers']);
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

/** Sets fields only while the record's state is `live`; returns 1 when written. */
const SET_IF_LIVE = `
if redis.call('HGET', KEYS[1], 'state') ~= 'live' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
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
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  private key(...parts: string[]) {
    return [this.prefix, ...parts].join(':');
  }

  async getRun(runId: string): Promise<RunTokenRecord | undefined> {
    return fromHash(await this.redis.hgetall(this.key('run', runId)));
  }

  /** Creates the record unless one exists; true when created. */
  async createRun(rec: RunTokenRecord): Promise<boolean> {
    const key = this.key('run', rec.runId);
    const created = await this.redis.hsetnx(key, 'runId', rec.runId);
    if (!created) return false;
    const multi = this.redis.multi().hset(key, ...toHash(rec));
    if (rec.accessor) multi.set(this.key('accessor', rec.accessor), rec.runId);
    await multi.exec();
    return true;
  }

  async updateRun(runId: string, fields: Partial<RunTokenRecord>): Promise<void> {
    await this.redis.hset(this.key('run', runId), ...toHash(fields));
  }

  /** Updates only while the token is live (the renewer must not resurrect a revoked token). */
  async updateRunIfLive(runId: string, fields: Partial<RunTokenRecord>): Promise<boolean> {
    const n = await this.redis.eval(SET_IF_LIVE, 1, this.key('run', runId), ...toHash(fields));
    return n === 1;
  }

  async runIdOf(accessor: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('accessor', accessor))) ?? undefined;
  }

  async addChild(runId: string, key: string, child: ChildTokenRecord): Promise<boolean> {
    const created = await this.redis.hsetnx(this.key('children', runId), key, JSON.stringify(child));
    if (created) await this.redis.set(this.key('accessor', child.accessor), runId);
    return created === 1;
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
