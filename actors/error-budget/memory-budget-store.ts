/**
 * BudgetStore in process memory: the reference model of the Lua script (same buckets, same pruning,
 * same verdict via evaluateBudget, same latches). For unit tests of actors and single-process runs.
 * It has no TTL: a run's state lives until reset().
 */
import type { Clock } from '../../infra/index.ts';
import { evaluateBudget, VERDICT_CODES, type WindowCounts } from './budget-evaluator.ts';
import type { BudgetPolicy, CompiledBudget } from './budget-policy.ts';
import {
  asCompiled,
  type BudgetOutcome,
  type BudgetReport,
  type BudgetOp,
  type BudgetStore,
  budgetKeys,
  checkOutcome,
  type RecordOptions,
  reportFromReply,
} from './budget-store.ts';

interface RunState {
  errors: Map<number, number>;
  totals: Map<number, number>;
  now: number | undefined;
  warnedAt: number | undefined;
  breachedAt: number | undefined;
}

/** Sums `buckets` into each window ending at bucket `cur` (window i covers buckets cur - nb[i] + 1 .. cur). */
export function sumWindows(
  buckets: ReadonlyMap<number, number>,
  cur: number,
  windowBuckets: readonly number[],
): number[] {
  const acc = windowBuckets.map(() => 0);
  for (const [idx, v] of buckets) {
    if (idx > cur) continue;
    windowBuckets.forEach((nb, i) => {
      if (idx > cur - nb) acc[i]! += v;
    });
  }
  return acc;
}

export class MemoryBudgetStore implements BudgetStore {
  private readonly runs = new Map<string, RunState>();
  /** Ids of the events counted per run; kept across reset(), as the Redis store's seen markers are. */
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly clock: Clock) {}

  async record(
    runId: string,
    budget: CompiledBudget | BudgetPolicy,
    outcome: BudgetOutcome,
    options: RecordOptions = {},
  ): Promise<BudgetReport> {
    checkOutcome(outcome);
    return this.run(
      runId,
      asCompiled(budget),
      options.latch === false ? 'count' : 'record',
      outcome,
      options.eventId,
    );
  }

  async latch(runId: string, budget: CompiledBudget | BudgetPolicy): Promise<BudgetReport> {
    return this.run(runId, asCompiled(budget), 'latch', undefined);
  }

  async snapshot(runId: string, budget: CompiledBudget | BudgetPolicy): Promise<BudgetReport> {
    return this.run(runId, asCompiled(budget), 'peek', undefined);
  }

  async reset(runId: string): Promise<void> {
    budgetKeys(runId);
    this.runs.delete(runId);
  }

  private run(
    runId: string,
    budget: CompiledBudget,
    op: BudgetOp,
    outcome: BudgetOutcome | undefined,
    eventId?: string,
  ): BudgetReport {
    budgetKeys(runId); // same validation as the Redis store
    let counting = op === 'record' || op === 'count';
    let latching = op === 'record' || op === 'latch';
    let state = this.runs.get(runId);
    let duplicate = 0;
    const seen = this.seen.get(runId) ?? new Set<string>();
    if (counting && eventId !== undefined && seen.has(eventId)) {
      duplicate = 1;
      counting = false;
      latching = false;
    }
    const write = counting || latching;
    if (!state) {
      state = {
        errors: new Map(),
        totals: new Map(),
        now: undefined,
        warnedAt: undefined,
        breachedAt: undefined,
      };
      if (write) this.runs.set(runId, state);
    }
    if (counting && eventId !== undefined) this.seen.set(runId, seen.add(eventId));
    let now = Math.floor(this.clock.now());
    if (state.now !== undefined && state.now > now) now = state.now;
    const cur = Math.floor(now / budget.bucketMs);
    const longest = budget.windowBuckets[budget.windowBuckets.length - 1]!;
    const oldest = cur - longest + 1;
    if (counting) {
      state.totals.set(cur, (state.totals.get(cur) ?? 0) + 1);
      if (outcome === 'error') state.errors.set(cur, (state.errors.get(cur) ?? 0) + 1);
      for (const m of [state.errors, state.totals])
        for (const idx of [...m.keys()]) if (idx < oldest) m.delete(idx);
    }
    const errs = sumWindows(state.errors, cur, budget.windowBuckets);
    const tots = sumWindows(state.totals, cur, budget.windowBuckets);
    const counts: WindowCounts[] = errs.map((errors, i) => ({ errors, total: tots[i]! }));
    const evaluation = evaluateBudget(budget, counts);
    const code = VERDICT_CODES[evaluation.verdict];
    let firstWarn = 0;
    let firstBreach = 0;
    if (latching) {
      if (code >= 1 && state.warnedAt === undefined) {
        state.warnedAt = now;
        firstWarn = 1;
      }
      if (code === 2 && state.breachedAt === undefined) {
        state.breachedAt = now;
        firstBreach = 1;
      }
    }
    if (write) state.now = now;
    return reportFromReply(runId, budget, [
      code,
      firstBreach,
      firstWarn,
      state.warnedAt ?? -1,
      state.breachedAt ?? -1,
      evaluation.firedPair,
      now,
      duplicate,
      ...errs,
      ...tots,
    ]);
  }
}
