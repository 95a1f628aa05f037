/**
 * The pure budget evaluator: given the errors/total of every window of a compiled budget, decides
 * ok | warn | breach. The Lua script in budget-lua.ts implements the same rules line for line;
 * a test checks both give the same verdict on random event sequences.
 */
import { burnRate } from './burn-rate.ts';
import type { BudgetVerdict, CompiledBudget, CompiledSloBudget } from './budget-policy.ts';

/** Events counted in one sliding window. */
export interface WindowCounts {
  errors: number;
  total: number;
}

/** A window's counts with its length and, for SLO budgets, its burn rate. */
export interface WindowStatus extends WindowCounts {
  windowMs: number;
  /** SLO budgets: errors / total / (1 - slo). Count budgets: errors / maxErrors (budget used). */
  burnRate: number;
}

export interface BudgetEvaluation {
  verdict: BudgetVerdict;
  /** Every window of the budget, ascending by length (CompiledBudget.windowsMs order). */
  windows: WindowStatus[];
  /** SLO budgets: index into CompiledSloBudget.pairs of the pair that set the verdict, else -1. */
  firedPair: number;
}

/** Verdicts as small integers, as the Lua script returns them. */
export const VERDICT_CODES: Readonly<Record<BudgetVerdict, number>> = Object.freeze({
  ok: 0,
  warn: 1,
  breach: 2,
});
const VERDICTS: readonly BudgetVerdict[] = ['ok', 'warn', 'breach'];

export function verdictFromCode(code: number): BudgetVerdict {
  const v = VERDICTS[code];
  if (v === undefined) throw new RangeError(`unknown budget verdict code ${code}`);
  return v;
}

/** True when a pair fires: long window has >= minEvents events and both windows burn strictly faster than the pair's rate. */
export function pairFires(
  budget: CompiledSloBudget,
  pairIndex: number,
  counts: readonly WindowCounts[],
): boolean {
  const pair = budget.pairs[pairIndex];
  if (!pair) return false;
  const long = counts[pair.longIndex] ?? { errors: 0, total: 0 };
  const short = counts[pair.shortIndex] ?? { errors: 0, total: 0 };
  if (long.total <= 0 || short.total <= 0 || long.total < budget.minEvents) return false;
  return (
    burnRate(long.errors, long.total, budget.slo) > pair.burnRate &&
    burnRate(short.errors, short.total, budget.slo) > pair.burnRate
  );
}

/**
 * Decides the verdict for the given window counts (`counts[i]` is the window `budget.windowsMs[i]`).
 *
 * - count budget: breach when errors > maxErrors (errors >= maxErrors + 1), warn when errors >= warnAt.
 * - SLO budget: the highest severity among the pairs that fire (see {@link pairFires}); ties keep the first pair.
 */
export function evaluateBudget(budget: CompiledBudget, counts: readonly WindowCounts[]): BudgetEvaluation {
  if (counts.length !== budget.windowsMs.length) {
    throw new RangeError(`expected counts for ${budget.windowsMs.length} windows, got ${counts.length}`);
  }
  if (budget.kind === 'count') {
    const errors = counts[0]!.errors;
    const verdict: BudgetVerdict =
      errors >= budget.breachAt ? 'breach' : errors >= budget.warnAt ? 'warn' : 'ok';
    const windows = counts.map((c, i) => ({
      windowMs: budget.windowsMs[i]!,
      errors: c.errors,
      total: c.total,
      burnRate:
        budget.maxErrors > 0 ? c.errors / budget.maxErrors : c.errors > 0 ? Number.POSITIVE_INFINITY : 0,
    }));
    return { verdict, windows, firedPair: -1 };
  }
  let code = 0;
  let firedPair = -1;
  budget.pairs.forEach((pair, i) => {
    const sev = VERDICT_CODES[pair.severity];
    if (sev > code && pairFires(budget, i, counts)) {
      code = sev;
      firedPair = i;
    }
  });
  const windows = counts.map((c, i) => ({
    windowMs: budget.windowsMs[i]!,
    errors: c.errors,
    total: c.total,
    burnRate: burnRate(c.errors, c.total, budget.slo),
  }));
  return { verdict: verdictFromCode(code), windows, firedPair };
}
