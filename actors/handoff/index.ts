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
