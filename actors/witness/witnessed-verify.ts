/**
 * Checks a ledger file against what its witnesses cosigned: the check that catches what a ledger
 * cannot show about itself. A ledger whose key leaked can be rewritten and re-signed consistently,
 * truncated with the checkpoints covering the cut dropped, or shown differently to different
 * parties; each of these disagrees with some witness's cosigned head:
 *
 * - `truncated`: a witness cosigned a size the ledger no longer reaches;
 * - `rewritten`: the ledger's root at a cosigned size is not the cosigned root (history before that
 *   size was changed, whatever signed it afterwards);
 * - `checkpoint-dropped`: a cosigned checkpoint is missing from the ledger's checkpoints;
 * - `fork`: two witnesses cosigned different roots for the same size;
 * - `bad-signature` / `bad-cosignature`: a witnessed head that the pinned ledger key or the witness's
 *   key does not sign (the evidence itself is not to be trusted).
 */
import type { KeyObject } from 'node:crypto';
import { checkpointSignatureProblem, type LedgerStore } from '../ledger/reader.ts';
import { cosignatureProblem } from './cosignature.ts';
import type { WitnessedCheckpoint } from './witness-store.ts';

export interface WitnessEvidence {
  witness: string;
  publicKey: KeyObject;
  checkpoints: readonly WitnessedCheckpoint[];
}

export type WitnessFindingKind =
  | 'truncated'
  | 'rewritten'
  | 'checkpoint-dropped'
  | 'fork'
  | 'bad-signature'
  | 'bad-cosignature';

export interface WitnessFinding {
  kind: WitnessFindingKind;
  witness: string;
  size: number;
  message: string;
}

export interface WitnessCheck {
  ok: boolean;
  /** The largest size some witness cosigned and the ledger matches. */
  witnessedSize: number;
  findings: WitnessFinding[];
}

export function checkAgainstWitnesses(
  store: LedgerStore,
  ledgerKey: KeyObject,
  witnesses: readonly WitnessEvidence[],
): WitnessCheck {
  const findings: WitnessFinding[] = [];
  const rootsBySize = new Map<number, { witness: string; root: Buffer }>();
  let witnessedSize = 0;
  for (const w of witnesses) {
    for (const { checkpoint: cp, cosignature } of w.checkpoints) {
      const add = (kind: WitnessFindingKind, message: string) =>
        findings.push({ kind, witness: w.witness, size: cp.size, message });
      const cosigProblem = cosignatureProblem(cp, cosignature, w.publicKey);
      if (cosigProblem) {
        add('bad-cosignature', `witness ${w.witness}, size ${cp.size}: ${cosigProblem}`);
        continue;
      }
      const sigProblem = checkpointSignatureProblem(cp, ledgerKey);
      if (sigProblem) {
        add(
          'bad-signature',
          `witness ${w.witness} holds a head of size ${cp.size} the pinned ledger key did not sign: ${sigProblem}`,
        );
        continue;
      }
      const other = rootsBySize.get(cp.size);
      if (other && !other.root.equals(cp.root)) {
        add(
          'fork',
          `fork: witnesses ${other.witness} and ${w.witness} cosigned different roots for size ${cp.size}`,
        );
      } else rootsBySize.set(cp.size, { witness: w.witness, root: cp.root });
      if (cp.size > store.size) {
        add(
          'truncated',
          `truncated: the ledger has ${store.size} entries but witness ${w.witness} cosigned size ${cp.size} (entries ${store.size}..${cp.size - 1} are gone)`,
        );
        continue;
      }
      if (!store.rootAt(cp.size).equals(cp.root)) {
        add(
          'rewritten',
          `rewritten: the ledger's root at size ${cp.size} is not the root witness ${w.witness} cosigned (entries before ${cp.size} were changed and re-signed)`,
        );
        continue;
      }
      if (!store.checkpointAt(cp.size)) {
        add(
          'checkpoint-dropped',
          `checkpoint dropped: the ledger has no checkpoint of size ${cp.size}, which witness ${w.witness} cosigned`,
        );
      }
      witnessedSize = Math.max(witnessedSize, cp.size);
    }
  }
  return { ok: findings.length === 0, witnessedSize, findings };
}
