/**
 * Handoff reports in Redis (prefix `agov:handoff`):
 * - `<p>:report:<reportId>`  string: the report (JSON), expires after {@link DEFAULT_HANDOFF_TTL_MS}
 * - `<p>:run:<runId>`        sorted set: the run's report ids by creation time
 */
import type { Redis } from 'ioredis';
import { DEFAULT_HANDOFF_TTL_MS } from './budget-monitor-options.ts';
import type { HandoffReport } from './handoff-report.ts';

export interface HandoffSummary {
  reportId: string;
  runId: string;
  createdAt: number;
  reason: string;
}

export class HandoffStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    readonly ttlMs = DEFAULT_HANDOFF_TTL_MS,
  ) {}

  async put(report: HandoffReport): Promise<void> {
    await this.redis
      .multi()
      .set(`${this.prefix}:report:${report.reportId}`, JSON.stringify(report), 'PX', this.ttlMs)
      .zadd(`${this.prefix}:run:${report.runId}`, report.createdAt, report.reportId)
      .pexpire(`${this.prefix}:run:${report.runId}`, this.ttlMs)
      .exec();
  }

  async get(reportId: string): Promise<HandoffReport | undefined> {
    const s = await this.redis.get(`${this.prefix}:report:${reportId}`);
    return s ? (JSON.parse(s) as HandoffReport) : undefined;
  }

  async latest(runId: string): Promise<HandoffReport | undefined> {
    const [id] = await this.redis.zrevrange(`${this.prefix}:run:${runId}`, 0, 0);
    return id ? this.get(id) : undefined;
  }

  async list(runId: string): Promise<HandoffSummary[]> {
    const ids = await this.redis.zrange(`${this.prefix}:run:${runId}`, 0, -1);
    const out: HandoffSummary[] = [];
    for (const id of ids) {
      const r = await this.get(id);
      if (r) out.push({ reportId: r.reportId, runId: r.runId, createdAt: r.createdAt, reason: r.reason });
    }
    return out;
  }
}
