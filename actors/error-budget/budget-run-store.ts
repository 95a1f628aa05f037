/**
 * What the budget monitor remembers about runs, in Redis (prefix `agov:gov`):
 *
 * - `<p>:run:<runId>`         hash: pipeline, parentRunId, budget (JSON), accepted, diagnostic, firstSeq/lastSeq
 *                              (AUDIT positions of its run events), firstTs/lastTs, failingStage, failingAgent
 * - `<p>:run:<runId>:errors`  list: the last N errors (JSON {@link TimelineError}), newest first
 * - `<p>:run:<runId>:agents`  set: agents seen on the run
 */
import type { Redis } from 'ioredis';
import type { HandoffError } from './handoff-report.ts';
import type { PipelineErrorBudget } from './pipeline-budget.ts';

/** An error kept on a run's timeline: the handoff report's timeline entry. */
export type TimelineError = HandoffError;

export interface RunFacts {
  runId: string;
  pipeline?: string;
  parentRunId?: string;
  budget?: PipelineErrorBudget;
  /** Its `run-accepted` was seen: `budget` is the run's own (absent: the pipeline declared none). */
  accepted?: boolean;
  diagnostic?: string;
  firstSeq?: number;
  lastSeq?: number;
  firstTs?: number;
  lastTs?: number;
  failingStage?: string;
  failingAgent?: string;
}

export class BudgetRunStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    readonly timelineErrors: number,
    readonly ttlMs: number,
  ) {}

  private key(runId: string, suffix?: string) {
    return `${this.prefix}:run:${runId}${suffix ? `:${suffix}` : ''}`;
  }

  async get(runId: string): Promise<RunFacts> {
    const h = await this.redis.hgetall(this.key(runId));
    const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    return {
      runId,
      pipeline: h.pipeline,
      parentRunId: h.parentRunId,
      budget: h.budget ? (JSON.parse(h.budget) as PipelineErrorBudget) : undefined,
      accepted: h.accepted === 'true',
      diagnostic: h.diagnostic,
      firstSeq: n(h.firstSeq),
      lastSeq: n(h.lastSeq),
      firstTs: n(h.firstTs),
      lastTs: n(h.lastTs),
      failingStage: h.failingStage,
      failingAgent: h.failingAgent,
    };
  }

  /** Sets the given facts (undefined ones are left alone). */
  async set(runId: string, facts: Omit<Partial<RunFacts>, 'runId'>): Promise<void> {
    const flat: string[] = [];
    for (const [k, v] of Object.entries(facts)) {
      if (v === undefined) continue;
      flat.push(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    if (flat.length === 0) return;
    await this.redis
      .multi()
      .hset(this.key(runId), ...flat)
      .pexpire(this.key(runId), this.ttlMs)
      .exec();
  }

  /** Sets fields only if they are not set yet (the first parent, the first sequence). */
  async setOnce(runId: string, facts: Omit<Partial<RunFacts>, 'runId'>): Promise<void> {
    const m = this.redis.multi();
    for (const [k, v] of Object.entries(facts)) if (v !== undefined) m.hsetnx(this.key(runId), k, String(v));
    await m.exec();
  }

  async addError(runId: string, e: TimelineError): Promise<void> {
    await this.redis
      .multi()
      .lpush(this.key(runId, 'errors'), JSON.stringify(e))
      .ltrim(this.key(runId, 'errors'), 0, this.timelineErrors - 1)
      .pexpire(this.key(runId, 'errors'), this.ttlMs)
      .exec();
  }

  /** The kept errors, oldest first. */
  async errors(runId: string): Promise<TimelineError[]> {
    return (await this.redis.lrange(this.key(runId, 'errors'), 0, -1))
      .map((s) => JSON.parse(s) as TimelineError)
      .reverse();
  }

  async addAgent(runId: string, agentId: string): Promise<void> {
    await this.redis
      .multi()
      .sadd(this.key(runId, 'agents'), agentId)
      .pexpire(this.key(runId, 'agents'), this.ttlMs)
      .exec();
  }

  async agents(runId: string): Promise<string[]> {
    return (await this.redis.smembers(this.key(runId, 'agents'))).sort();
  }
}
