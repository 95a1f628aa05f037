/**
 * Witnesses of the audit ledger: each has its own key and store, cosigns checkpoints that extend
 * what it saw, and raises alarms for forks and shrinks; `checkAgainstWitnesses` finds truncation,
 * dropped checkpoints and re-signed rewrites in a ledger file. docs/ledger.md "Witnesses".
 */
export {
  type Cosignature,
  cosign,
  cosignatureKeyId,
  cosignatureProblem,
  cosignedMessage,
  formatCosignatureLine,
  parseCosignatureLine,
} from './cosignature.ts';
export {
  judgeCheckpoint,
  proofNeeded,
  type RefusalReason,
  type WitnessState,
  type WitnessVerdict,
} from './witness-logic.ts';
export { type WitnessAlarm, type WitnessedCheckpoint, WitnessStore } from './witness-store.ts';
export {
  checkAgainstWitnesses,
  type WitnessCheck,
  type WitnessEvidence,
  type WitnessFinding,
  type WitnessFindingKind,
} from './witnessed-verify.ts';
