/**
 * A pipeline's declared error budget (protocols/pipeline/model.ts `ErrorBudget`, as carried by
 * `run.event.v1` `governance.errorBudget`) → the error-budget store's {@link BudgetPolicy} (pure).
 *
 * - count: `maxErrors` errors in `windowMs`, scaled by the `breach` ratio: breach when
 *   errors > floor(maxErrors × breach); warn from ceil(maxErrors × warn) errors.
 * - slo: one window of `burnWindowMs` (short window = long / 12, as in the SRE workbook), a breach
 *   pair at `breachBurnRate` and a warn pair at `warnBurnRate`; pair windows are written for the
 *   30-day reference period so that compileBudget's scaling gives back `burnWindowMs`.
 */
import type { z } from 'zod';
import type { PipelineErrorBudgetSchema } from '../../protocols/index.ts';
import {
  DEFAULT_ERROR_BUDGET_BREACH_RATIO,
  DEFAULT_ERROR_BUDGET_MAX_ERRORS,
  DEFAULT_ERROR_BUDGET_WARN_RATIO,
  DEFAULT_ERROR_BUDGET_WINDOW_MS,
  DEFAULT_SLO_BREACH_BURN_RATE,
  DEFAULT_SLO_BURN_WINDOW_MS,
  DEFAULT_SLO_WARN_BURN_RATE,
} from '../../protocols/pipeline/index.ts';
import { type BudgetPolicy, DEFAULT_REFERENCE_PERIOD_MS } from './budget-policy.ts';

export type PipelineErrorBudget = z.output<typeof PipelineErrorBudgetSchema>;

/** Short window of an SLO burn-rate pair = long window / this (1 h / 5 min in the SRE workbook). */
export const DEFAULT_SHORT_WINDOW_DIVISOR = 12;

/** The pipeline DSL's default budget (a pipeline that declares none). */
export const DEFAULT_PIPELINE_BUDGET: PipelineErrorBudget = {
  kind: 'count',
  maxErrors: DEFAULT_ERROR_BUDGET_MAX_ERRORS,
  windowMs: DEFAULT_ERROR_BUDGET_WINDOW_MS,
  warn: DEFAULT_ERROR_BUDGET_WARN_RATIO,
  breach: DEFAULT_ERROR_BUDGET_BREACH_RATIO,
};

export function budgetPolicyFromPipeline(b: PipelineErrorBudget = DEFAULT_PIPELINE_BUDGET): BudgetPolicy {
  if (b.kind === 'count') {
    const breach = b.breach ?? DEFAULT_ERROR_BUDGET_BREACH_RATIO;
    const warn = Math.min(b.warn ?? DEFAULT_ERROR_BUDGET_WARN_RATIO, breach);
    const maxErrors = Math.max(0, Math.floor(b.maxErrors * breach + 1e-9));
    const warnAt = Math.max(1, Math.ceil(b.maxErrors * warn - 1e-9));
    const warnFraction = maxErrors > 0 ? Math.min(1, warnAt / maxErrors) : 1;
    return { kind: 'count', maxErrors, windowMs: b.windowMs, warnFraction };
  }
  const long = b.burnWindowMs ?? DEFAULT_SLO_BURN_WINDOW_MS;
  const short = Math.max(1, Math.round(long / DEFAULT_SHORT_WINDOW_DIVISOR));
  const ref = (ms: number) => Math.max(1, Math.round((ms * DEFAULT_REFERENCE_PERIOD_MS) / b.periodMs));
  return {
    kind: 'slo',
    slo: b.slo,
    periodMs: b.periodMs,
    pairs: [
      {
        longWindowMs: ref(long),
        shortWindowMs: ref(short),
        burnRate: b.breachBurnRate ?? DEFAULT_SLO_BREACH_BURN_RATE,
        severity: 'breach',
      },
      {
        longWindowMs: ref(long),
        shortWindowMs: ref(short),
        burnRate: b.warnBurnRate ?? DEFAULT_SLO_WARN_BURN_RATE,
        severity: 'warn',
      },
    ],
  };
}
