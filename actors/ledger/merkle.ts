/**
 * RFC 6962 / RFC 9162 Merkle Tree Hash over SHA-256.
 *
 *   leaf hash  = SHA-256(0x00 || entry)
 *   node hash  = SHA-256(0x01 || left || right)
 *   MTH({})    = SHA-256()
 *   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
 *
 * Proofs are built from "perfect subtree" hashes — node (level, index) covers leaves
 * [index·2^level, (index+1)·2^level) — read through a {@link NodeReader}, so a proof costs
 * O(log n) node reads. {@link CompactRange} is the append frontier: appending costs O(log n)
 * and reports every perfect subtree it completes, so a store can persist them.
 * Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) step by step.
 */
import { createHash, hash } from 'node:crypto';

export const HASH_SIZE = 32;

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** Root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = sha256();

/** SHA-256(0x00 || entry). */
export function hashLeaf(entry: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, entry]), 'buffer');
}

/**
 * A text entry and its leaf hash from one buffer: `0x00 || UTF-8(text)` is hashed once and the entry
 * is a view of the same bytes (no copy, no second encoding).
 */
export function leafOfText(text: string): { entry: Buffer; leafHash: Buffer } {
  const framed = Buffer.from(`\u0000${text}`, 'utf8');
  return { entry: framed.subarray(1), leafHash: hash('sha256', framed, 'buffer') };
}

const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE, NODE_PREFIX);

/** SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) return sha256(NODE_PREFIX, left, right);
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return hash('sha256', nodeInput, 'buffer');
}

/** Largest power of two strictly smaller than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && Number.isInteger(Math.log2(n)) && 2 ** Math.log2(n) === n;
}

/** Reads the hash of a perfect subtree; level 0 are leaf hashes. */
export interface NodeReader {
  node(level: number, index: number): Buffer;
}

/** MTH(D[start:end]) from perfect-subtree hashes, for ranges produced by the RFC 6962 recursion. */
export function rangeHash(reader: NodeReader, start: number, end: number): Buffer {
  const n = end - start;
  if (n <= 0) return EMPTY_ROOT;
  if (isPowerOfTwo(n) && start % n === 0) return reader.node(Math.log2(n), start / n);
  const k = splitPoint(n);
  return hashChildren(rangeHash(reader, start, start + k), rangeHash(reader, start + k, end));
}

/** Tree head MTH(D[0:size]). */
export function rootAt(reader: NodeReader, size: number): Buffer {
  return rangeHash(reader, 0, size);
}

/** Tree head of a list of leaf hashes, by the plain RFC 6962 recursion (reference implementation). */
export function treeHead(leafHashes: readonly Uint8Array[]): Buffer {
  const mth = (lo: number, hi: number): Buffer => {
    const n = hi - lo;
    if (n === 0) return EMPTY_ROOT;
    if (n === 1) return Buffer.from(leafHashes[lo]!);
    const k = splitPoint(n);
    return hashChildren(mth(lo, lo + k), mth(lo + k, hi));
  };
  return mth(0, leafHashes.length);
}

function checkSizes(index: number, size: number, what: string): void {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new RangeError(`${what}: need 0 <= ${index} < ${size}`);
  }
}

/** Audit path PATH(m, D[n]) of RFC 6962 §2.1.1 (RFC 9162 §2.1.3.1), leaf-side first. */
export function buildInclusionProof(reader: NodeReader, index: number, size: number): Buffer[] {
  checkSizes(index, size, 'inclusion proof');
  const path = (m: number, start: number, end: number): Buffer[] => {
    const n = end - start;
    if (n <= 1) return [];
    const k = splitPoint(n);
    if (m < k) return [...path(m, start, start + k), rangeHash(reader, start + k, end)];
    return [...path(m - k, start + k, end), rangeHash(reader, start, start + k)];
  };
  return path(index, 0, size);
}

/** Consistency proof PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 6962 §2.1.2 (RFC 9162 §2.1.4.1). */
export function buildConsistencyProof(reader: NodeReader, m: number, n: number): Buffer[] {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) {
    throw new RangeError(`consistency proof: need 0 <= ${m} <= ${n}`);
  }
  if (m === 0 || m === n) return [];
  const sub = (mm: number, start: number, end: number, b: boolean): Buffer[] => {
    const size = end - start;
    if (mm === size) return b ? [] : [rangeHash(reader, start, end)];
    const k = splitPoint(size);
    if (mm <= k) return [...sub(mm, start, start + k, b), rangeHash(reader, start + k, end)];
    return [...sub(mm - k, start + k, end, false), rangeHash(reader, start, start + k)];
  };
  return sub(m, 0, n, true);
}

