/**
 * Burn-rate maths (SRE workbook, "Alerting on SLOs"). Pure functions, no I/O.
 *
 * burn rate = error ratio / (1 - SLO) (see budgetFraction for the rounding). A burn rate of 1 spends exactly the whole budget over the
 * budget period; a burn rate b sustained for a window w spends b * w / period of the budget.
 */

/** errors / total; 0 when there were no events. */
export function errorRatio(errors: number, total: number): number {
  return total > 0 ? errors / total : 0;
}

/**
 * The error budget as a fraction of events, 1 - slo, rounded to 12 significant digits so that
 * 1 - 0.9 is 0.1 and not 0.09999999999999998 (a burn rate of exactly 2 must not read 2.0000000000000004).
 */
export function budgetFraction(slo: number): number {
  return Number((1 - slo).toPrecision(12));
}

/**
 * (errors / total) / budgetFraction(slo); 0 when there were no events.
 * Computed exactly as the Lua script computes it (same IEEE-754 operations, same order, the budget
 * fraction passed to it as this number's shortest decimal string), so both compare identically.
 */
export function burnRate(errors: number, total: number, slo: number): number {
  if (total <= 0) return 0;
  return errors / total / budgetFraction(slo);
}

/** Fraction of the period's error budget spent by burning at `rate` for `windowMs`. */
export function budgetConsumed(rate: number, windowMs: number, periodMs: number): number {
  return (rate * windowMs) / periodMs;
}

/** The burn rate that spends `fraction` of the budget within `windowMs` (e.g. 2 % in 1 h of 30 d → 14.4). */
export function burnRateForBudgetFraction(fraction: number, windowMs: number, periodMs: number): number {
  return (fraction * periodMs) / windowMs;
}

/** Time until the whole budget is gone at a constant burn rate; Infinity at rate 0. */
export function timeToExhaustionMs(rate: number, periodMs: number): number {
  return rate > 0 ? periodMs / rate : Number.POSITIVE_INFINITY;
}

/** Errors the budget allows over a period with `total` events: (1 - slo) * total. */
export function allowedErrors(slo: number, total: number): number {
  return budgetFraction(slo) * total;
}
