/**
 * The head an incremental ledger verification starts from (verify.ts): a signed tree head an auditor
 * verified earlier, with the Merkle frontier needed to go on appending from it, checked against itself
 * and the pinned key before it is trusted.
 */
import type { KeyObject } from 'node:crypto';
import { ConfigError } from '../../protocols/vocabulary/index.ts';
import type { CheckpointRow } from './ledger-store.ts';
import { CompactRange } from './merkle.ts';
import { keyFingerprint } from './trust.ts';

/**
 * A signed tree head an auditor has verified, with the Merkle frontier needed to go on from it
 * (JSON-safe; `agov ledger verify --state FILE` keeps it). It is as trustworthy as the place it is
 * kept: beside the pinned key, not in the data directory.
 */
export interface VerifiedHead {
  v: 1;
  /** Fingerprint of the key it was verified with (a head is refused with another key). */
  key: string;
  size: number;
  /** Root hash, hex. */
  root: string;
  /** Perfect-subtree hashes of [0, size), largest first. */
  frontier: { level: number; hash: string }[];
  /** When it was verified (ms since the epoch). */
  verifiedAt: number;
}

/** Where an incremental verification starts: the head, checked against itself and the key. */
export interface Start {
  head: VerifiedHead;
  range: CompactRange;
}

export function startOf(head: VerifiedHead, key: KeyObject): Start {
  if (head?.v !== 1) throw new ConfigError('the verified head is not a version 1 head');
  const fp = keyFingerprint(key);
  if (head.key !== fp) {
    throw new ConfigError(`the verified head was recorded with key ${head.key}, not the pinned ${fp}`);
  }
  let range: CompactRange;
  try {
    range = CompactRange.fromFrontier(
      head.size,
      head.frontier.map((n) => ({ level: n.level, hash: Buffer.from(n.hash, 'hex') })),
    );
  } catch (err) {
    throw new ConfigError(`the verified head is malformed: ${(err as Error).message}`, { cause: err });
  }
  if (range.root().toString('hex') !== head.root) {
    throw new ConfigError('the verified head is inconsistent: its frontier does not hash to its root');
  }
  return { head, range };
}

/** The head a verification reached: checkpoint `cp`, whose tree `range` spans. */
export function headOf(key: KeyObject, cp: CheckpointRow, range: CompactRange, now: number): VerifiedHead {
  return {
    v: 1,
    key: keyFingerprint(key),
    size: cp.size,
    root: cp.root.toString('hex'),
    frontier: range.frontier().map((n) => ({ level: n.level, hash: n.hash.toString('hex') })),
    verifiedAt: now,
  };
}
