/**
 * The Merkle module's edges: inputs it must refuse, hashes of odd-sized nodes, the frontier's copies,
 * and the text leaf used by the ledger writer. ledger-merkle.test.ts checks the RFC 6962 algebra
 * against a brute-force reference.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  EMPTY_ROOT,
  MerkleTree,
  buildConsistencyProof,
  buildInclusionProof,
  equalBytes,
  hashChildren,
  hashLeaf,
  leafOfText,
  rangeHash,
  rootAt,
  sha256,
  splitPoint,
  treeHead,
  verifyConsistency,
  verifyInclusion,
} from '../../actors/ledger/merkle.ts';

const H = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const leaves = Array.from({ length: 20 }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));
const tree = new MerkleTree(leaves);

describe('Merkle edges', () => {
  it('hashes node inputs of any length as SHA-256(0x01 || left || right), 32-byte ones through the fast path', () => {
    const [a, b] = [leaves[0]!, leaves[1]!];
    expect(hashChildren(a, b)).toEqual(H(Buffer.from([1]), a, b));
    expect(hashChildren(Buffer.from('ab'), Buffer.from('cde'))).toEqual(
      H(Buffer.from([1]), Buffer.from('abcde')),
    );
    expect(hashChildren(a, Buffer.from('x'))).toEqual(H(Buffer.from([1]), a, Buffer.from('x')));
    expect(hashChildren(Buffer.from('x'), b)).toEqual(H(Buffer.from([1]), Buffer.from('x'), b));
    // The fast path reuses a buffer: a second call must not see the first one's bytes.
    expect(hashChildren(b, a)).toEqual(H(Buffer.from([1]), b, a));
  });

  it('hashes several parts as one message', () => {
    expect(sha256(Buffer.from('ab'), Buffer.from('c'))).toEqual(H(Buffer.from('abc')));
    expect(sha256()).toEqual(EMPTY_ROOT);
  });

  it('frames a text leaf once: its entry is the UTF-8 text, its hash the leaf hash of that entry', () => {
    for (const text of ['', 'plain', 'ünïcödé ✓', '{"a":1}']) {
      const { entry, leafHash } = leafOfText(text);
      expect(entry).toEqual(Buffer.from(text, 'utf8'));
      expect(leafHash).toEqual(hashLeaf(Buffer.from(text, 'utf8')));
    }
  });

  it('splits at the largest power of two strictly below n', () => {
    expect([2, 3, 4, 5, 8, 9, 16, 17, 33].map(splitPoint)).toEqual([1, 2, 2, 4, 4, 8, 8, 16, 32]);
  });

  it('compares bytes by length and content', () => {
    expect(equalBytes(Buffer.from('ab'), Buffer.from('ab'))).toBe(true);
    expect(equalBytes(Buffer.from('ab'), Buffer.from('ac'))).toBe(false);
    expect(equalBytes(Buffer.from('ab'), Buffer.from('abc'))).toBe(false);
    expect(equalBytes(Buffer.alloc(0), Buffer.alloc(0))).toBe(true);
  });

  it('gives the empty root for an empty range, and a stored node for an aligned perfect range', () => {
    expect(rangeHash(tree, 5, 5)).toEqual(EMPTY_ROOT);
    expect(rangeHash(tree, 6, 5)).toEqual(EMPTY_ROOT);
    expect(rootAt(tree, 0)).toEqual(EMPTY_ROOT);
    expect(rangeHash(tree, 8, 16)).toBe(tree.node(3, 1));
    expect(rangeHash(tree, 4, 5)).toBe(tree.node(0, 4));
    expect(rangeHash(tree, 0, 3)).toEqual(treeHead(leaves.slice(0, 3)));
    // Unaligned power-of-two widths are not single nodes.
    expect(rangeHash(tree, 2, 6)).toEqual(hashChildren(tree.node(1, 1), tree.node(1, 2)));
    expect(treeHead([])).toEqual(EMPTY_ROOT);
    expect(treeHead([leaves[3]!])).toEqual(leaves[3]);
  });

  it('refuses inclusion proofs outside the tree or with indices that are not safe integers', () => {
    for (const [i, n] of [
      [-1, 5],
      [5, 5],
      [0, 0],
      [1.5, 5],
      [0, Number.MAX_SAFE_INTEGER + 2],
      [Number.NaN, 5],
    ]) {
      expect(() => buildInclusionProof(tree, i!, n!)).toThrow(RangeError);
    }
    expect(() => buildInclusionProof(tree, 5, 5)).toThrow('inclusion proof: need 0 <= 5 < 5');
    expect(buildInclusionProof(tree, 0, 1)).toEqual([]);
  });

  it('refuses consistency proofs with m > n, a negative m or non-integers, and has none for m = 0 or m = n', () => {
    for (const [m, n] of [
      [6, 5],
      [-1, 5],
      [1.5, 5],
      [1, 5.5],
      [Number.NaN, 5],
    ]) {
      expect(() => buildConsistencyProof(tree, m!, n!)).toThrow(RangeError);
    }
    expect(() => buildConsistencyProof(tree, 6, 5)).toThrow('consistency proof: need 0 <= 6 <= 5');
    expect(buildConsistencyProof(tree, 0, 5)).toEqual([]);
    expect(buildConsistencyProof(tree, 5, 5)).toEqual([]);
    expect(buildConsistencyProof(tree, 4, 8)).toEqual([tree.node(2, 1)]);
  });

  it('a tree refuses proofs and roots past its size, and nodes it does not hold', () => {
    expect(() => tree.inclusionProof(0, 21)).toThrow('tree has 20 leaves, not 21');
    expect(() => tree.consistencyProof(1, 21)).toThrow('tree has 20 leaves, not 21');
    expect(() => tree.node(0, 20)).toThrow('no perfect subtree at level 0 index 20');
    expect(() => tree.node(9, 0)).toThrow(RangeError);
    expect(tree.root(20)).toEqual(treeHead(leaves));
    expect(tree.root(7)).toEqual(treeHead(leaves.slice(0, 7)));
    expect(tree.size).toBe(20);
  });

  it('rejects inclusion claims with indices or sizes that are not safe non-negative integers', () => {
    const proof = tree.inclusionProof(3, 20);
    const root = tree.root();
    expect(verifyInclusion(leaves[3]!, 3, 20, proof, root)).toBe(true);
    expect(verifyInclusion(leaves[3]!, -1, 20, proof, root)).toBe(false);
    expect(verifyInclusion(leaves[3]!, 3.5, 20, proof, root)).toBe(false);
    expect(verifyInclusion(leaves[3]!, 3, 20.5, proof, root)).toBe(false);
    expect(verifyInclusion(leaves[3]!, 3, Number.POSITIVE_INFINITY, proof, root)).toBe(false);
    // A proof too long for the tree runs out of levels.
    expect(verifyInclusion(leaves[0]!, 0, 1, [leaves[1]!], leaves[0]!)).toBe(false);
    expect(verifyInclusion(leaves[0]!, 0, 1, [], leaves[0]!)).toBe(true);
  });

  it('rejects consistency claims with sizes that are not safe integers, an empty proof, or a proof too long', () => {
    const proof = tree.consistencyProof(5, 20);
    const [r5, r20] = [tree.root(5), tree.root(20)];
    expect(verifyConsistency(5, 20, r5, r20, proof)).toBe(true);
    expect(verifyConsistency(5.5, 20, r5, r20, proof)).toBe(false);
    expect(verifyConsistency(5, 20.5, r5, r20, proof)).toBe(false);
    expect(verifyConsistency(-1, 20, r5, r20, proof)).toBe(false);
    expect(verifyConsistency(5, 20, r5, r20, [])).toBe(false);
    expect(verifyConsistency(0, 20, EMPTY_ROOT, r20, [leaves[0]!])).toBe(false);
    expect(verifyConsistency(20, 20, r20, r20, [leaves[0]!])).toBe(false);
    expect(verifyConsistency(4, 8, tree.root(4), tree.root(8), [tree.node(2, 1), leaves[0]!])).toBe(false);
    expect(verifyConsistency(4, 8, tree.root(4), tree.root(8), [tree.node(2, 1)])).toBe(true);
  });

  it('clones a frontier that then grows on its own', () => {
    const a = CompactRange.empty();
    for (const l of leaves.slice(0, 5)) a.append(l);
    const b = a.clone();
    b.append(leaves[5]!);
    expect(a.size).toBe(5);
    expect(b.size).toBe(6);
    expect(a.root()).toEqual(treeHead(leaves.slice(0, 5)));
    expect(b.root()).toEqual(treeHead(leaves.slice(0, 6)));
    a.append(leaves[5]!);
    expect(a.root()).toEqual(b.root());
  });

  it('reads a frontier from stored nodes that appends like the original, for sizes 0 to 20', () => {
    for (let n = 0; n <= 19; n++) {
      const r = CompactRange.fromReader(tree, n);
      expect(r.size).toBe(n);
      const done = r.append(leaves[n]!);
      expect(done[0]).toEqual({ level: 0, index: n, hash: leaves[n] });
      expect(r.root()).toEqual(treeHead(leaves.slice(0, n + 1)));
    }
  });
});