const lsb = (x: number): boolean => x % 2 === 1;
const shr = (x: number): number => Math.floor(x / 2);

/** RFC 9162 §2.1.3.2: verifying an inclusion proof. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0) return false;
  // 1. Compare leaf_index against tree_size. If leaf_index >= tree_size, fail.
  if (index >= size) return false;
  // 2. Set fn to leaf_index and sn to tree_size - 1.
  let fn = index;
  let sn = size - 1;
  // 3. Set r to hash.
  let r: Buffer = Buffer.from(leafHash);
  // 4. For each value p in the inclusion_path array:
  for (const p of proof) {
    // a. If sn is 0, stop the iteration and fail the proof verification.
    if (sn === 0) return false;
    // b. If LSB(fn) is set, or if fn is equal to sn, then:
    if (lsb(fn) || fn === sn) {
      // i. Set r to HASH(0x01 || p || r).
      r = hashChildren(p, r);
      // ii. If LSB(fn) is not set, right-shift fn and sn equally until LSB(fn) is set or fn is 0.
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = shr(fn);
          sn = shr(sn);
        }
      }
    } else {
      // Otherwise: set r to HASH(0x01 || r || p).
      r = hashChildren(r, p);
    }
    // c. Finally, right-shift both fn and sn one time.
    fn = shr(fn);
    sn = shr(sn);
  }
  // 5. Compare sn to 0. Compare r against the root_hash. Both must hold.
  return sn === 0 && equalBytes(r, root);
}

/** RFC 9162 §2.1.4.2: verifying consistency between two tree heads (plus the trivial m = 0 and m = n cases). */
export function verifyConsistency(
  m: number,
  n: number,
  rootM: Uint8Array,
  rootN: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) return false;
  if (m === n) return proof.length === 0 && equalBytes(rootM, rootN);
  if (m === 0) return proof.length === 0 && equalBytes(rootM, EMPTY_ROOT);
  // 1. If consistency_path is an empty array, stop and fail the proof verification.
  if (proof.length === 0) return false;
  // 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
  const path: Uint8Array[] = isPowerOfTwo(m) ? [rootM, ...proof] : [...proof];
  // 3. Set fn to first - 1 and sn to second - 1.
  let fn = m - 1;
  let sn = n - 1;
  // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
  while (lsb(fn)) {
    fn = shr(fn);
    sn = shr(sn);
  }
  // 5. Set both fr and sr to the first value in the consistency_path array.
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  // 6. For each subsequent value c in the consistency_path array:
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0) return false;
    // b. If LSB(fn) is set, or if fn is equal to sn, then:
    if (lsb(fn) || fn === sn) {
      // i. Set fr to HASH(0x01 || c || fr).  ii. Set sr to HASH(0x01 || c || sr).
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      // iii. If LSB(fn) is not set, right-shift fn and sn equally until LSB(fn) is set or fn is 0.
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = shr(fn);
          sn = shr(sn);
        }
      }
    } else {
      // Otherwise: set sr to HASH(0x01 || sr || c).
      sr = hashChildren(sr, c);
    }
    // c. Finally, right-shift both fn and sn one time.
    fn = shr(fn);
    sn = shr(sn);
  }
  // 7. fr must equal first_hash, sr must equal second_hash, and sn must be 0.
  return sn === 0 && equalBytes(fr, rootM) && equalBytes(sr, rootN);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** A perfect subtree completed by an append: level 0 is the leaf itself. */
export interface CompletedNode {
  level: number;
  index: number;
  hash: Buffer;
}

/**
 * The frontier ("compact range" [0, size)) of an append-only tree: one perfect subtree per set bit
 * of size, largest first. append is O(log n); root() is O(log n).
 */
export class CompactRange {
  private nodes: { level: number; hash: Buffer }[];
  private count: number;

