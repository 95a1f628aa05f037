/**
 * Error budgets: count budgets (maxErrors per sliding window) and SLO budgets (multi-window,
 * multi-burn-rate alerting), a pure evaluator, and atomic stores (Redis/DragonflyDB Lua, in-memory).
 * See docs/error-budgets.md.
 */
export {
  type BudgetPolicy,
  type BudgetVerdict,
  type BurnRatePair,
  type BurnRateSeverity,
  bucketWidthMs,
  type CompiledBudget,
  type CompiledCountBudget,
  type CompiledPair,
  type CompiledSloBudget,
  type CountBudgetPolicy,
  compileBudget,
  DEFAULT_BUCKETS_PER_SHORTEST_WINDOW,
  DEFAULT_BURN_RATE_PAIRS,
  DEFAULT_KEY_PREFIX,
  DEFAULT_MAX_BUCKETS,
  DEFAULT_MIN_BUCKET_MS,
  DEFAULT_MIN_EVENTS,
  DEFAULT_REFERENCE_PERIOD_MS,
  DEFAULT_SLO_PERIOD_MS,
  DEFAULT_WARN_FRACTION,
  type SloBudgetPolicy,
  scaleWindowMs,
} from './budget-policy.ts';
export {
  allowedErrors,
  budgetConsumed,
  budgetFraction,
  burnRate,
  burnRateForBudgetFraction,
  errorRatio,
  timeToExhaustionMs,
} from './burn-rate.ts';
export {
  type BudgetEvaluation,
  evaluateBudget,
  pairFires,
  VERDICT_CODES,
  verdictFromCode,
  type WindowCounts,
  type WindowStatus,
} from './budget-evaluator.ts';
export {
  asCompiled,
  budgetArgs,
  budgetKeys,
  type BudgetOp,
  type BudgetOutcome,
  type BudgetReport,
  type BudgetStore,
  DEFAULT_SEEN_TTL_MS,
  type RecordOptions,
  RedisBudgetStore,
  type RedisBudgetStoreOptions,
  reportFromReply,
  seenKey,
} from './budget-store.ts';
export { BUDGET_LUA } from './budget-lua.ts';
export { MemoryBudgetStore, sumWindows } from './memory-budget-store.ts';
/** Handoff reports: the recovery brief of a run whose error budget ran out. See docs/governance.md. */
export {
  buildHandoffReport,
  type HandoffError,
  type HandoffInput,
  type HandoffReport,
  NEXT_STEP_BY_CODE,
  nextSteps,
} from './handoff-report.ts';
export { type HandoffSummary, HandoffStore } from './handoff-store.ts';
export * from './budget-monitor-options.ts';
export { budgetMonitorKind } from './budget-monitor.ts';
export * from './quarantine-policy.ts';
export { type QuarantineHold, QuarantineStore } from './quarantine-store.ts';
