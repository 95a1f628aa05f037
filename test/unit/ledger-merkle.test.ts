import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  EMPTY_ROOT,
  MerkleTree,
  hashLeaf,
  treeHead,
  verifyConsistency,
  verifyInclusion,
} from '../../actors/ledger/index.ts';

// Brute-force reference: RFC 6962 §2.1 definitions applied literally to slices of the leaf list.
const H = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const k = (n: number) => 2 ** Math.ceil(Math.log2(n) - 1);
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return H();
  if (d.length === 1) return d[0]!; // d holds leaf hashes already
  const s = k(d.length);
  return H(Buffer.from([1]), mth(d.slice(0, s)), mth(d.slice(s)));
}
function refPath(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s
    ? [...refPath(m, d.slice(0, s)), mth(d.slice(s))]
    : [...refPath(m - s, d.slice(s)), mth(d.slice(0, s))];
}
function refSubproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const s = k(d.length);
  return m <= s
    ? [...refSubproof(m, d.slice(0, s), b), mth(d.slice(s))]
    : [...refSubproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
}

const MAX = 40;
const leaves = Array.from({ length: MAX }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));
const tree = new MerkleTree(leaves);
const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));
const flip = (b: Buffer) => {
  const c = Buffer.from(b);
  c[0]! ^= 1;
  return c;
};

describe('Merkle tree (RFC 6962 / RFC 9162)', () => {
  it('hashes leaves as SHA-256(0x00 || entry) and the empty tree as SHA-256 of nothing', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(hashLeaf(Buffer.alloc(0)).toString('hex')).toBe(
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
  });

  it('reproduces the certificate-transparency reference roots of the eight test leaves', () => {
    const inputs = [
      '',
      '00',
      '10',
      '2021',
      '3031',
      '40414243',
      '5051525354555657',
      '606162636465666768696a6b6c6d6e6f',
    ];
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const t = new MerkleTree();
    inputs.forEach((x, i) => {
      t.append(hashLeaf(Buffer.from(x, 'hex')));
      expect(t.root().toString('hex')).toBe(roots[i]);
    });
  });

  it('computes the same root incrementally, from stored nodes, and by the plain recursion for every size up to 40', () => {
    const range = CompactRange.empty();
    expect(range.root().equals(EMPTY_ROOT)).toBe(true);
    for (let n = 1; n <= MAX; n++) {
      range.append(leaves[n - 1]!);
      const want = mth(leaves.slice(0, n));
      expect(range.root().equals(want)).toBe(true);
      expect(tree.root(n).equals(want)).toBe(true);
      expect(treeHead(leaves.slice(0, n)).equals(want)).toBe(true);
      expect(CompactRange.fromReader(tree, n).root().equals(want)).toBe(true);
    }
  });

  it('reports every perfect subtree an append completes, with its level and index', () => {
    const range = CompactRange.empty();
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) for (const c of range.append(leaves[i]!)) seen.push(`${c.level}:${c.index}`);
    expect(seen).toEqual([
      '0:0',
      '0:1',
      '1:0',
      '0:2',
      '0:3',
      '1:1',
      '2:0',
      '0:4',
      '0:5',
      '1:2',
      '0:6',
      '0:7',
      '1:3',
      '2:1',
      '3:0',
    ]);
  });

  it('builds inclusion proofs equal to the brute-force PATH for every index of every size up to 40, and they verify', () => {
    for (let n = 1; n <= MAX; n++) {
      const root = tree.root(n);
      for (let i = 0; i < n; i++) {
        const proof = tree.inclusionProof(i, n);
        expect(hex(proof)).toEqual(hex(refPath(i, leaves.slice(0, n))));
        expect(verifyInclusion(leaves[i]!, i, n, proof, root)).toBe(true);
      }
    }
  });

  it('builds consistency proofs equal to the brute-force PROOF for all m < n <= 40, and they verify', () => {
    for (let n = 1; n <= MAX; n++) {
      for (let m = 1; m < n; m++) {
        const proof = tree.consistencyProof(m, n);
        expect(hex(proof)).toEqual(hex(refSubproof(m, leaves.slice(0, n), true)));
        expect(verifyConsistency(m, n, tree.root(m), tree.root(n), proof)).toBe(true);
      }
    }
  });

  it('rejects an inclusion proof with any element altered, dropped or added, or for another index, leaf or root (the size is bound by the signed root)', () => {
    for (const [i, n] of [
      [0, 1],
      [3, 7],
      [12, 13],
      [31, 32],
      [20, 40],
    ] as const) {
      const proof = tree.inclusionProof(i, n);
      const root = tree.root(n);
      proof.forEach((_, j) => {
        const bad = proof.map((p, x) => (x === j ? flip(p) : p));
        expect(verifyInclusion(leaves[i]!, i, n, bad, root)).toBe(false);
      });
      if (proof.length > 0) expect(verifyInclusion(leaves[i]!, i, n, proof.slice(0, -1), root)).toBe(false);
      expect(verifyInclusion(leaves[i]!, i, n, [...proof, leaves[0]!], root)).toBe(false);
      if (n > 1) expect(verifyInclusion(leaves[i]!, (i + 1) % n, n, proof, root)).toBe(false);
      expect(verifyInclusion(leaves[i]!, n, n, proof, root)).toBe(false);
      expect(verifyInclusion(flip(leaves[i]!), i, n, proof, root)).toBe(false);
      expect(verifyInclusion(leaves[i]!, i, n, proof, flip(root))).toBe(false);
    }
  });

  it('rejects a consistency proof with any element altered, dropped or added, or against another root', () => {
    for (let n = 2; n <= MAX; n += 3) {
      for (let m = 1; m < n; m += 2) {
        const proof = tree.consistencyProof(m, n);
        const [rm, rn] = [tree.root(m), tree.root(n)];
        proof.forEach((_, j) => {
          const bad = proof.map((p, x) => (x === j ? flip(p) : p));
          expect(verifyConsistency(m, n, rm, rn, bad)).toBe(false);
        });
        expect(verifyConsistency(m, n, rm, rn, proof.slice(0, -1))).toBe(false);
        expect(verifyConsistency(m, n, rm, rn, [...proof, leaves[0]!])).toBe(false);
        expect(verifyConsistency(m, n, flip(rm), rn, proof)).toBe(false);
        expect(verifyConsistency(m, n, rm, flip(rn), proof)).toBe(false);
      }
    }
  });

  it('treats equal sizes and the empty old tree as trivially consistent with an empty proof only', () => {
    expect(verifyConsistency(5, 5, tree.root(5), tree.root(5), [])).toBe(true);
    expect(verifyConsistency(5, 5, tree.root(5), tree.root(6), [])).toBe(false);
    expect(verifyConsistency(0, 9, EMPTY_ROOT, tree.root(9), [])).toBe(true);
    expect(verifyConsistency(0, 9, tree.root(1), tree.root(9), [])).toBe(false);
    expect(verifyConsistency(6, 5, tree.root(6), tree.root(5), [])).toBe(false);
    expect(tree.consistencyProof(0, 9)).toEqual([]);
    expect(tree.consistencyProof(9, 9)).toEqual([]);
  });

  it('refuses to build proofs for positions outside the tree', () => {
    expect(() => tree.inclusionProof(5, 5)).toThrow(RangeError);
    expect(() => tree.inclusionProof(-1, 5)).toThrow(RangeError);
    expect(() => tree.consistencyProof(6, 5)).toThrow(RangeError);
    expect(() => tree.inclusionProof(0, MAX + 1)).toThrow(RangeError);
  });
});
