/**
 * Self-contained proofs over a ledger: each carries the signed checkpoint(s) it is relative to,
 * so it can be checked with nothing but the public key.
 */
import type { KeyObject } from 'node:crypto';
import { NotFoundError } from '../../protocols/vocabulary/index.ts';
import {
  type SignedCheckpoint,
  checkpointSignatureProblem,
  formatSignedCheckpoint,
  loadPublicKey,
  parseSignedCheckpoint,
} from './checkpoint.ts';
import type { LedgerStore } from './ledger-store.ts';
import {
  buildConsistencyProof,
  buildInclusionProof,
  hashLeaf,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

export interface InclusionProof {
  seq: number;
  /** SHA-256(0x00 || body), hex. */
  leafHash: string;
  treeSize: number;
  /** Audit path, leaf side first, hex. */
  path: string[];
  /** The signed checkpoint (note text) whose root the path leads to. */
  checkpoint: string;
}

export interface ConsistencyProof {
  fromSize: number;
  toSize: number;
  /** RFC 9162 consistency path, hex. */
  path: string[];
  /** Signed checkpoint of size fromSize. */
  from: string;
  /** Signed checkpoint of size toSize. */
  to: string;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

const HEX32 = /^[0-9a-f]{64}$/;

/**
 * Inclusion proof of entry `seq` against `checkpoint`, or the latest checkpoint that covers it.
 * @throws NotFoundError when the entry does not exist or no checkpoint covers it yet
 */
export function proveInclusion(
  store: LedgerStore,
  seq: number,
  checkpoint?: SignedCheckpoint,
): InclusionProof {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq >= store.size) {
    throw new NotFoundError(`ledger has no entry at seq ${seq} (size ${store.size})`);
  }
  const cp = checkpoint ?? store.checkpointCovering(seq);
  if (!cp) throw new NotFoundError(`no checkpoint covers seq ${seq} yet: sign one first`);
  if (seq >= cp.size) throw new NotFoundError(`checkpoint of size ${cp.size} does not cover seq ${seq}`);
  return {
    seq,
    leafHash: store.node(0, seq).toString('hex'),
    treeSize: cp.size,
    path: buildInclusionProof(store, seq, cp.size).map((h) => h.toString('hex')),
    checkpoint: formatSignedCheckpoint(cp),
  };
}

/**
 * Checks an inclusion proof: the checkpoint's signature, then the audit path from the leaf to its
 * root. Given the entry's canonical `body`, also checks that the leaf is that body's hash.
 */
export function checkInclusionProof(
  proof: InclusionProof,
  publicKey: string | Buffer | KeyObject,
  body?: Uint8Array,
): Verdict {
  let cp: SignedCheckpoint;
  try {
    cp = parseSignedCheckpoint(proof.checkpoint);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const sig = checkpointSignatureProblem(cp, loadPublicKey(publicKey));
  if (sig) return { ok: false, reason: `checkpoint: ${sig}` };
  if (cp.size !== proof.treeSize)
    return { ok: false, reason: `proof is for size ${proof.treeSize}, checkpoint is size ${cp.size}` };
  if (!HEX32.test(proof.leafHash) || !proof.path.every((h) => HEX32.test(h))) {
    return { ok: false, reason: 'hashes must be 64 lowercase hex digits' };
  }
  const leaf = Buffer.from(proof.leafHash, 'hex');
  if (body && !hashLeaf(body).equals(leaf))
    return { ok: false, reason: 'the body does not hash to the proven leaf' };
  const path = proof.path.map((h) => Buffer.from(h, 'hex'));
  if (!verifyInclusion(leaf, proof.seq, cp.size, path, cp.root)) {
    return {
      ok: false,
      reason: `audit path for seq ${proof.seq} does not lead to the signed root of size ${cp.size}`,
    };
  }
  return { ok: true };
}

/**
 * Consistency proof between the stored checkpoints of sizes m and n (m <= n): the tree signed at n
 * extends the one signed at m, nothing rewritten.
 * @throws NotFoundError when there is no checkpoint of either size
 */
export function proveConsistency(store: LedgerStore, m: number, n: number): ConsistencyProof {
  const from = store.checkpointAt(m);
  const to = store.checkpointAt(n);
  if (!from) throw new NotFoundError(`no checkpoint of size ${m}`);
  if (!to) throw new NotFoundError(`no checkpoint of size ${n}`);
  if (m > n) throw new RangeError(`consistency proof needs m <= n (got ${m} > ${n})`);
  return {
    fromSize: m,
    toSize: n,
    path: buildConsistencyProof(store, m, n).map((h) => h.toString('hex')),
    from: formatSignedCheckpoint(from),
    to: formatSignedCheckpoint(to),
  };
}

/** Checks both checkpoint signatures and the RFC 9162 §2.1.4.2 consistency path between their roots. */
export function checkConsistencyProof(
  proof: ConsistencyProof,
  publicKey: string | Buffer | KeyObject,
): Verdict {
  const key = loadPublicKey(publicKey);
  let from: SignedCheckpoint;
  let to: SignedCheckpoint;
  try {
    from = parseSignedCheckpoint(proof.from);
    to = parseSignedCheckpoint(proof.to);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  for (const [name, cp] of [
    ['from', from],
    ['to', to],
  ] as const) {
    const p = checkpointSignatureProblem(cp, key);
    if (p) return { ok: false, reason: `${name} checkpoint: ${p}` };
  }
  if (from.origin !== to.origin) return { ok: false, reason: 'checkpoints are from different logs' };
  if (from.size !== proof.fromSize || to.size !== proof.toSize) {
    return { ok: false, reason: 'proof sizes differ from the checkpoint sizes' };
  }
  if (!proof.path.every((h) => HEX32.test(h)))
    return { ok: false, reason: 'hashes must be 64 lowercase hex digits' };
  const path = proof.path.map((h) => Buffer.from(h, 'hex'));
  if (!verifyConsistency(from.size, to.size, from.root, to.root, path)) {
    return {
      ok: false,
      reason: `tree of size ${to.size} is not an extension of the tree of size ${from.size}`,
    };
  }
  return { ok: true };
}
