/**
 * Agents held in quarantine and when they come out, in Redis, so a restart (of the keeper or of the
 * whole system) never leaves an agent suspended for ever (prefix e.g. `agov:gov:quarantine`):
 *
 * - `<p>:due`          sorted set: agentId → release time (ms); absent for holds kept for an operator
 * - `<p>:agent:<id>`   hash: runId, reason, release, since, diagnosticRunId (the latest hold)
 * - `<p>:diag:<runId>` set: agents released when that diagnostic run ends
 */
import type { Redis } from 'ioredis';
import type { QuarantineRelease } from './quarantine-policy.ts';

export interface QuarantineHold {
  agentId: string;
  runId: string;
  reason: string;
  release: QuarantineRelease;
  since: number;
  /** Absent: kept for an operator. */
  releaseAt?: number;
  diagnosticRunId?: string;
}

export class QuarantineStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  private agentKey(id: string) {
    return `${this.prefix}:agent:${id}`;
  }
  private diagKey(runId: string) {
    return `${this.prefix}:diag:${runId}`;
  }

  /** Records a hold; a later hold of the same agent replaces it (its release time only grows). */
  async hold(h: QuarantineHold): Promise<void> {
    const m = this.redis.multi();
    const fields: string[] = [
      'runId',
      h.runId,
      'reason',
      h.reason,
      'release',
      h.release,
      'since',
      String(h.since),
    ];
    if (h.diagnosticRunId) fields.push('diagnosticRunId', h.diagnosticRunId);
    m.del(this.agentKey(h.agentId));
    m.hset(this.agentKey(h.agentId), ...fields);
    if (h.releaseAt === undefined) m.zrem(`${this.prefix}:due`, h.agentId);
    else m.zadd(`${this.prefix}:due`, 'GT', h.releaseAt, h.agentId);
    if (h.diagnosticRunId) m.sadd(this.diagKey(h.diagnosticRunId), h.agentId);
    await m.exec();
  }

  async get(agentId: string): Promise<QuarantineHold | undefined> {
    const h = await this.redis.hgetall(this.agentKey(agentId));
    if (!h.runId) return undefined;
    const due = await this.redis.zscore(`${this.prefix}:due`, agentId);
    return {
      agentId,
      runId: h.runId,
      reason: h.reason ?? '',
      release: (h.release ?? 'operator') as QuarantineRelease,
      since: Number(h.since ?? 0),
      ...(due === null ? {} : { releaseAt: Number(due) }),
      ...(h.diagnosticRunId ? { diagnosticRunId: h.diagnosticRunId } : {}),
    };
  }

  /** Agents whose release time has come. */
  async due(now: number): Promise<string[]> {
    return this.redis.zrangebyscore(`${this.prefix}:due`, 0, now);
  }

  /** Agents held for this diagnostic run whose latest hold is still that one. */
  async heldFor(diagnosticRunId: string): Promise<string[]> {
    const ids = await this.redis.smembers(this.diagKey(diagnosticRunId));
    const out: string[] = [];
    for (const id of ids) {
      const h = await this.redis.hget(this.agentKey(id), 'diagnosticRunId');
      if (h === diagnosticRunId) out.push(id);
    }
    return out.sort();
  }

  /** Forgets an agent's hold; true when there was one (so exactly one caller releases it). */
  async release(agentId: string): Promise<boolean> {
    const [[, n]] = (await this.redis
      .multi()
      .del(this.agentKey(agentId))
      .zrem(`${this.prefix}:due`, agentId)
      .exec()) as [[unknown, number], [unknown, number]];
    return n > 0;
  }

  async forgetDiagnostic(diagnosticRunId: string): Promise<void> {
    await this.redis.del(this.diagKey(diagnosticRunId));
  }

  /** Every agent held now. */
  async held(): Promise<string[]> {
    const keys = await this.redis.keys(`${this.prefix}:agent:*`);
    return keys.map((k) => k.slice(`${this.prefix}:agent:`.length)).sort();
  }
}
