import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  LedgerStore,
  checkConsistencyProof,
  checkInclusionProof,
  createSigner,
  generateKeyPair,
  proveConsistency,
  proveInclusion,
} from '../../actors/ledger/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { NotFoundError } from '../../protocols/vocabulary/errors.ts';

const ORIGIN = 'example.test/ledger';
const keys = generateKeyPair();
const signer = createSigner(keys.seedHex, ORIGIN);
const ev = (i: number): AuditEvent => ({
  id: `ev-${i}`,
  ts: i,
  type: 't',
  actor: 'a',
  run: 'r',
  data: { i },
});
let store: LedgerStore;

beforeAll(() => {
  store = LedgerStore.open({
    path: ':memory:',
    signer,
    checkpointEveryEntries: 7,
    clock: new ManualClock(9),
  });
  store.appendBatch(Array.from({ length: 37 }, (_, i) => ev(i)));
});
afterAll(() => store.close());

const flipHex = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);

describe('inclusion and consistency proofs', () => {
  it('proves every entry against the latest checkpoint covering it, checked with the public key only', () => {
    expect(store.latestCheckpoint()!.size).toBe(35);
    for (let seq = 0; seq < 35; seq++) {
      const p = proveInclusion(store, seq);
      expect(p.treeSize).toBe(35);
      expect(checkInclusionProof(p, keys.publicKeyHex, store.entry(seq)!.body)).toEqual({ ok: true });
    }
  });

  it('proves an entry against an older checkpoint when given one', () => {
    const old = store.checkpointAt(14)!;
    const p = proveInclusion(store, 3, old);
    expect(p.treeSize).toBe(14);
    expect(checkInclusionProof(p, keys.publicKeyPem)).toEqual({ ok: true });
  });

  it('fails an inclusion proof whose leaf, path, position, body, checkpoint or key is wrong', () => {
    const p = proveInclusion(store, 11);
    const body = store.entry(11)!.body;
    const bad = [
      checkInclusionProof({ ...p, leafHash: flipHex(p.leafHash) }, keys.publicKeyHex),
      checkInclusionProof({ ...p, path: [flipHex(p.path[0]!), ...p.path.slice(1)] }, keys.publicKeyHex),
      checkInclusionProof({ ...p, seq: 12 }, keys.publicKeyHex),
      checkInclusionProof(p, keys.publicKeyHex, store.entry(12)!.body),
      checkInclusionProof({ ...p, checkpoint: p.checkpoint.replace('\n35\n', '\n36\n') }, keys.publicKeyHex),
      checkInclusionProof(p, generateKeyPair().publicKeyHex, body),
      checkInclusionProof({ ...p, leafHash: p.leafHash.toUpperCase() }, keys.publicKeyHex),
    ];
    for (const v of bad) expect(v.ok).toBe(false);
  });

  it('refuses to prove entries that do not exist or that no checkpoint covers yet', () => {
    expect(() => proveInclusion(store, 37)).toThrow(NotFoundError);
    expect(() => proveInclusion(store, 36)).toThrow(NotFoundError);
    expect(() => proveInclusion(store, 20, store.checkpointAt(14))).toThrow(NotFoundError);
  });

  it('proves every pair of checkpoints consistent', () => {
    const sizes = store.checkpoints().map((c) => c.size);
    expect(sizes).toEqual([7, 14, 21, 28, 35]);
    for (const m of sizes) {
      for (const n of sizes) {
        if (m > n) continue;
        expect(checkConsistencyProof(proveConsistency(store, m, n), keys.publicKeyHex)).toEqual({ ok: true });
      }
    }
  });

  it('fails a consistency proof with a wrong path, swapped checkpoints or another key', () => {
    const p = proveConsistency(store, 14, 35);
    expect(
      checkConsistencyProof(
        { ...p, path: p.path.map((h, i) => (i === 1 ? flipHex(h) : h)) },
        keys.publicKeyHex,
      ).ok,
    ).toBe(false);
    expect(checkConsistencyProof({ ...p, path: p.path.slice(1) }, keys.publicKeyHex).ok).toBe(false);
    expect(checkConsistencyProof({ ...p, from: p.to, to: p.from }, keys.publicKeyHex).ok).toBe(false);
    expect(checkConsistencyProof(p, generateKeyPair().publicKeyPem).ok).toBe(false);
    expect(() => proveConsistency(store, 3, 35)).toThrow(NotFoundError);
  });
});
