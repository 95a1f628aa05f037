/**
 * What a witness decides about a signed checkpoint it is shown (pure; the actor does the I/O).
 *
 * A witness remembers the last checkpoint it cosigned for the ledger (size, root) and cosigns a new
 * one only when the ledger can be shown to have grown from it without rewriting anything:
 *
 * - the checkpoint's signature verifies under the ledger key the witness was configured with (pinned;
 *   a checkpoint re-signed with any other key is refused as `bad-signature`), for the pinned origin;
 * - first checkpoint ever: cosigned (trust on first use — say so in the witness's configuration);
 * - smaller than the last cosigned size: refused as `shrink` (truncation, or a replayed old head);
 * - same size: the same root is `seen` (the existing cosignature stands); another root is a `fork`;
 * - larger: the consistency proof (RFC 9162 §2.1.4.2) from the remembered root to the new root must
 *   verify; otherwise it is a `fork` (history before the remembered size was rewritten).
 *
 * A refusal raises an alarm (the actor puts it on the feed and in the witness's store) and leaves
 * the remembered state as it was, so a witness never follows a fork.
 */
import type { KeyObject } from 'node:crypto';
import { checkpointSignatureProblem, type SignedCheckpoint, verifyConsistency } from '../ledger/reader.ts';

export interface WitnessState {
  origin: string;
  /** Size of the last cosigned checkpoint; 0 before the first. */
  size: number;
  /** Its root; undefined before the first. */
  root: Buffer | undefined;
}

export type RefusalReason = 'bad-signature' | 'wrong-origin' | 'shrink' | 'fork';

export type WitnessVerdict =
  | { kind: 'cosign'; state: WitnessState }
  | { kind: 'seen' }
  | { kind: 'refuse'; reason: RefusalReason; detail: string };

/** Whether a consistency proof is needed before {@link judgeCheckpoint} can decide: from which size. */
export function proofNeeded(state: WitnessState, sc: SignedCheckpoint): number | undefined {
  return state.size > 0 && sc.size > state.size ? state.size : undefined;
}

export function judgeCheckpoint(
  state: WitnessState,
  sc: SignedCheckpoint,
  ledgerKey: KeyObject,
  consistencyPath: readonly Buffer[] = [],
): WitnessVerdict {
  if (sc.origin !== state.origin) {
    return {
      kind: 'refuse',
      reason: 'wrong-origin',
      detail: `origin "${sc.origin}" is not "${state.origin}"`,
    };
  }
  const sigProblem = checkpointSignatureProblem(sc, ledgerKey);
  if (sigProblem) return { kind: 'refuse', reason: 'bad-signature', detail: sigProblem };
  const next: WitnessState = { origin: state.origin, size: sc.size, root: Buffer.from(sc.root) };
  if (state.root === undefined) return { kind: 'cosign', state: next };
  if (sc.size < state.size) {
    return {
      kind: 'refuse',
      reason: 'shrink',
      detail: `size ${sc.size} is below the ${state.size} entries already witnessed`,
    };
  }
  if (sc.size === state.size) {
    return state.root.equals(sc.root)
      ? { kind: 'seen' }
      : { kind: 'refuse', reason: 'fork', detail: `a second root for size ${sc.size}` };
  }
  if (!verifyConsistency(state.size, sc.size, state.root, sc.root, consistencyPath)) {
    return {
      kind: 'refuse',
      reason: 'fork',
      detail: `size ${sc.size} is not an extension of the witnessed size ${state.size} (consistency proof fails)`,
    };
  }
  return { kind: 'cosign', state: next };
}