  private constructor(size: number, nodes: { level: number; hash: Buffer }[]) {
    this.count = size;
    this.nodes = nodes;
  }

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** The frontier of [0, size), read from stored perfect-subtree hashes. */
  static fromReader(reader: NodeReader, size: number): CompactRange {
    const nodes: { level: number; hash: Buffer }[] = [];
    let start = 0;
    for (let level = Math.floor(Math.log2(Math.max(size, 1))); level >= 0; level--) {
      const width = 2 ** level;
      if (start + width <= size) {
        nodes.push({ level, hash: reader.node(level, start / width) });
        start += width;
      }
    }
    return new CompactRange(size, nodes);
  }

  get size(): number {
    return this.count;
  }

  /** Appends a leaf hash; returns the leaf and every perfect subtree it completes (lowest first). */
  append(leafHash: Buffer): CompletedNode[] {
    const done: CompletedNode[] = [{ level: 0, index: this.count, hash: leafHash }];
    this.nodes.push({ level: 0, hash: leafHash });
    this.count++;
    for (;;) {
      const n = this.nodes.length;
      const right = this.nodes[n - 1];
      const left = this.nodes[n - 2];
      if (!left || !right || left.level !== right.level) break;
      const level = left.level + 1;
      const hash = hashChildren(left.hash, right.hash);
      this.nodes.splice(n - 2, 2, { level, hash });
      done.push({ level, index: this.count / 2 ** level - 1, hash });
    }
    return done;
  }

  /** MTH of the leaves appended so far. */
  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let r = this.nodes[this.nodes.length - 1]!.hash;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = hashChildren(this.nodes[i]!.hash, r);
    return r;
  }

  /** The perfect-subtree hashes that make up [0, size), largest first: enough to go on appending. */
  frontier(): { level: number; hash: Buffer }[] {
    return this.nodes.map((x) => ({ level: x.level, hash: Buffer.from(x.hash) }));
  }

  /**
   * Rebuilds a range from {@link frontier}. The nodes must be the binary decomposition of `size`
   * (one per set bit, largest first); anything else is refused, since a wrong shape would hash to a
   * root no honest tree has.
   */
  static fromFrontier(size: number, nodes: readonly { level: number; hash: Buffer }[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad tree size ${size}`);
    const levels: number[] = [];
    for (let level = 52; level >= 0; level--) if (Math.floor(size / 2 ** level) % 2 === 1) levels.push(level);
    if (
      nodes.length !== levels.length ||
      nodes.some((n, i) => n.level !== levels[i] || !Buffer.isBuffer(n.hash) || n.hash.length !== 32)
    ) {
      throw new RangeError(`the frontier does not have the shape of a tree of size ${size}`);
    }
    return new CompactRange(
      size,
      nodes.map((n) => ({ level: n.level, hash: Buffer.from(n.hash) })),
    );
  }

  clone(): CompactRange {
    return new CompactRange(
      this.count,
      this.nodes.map((x) => ({ ...x })),
    );
  }
}

/** An in-memory tree keeping every perfect subtree: for tests, evidence checks and small logs. */
export class MerkleTree implements NodeReader {
  private readonly levels: Buffer[][] = [];
  private readonly range = CompactRange.empty();

  constructor(leafHashes: readonly Buffer[] = []) {
    for (const h of leafHashes) this.append(h);
  }

  get size(): number {
    return this.range.size;
  }

  append(leafHash: Buffer): void {
    for (const c of this.range.append(leafHash)) {
      let level = this.levels[c.level];
      if (!level) {
        level = [];
        this.levels[c.level] = level;
      }
      level[c.index] = c.hash;
    }
  }

  node(level: number, index: number): Buffer {
    const h = this.levels[level]?.[index];
    if (!h) throw new RangeError(`no perfect subtree at level ${level} index ${index}`);
    return h;
  }

  root(size = this.size): Buffer {
    return size === this.size ? this.range.root() : rootAt(this, size);
  }

  inclusionProof(index: number, size = this.size): Buffer[] {
    if (size > this.size) throw new RangeError(`tree has ${this.size} leaves, not ${size}`);
    return buildInclusionProof(this, index, size);
  }

  consistencyProof(m: number, n = this.size): Buffer[] {
    if (n > this.size) throw new RangeError(`tree has ${this.size} leaves, not ${n}`);
    return buildConsistencyProof(this, m, n);
  }
}
