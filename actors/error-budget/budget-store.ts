/**
 * The atomic error-budget store on Redis / DragonflyDB.
 *
 * Each run has three keys sharing the hash tag `{run:<id>}` (one shard / one Dragonfly thread):
 * an errors hash and a totals hash of time buckets, and a state hash (time high-water mark and the
 * latched warn/breach times), plus one seen marker per counted event. One Lua script (budget-lua.ts)
 * skips an event already counted, adds the event, prunes old buckets, sums every window, evaluates
 * the thresholds and latches the first breach, atomically.
 * Time is the injected Clock's, passed as ARGV.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Clock } from '../../infra/index.ts';
import { InternalError, InvalidMessageError } from '../../protocols/index.ts';
import { type BudgetEvaluation, verdictFromCode, type WindowStatus } from './budget-evaluator.ts';
import { BUDGET_LUA } from './budget-lua.ts';
import {
  type BudgetPolicy,
  type CompiledBudget,
  compileBudget,
  DEFAULT_KEY_PREFIX,
} from './budget-policy.ts';
import { burnRate } from './burn-rate.ts';

export type BudgetOutcome = 'success' | 'error';

/** What one record() or snapshot() saw. */
export interface BudgetReport extends BudgetEvaluation {
  runId: string;
  /** Time the evaluation used: max(clock now, latest time this run has seen). */
  at: number;
  /** True for exactly one record() call: the one that first evaluated to breach. */
  firstBreach: boolean;
  /** True for exactly one record() call: the first one that evaluated to warn or breach. */
  firstWarn: boolean;
  /** The event (its `eventId`) had been counted before: nothing was counted or latched now. */
  duplicate: boolean;
  /** Latched: some record() has evaluated to breach (until reset or the keys expire). */
  breached: boolean;
  breachedAt: number | undefined;
  warnedAt: number | undefined;
}

/** How record() counts one event. */
export interface RecordOptions {
  /**
   * The event's id: an event counted once under this id is never counted again (a redelivery),
   * checked and marked in the same atomic step as the count.
   */
  eventId?: string;
  /**
   * False: count without latching a warn or breach — the run's own budget is not known yet, so the
   * one given is a stand-in whose verdict must not stick; latch() judges once it is known. Default true.
   */
  latch?: boolean;
}

/** Seen markers of counted events are kept this long (7 days, as the AUDIT stream keeps events). */
export const DEFAULT_SEEN_TTL_MS = 7 * 24 * 3_600_000;

/** Atomic budget accounting for runs. Implemented on Redis/Dragonfly and in memory. */
export interface BudgetStore {
  /** Counts one event and evaluates the budget, atomically. */
  record(
    runId: string,
    budget: CompiledBudget | BudgetPolicy,
    outcome: BudgetOutcome,
    options?: RecordOptions,
  ): Promise<BudgetReport>;
  /** Counts nothing; latches the warn/breach the budget's verdict on the counts so far calls for. */
  latch(runId: string, budget: CompiledBudget | BudgetPolicy): Promise<BudgetReport>;
  /** Evaluates without counting anything or changing state (firstBreach/firstWarn are false). */
  snapshot(runId: string, budget: CompiledBudget | BudgetPolicy): Promise<BudgetReport>;
  /** Forgets the run's counts and latches. */
  reset(runId: string): Promise<void>;
}

/**
 * The keys of a run, in KEYS order: [errors, totals, state]. The run id is URI-encoded inside the
 * hash tag `{run:<id>}` so a `{` or `}` in it cannot break the tag. An event's seen marker is
 * {@link seenKey}, in the same hash slot.
 */
export function budgetKeys(runId: string, prefix = DEFAULT_KEY_PREFIX): [string, string, string] {
  if (typeof runId !== 'string' || runId.length === 0) {
    throw new InvalidMessageError('error budget: runId must be a non-empty string', { details: { runId } });
  }
  const tag = `{run:${encodeURIComponent(runId)}}`;
  return [`${prefix}:${tag}:errors`, `${prefix}:${tag}:totals`, `${prefix}:${tag}:state`];
}

/** The seen marker of event `eventId` counted for run `runId` (KEYS[4]); `-` when none is checked. */
export function seenKey(runId: string, eventId: string | undefined, prefix = DEFAULT_KEY_PREFIX): string {
  const tag = `{run:${encodeURIComponent(runId)}}`;
  return `${prefix}:${tag}:seen:${eventId === undefined ? '-' : encodeURIComponent(eventId)}`;
}

export type BudgetOp = 'record' | 'count' | 'latch' | 'peek';

const compiled = new WeakMap<BudgetPolicy, CompiledBudget>();

/** A compiled budget as is, a policy compiled once (cached per policy object). */
export function asCompiled(budget: CompiledBudget | BudgetPolicy): CompiledBudget {
  if ('windowsMs' in budget) return budget;
  let c = compiled.get(budget);
  if (!c) {
    c = compileBudget(budget);
    compiled.set(budget, c);
  }
  return c;
}

/** ARGV of the budget script (see budget-lua.ts for the layout). */
export function budgetArgs(
  budget: CompiledBudget,
  op: BudgetOp,
  nowMs: number,
  outcome: BudgetOutcome | undefined,
  seenTtlMs = 0,
): string[] {
  const args = [
    op,
    String(Math.floor(nowMs)),
    outcome ?? '-',
    String(seenTtlMs),
    String(budget.bucketMs),
    String(budget.ttlMs),
    String(budget.windowsMs.length),
    ...budget.windowBuckets.map(String),
    budget.kind,
  ];
  if (budget.kind === 'count') {
    args.push(String(budget.warnAt), String(budget.breachAt));
  } else {
    args.push(String(budget.budgetFraction), String(budget.minEvents), String(budget.pairs.length));
    for (const p of budget.pairs) {
      args.push(
        String(p.longIndex + 1),
        String(p.shortIndex + 1),
        String(p.burnRate),
        p.severity === 'breach' ? '2' : '1',
      );
    }
  }
  return args;
}

