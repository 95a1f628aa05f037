/**
 * BudgetStore in process memory: the reference model of the Lua script (same buckets, same pruning,
 * same verdict via evaluateBudget, same latches). For unit tests of actors and single-process runs.
 * It has no TTL: a run's state lives until reset().
 */
import type { Clock } from '../../infra/index.ts';
import { InvalidMessageError } from '../../protocols/index.ts';
import { evaluateBudget, VERDICT_CODES, type WindowCounts } from './budget-evaluator.ts';
import type { BudgetPolicy, CompiledBudget } from './budget-policy.ts';
import {
  asCompiled,
  type BudgetOutcome,
  type BudgetReport,
  type BudgetStore,
  budgetKeys,
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

  constructor(private readonly clock: Clock) {}

  async record(
    runId: string,
    budget: CompiledBudget | BudgetPolicy,
    outcome: BudgetOutcome,
  ): Promise<BudgetReport> {
    if (outcome !== 'success' && outcome !== 'error') {
      throw new InvalidMessageError(
        `error budget: outcome must be 'success' or 'error', got ${String(outcome)}`,
      );
    }
    return this.run(runId, asCompiled(budget), true, outcome);
  }

  async snapshot(runId: string, budget: CompiledBudget | BudgetPolicy): Promise<BudgetReport> {
    return this.run(runId, asCompiled(budget), false, undefined);
  }

  async reset(runId: string): Promise<void> {
    budgetKeys(runId);
    this.runs.delete(runId);
  }

  private run(
    runId: string,
    budget: CompiledBudget,
    write: boolean,
    outcome: BudgetOutcome | undefined,
  ): BudgetReport {
    budgetKeys(runId); // same validation as the Redis store
    let state = this.runs.get(runId);
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
    let now = Math.floor(this.clock.now());
    if (state.now !== undefined && state.now > now) now = state.now;
    const cur = Math.floor(now / budget.bucketMs);
    const longest = budget.windowBuckets[budget.windowBuckets.length - 1]!;
    const oldest = cur - longest + 1;
    if (write) {
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
    if (write) {
      if (code >= 1 && state.warnedAt === undefined) {
        state.warnedAt = now;
        firstWarn = 1;
      }
      if (code === 2 && state.breachedAt === undefined) {
        state.breachedAt = now;
        firstBreach = 1;
      }
      state.now = now;
    }
    return reportFromReply(runId, budget, [
      code,
      firstBreach,
      firstWarn,
      state.warnedAt ?? -1,
      state.breachedAt ?? -1,
      evaluation.firedPair,
      now,
      ...errs,
      ...tots,
    ]);
  }
}