/** Builds a report from the script's reply (also used by the in-memory store, which replies in the same shape). */
export function reportFromReply(
  runId: string,
  budget: CompiledBudget,
  reply: readonly number[],
): BudgetReport {
  const n = budget.windowsMs.length;
  if (reply.length !== 8 + 2 * n) {
    throw new InternalError(`error budget: unexpected script reply of length ${reply.length}`, {
      details: { runId },
    });
  }
  const [code, firstBreach, firstWarn, warnedAt, breachedAt, firedPair, at, duplicate] = reply as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const windows: WindowStatus[] = budget.windowsMs.map((windowMs, i) => {
    const errors = reply[8 + i]!;
    const total = reply[8 + n + i]!;
    const rate =
      budget.kind === 'slo'
        ? burnRate(errors, total, budget.slo)
        : budget.maxErrors > 0
          ? errors / budget.maxErrors
          : errors > 0
            ? Number.POSITIVE_INFINITY
            : 0;
    return { windowMs, errors, total, burnRate: rate };
  });
  return {
    runId,
    at,
    verdict: verdictFromCode(code),
    windows,
    firedPair,
    firstBreach: firstBreach === 1,
    firstWarn: firstWarn === 1,
    duplicate: duplicate === 1,
    breached: breachedAt >= 0,
    breachedAt: breachedAt >= 0 ? breachedAt : undefined,
    warnedAt: warnedAt >= 0 ? warnedAt : undefined,
  };
}

export interface RedisBudgetStoreOptions {
  /** An ioredis client (Redis or Cluster) to Redis or DragonflyDB. The store defines one command on it. */
  redis: Redis | Cluster;
  clock: Clock;
  /** Default {@link DEFAULT_KEY_PREFIX}. */
  keyPrefix?: string;
  /** How long an event's seen marker is kept; default {@link DEFAULT_SEEN_TTL_MS}. */
  seenTtlMs?: number;
}

const COMMAND = 'agovErrorBudget';
type BudgetCommand = Record<
  typeof COMMAND,
  (k1: string, k2: string, k3: string, k4: string, ...argv: string[]) => Promise<unknown>
>;

/**
 * BudgetStore on Redis/DragonflyDB. The script runs with EVALSHA and falls back to EVAL on NOSCRIPT
 * (ioredis defineCommand).
 */
export class RedisBudgetStore implements BudgetStore {
  private readonly redis: Redis | Cluster;
  private readonly clock: Clock;
  private readonly prefix: string;
  private readonly seenTtlMs: number;

  constructor(options: RedisBudgetStoreOptions) {
    this.redis = options.redis;
    this.clock = options.clock;
    this.prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.seenTtlMs = options.seenTtlMs ?? DEFAULT_SEEN_TTL_MS;
    if (typeof (this.redis as unknown as Partial<BudgetCommand>)[COMMAND] !== 'function') {
      this.redis.defineCommand(COMMAND, { numberOfKeys: 4, lua: BUDGET_LUA });
    }
  }

  keys(runId: string): [string, string, string] {
    return budgetKeys(runId, this.prefix);
  }

  record(
    runId: string,
    budget: CompiledBudget | BudgetPolicy,
    outcome: BudgetOutcome,
    options: RecordOptions = {},
  ): Promise<BudgetReport> {
    checkOutcome(outcome);
    const op = options.latch === false ? 'count' : 'record';
    return this.run(runId, asCompiled(budget), op, outcome, options.eventId);
  }

  latch(runId: string, budget: CompiledBudget | BudgetPolicy): Promise<BudgetReport> {
    return this.run(runId, asCompiled(budget), 'latch', undefined);
  }

  snapshot(runId: string, budget: CompiledBudget | BudgetPolicy): Promise<BudgetReport> {
    return this.run(runId, asCompiled(budget), 'peek', undefined);
  }

  async reset(runId: string): Promise<void> {
    await this.redis.del(...this.keys(runId));
  }

  private async run(
    runId: string,
    budget: CompiledBudget,
    op: BudgetOp,
    outcome: BudgetOutcome | undefined,
    eventId?: string,
  ): Promise<BudgetReport> {
    const [k1, k2, k3] = this.keys(runId);
    const k4 = seenKey(runId, eventId, this.prefix);
    const argv = budgetArgs(
      budget,
      op,
      this.clock.now(),
      outcome,
      eventId === undefined ? 0 : this.seenTtlMs,
    );
    const reply = await (this.redis as unknown as BudgetCommand)[COMMAND](k1, k2, k3, k4, ...argv);
    if (!Array.isArray(reply))
      throw new InternalError('error budget: script replied with a non-array', { details: { runId } });
    return reportFromReply(runId, budget, reply.map(Number));
  }
}

/** Refuses an outcome that is neither 'success' nor 'error' (the stores' common validation). */
export function checkOutcome(outcome: BudgetOutcome): void {
  if (outcome !== 'success' && outcome !== 'error') {
    throw new InvalidMessageError(
      `error budget: outcome must be 'success' or 'error', got ${String(outcome)}`,
    );
  }
}
