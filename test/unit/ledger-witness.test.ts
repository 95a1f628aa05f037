import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  buildConsistencyProof,
  createSigner,
  generateKeyPair,
  LedgerStore,
  loadPublicKey,
  type SignedCheckpoint,
} from '../../actors/ledger/index.ts';
import {
  checkAgainstWitnesses,
  cosign,
  cosignatureProblem,
  formatCosignatureLine,
  judgeCheckpoint,
  parseCosignatureLine,
  proofNeeded,
  type WitnessEvidence,
  type WitnessState,
  WitnessStore,
} from '../../actors/witness/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';

const ORIGIN = 'example.test/ledger';
const ledgerKeys = generateKeyPair();
const signer = createSigner(ledgerKeys.seedHex, ORIGIN);
const ledgerKey = loadPublicKey(ledgerKeys.publicKeyPem);
const stolen = createSigner(generateKeyPair().seedHex, ORIGIN);
const ev = (i: number, tag = 'a'): AuditEvent => ({
  id: `${tag}-${i}`,
  ts: 1000 + i,
  type: 'agent.step',
  actor: 'w',
  data: { i, tag },
});

let dir: string;
const open = (name: string) =>
  LedgerStore.open({
    path: join(dir, name),
    signer,
    checkpointEveryEntries: 0,
    clock: new ManualClock(5_000),
  });
const grow = (store: LedgerStore, from: number, to: number, tag = 'a') => {
  store.appendBatch(Array.from({ length: to - from }, (_, k) => ev(from + k, tag)));
  return store.checkpoint();
};
const proof = (store: LedgerStore, m: number, n: number) => buildConsistencyProof(store, m, n);

function newWitness(name: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const store = WitnessStore.open(join(dir, `${name}.sqlite`), { witness: name, origin: ORIGIN });
  let state: WitnessState = { origin: ORIGIN, size: 0, root: undefined };
  return {
    name,
    publicKey,
    store,
    /** Shows the witness a checkpoint of `ledger`; returns the verdict kind. */
    show(ledger: LedgerStore, sc: SignedCheckpoint): string {
      const from = proofNeeded(state, sc);
      const path =
        from === undefined
          ? []
          : from <= ledger.size && sc.size <= ledger.size
            ? proof(ledger, from, sc.size)
            : [];
      const v = judgeCheckpoint(state, sc, ledgerKey, path);
      if (v.kind === 'cosign') {
        store.recordCosigned(sc, cosign(sc, name, privateKey, publicKey, 1_700_000_000));
        state = v.state;
      } else if (v.kind === 'refuse')
        store.recordAlarm({ ts: 1, reason: v.reason, detail: v.detail, checkpoint: '' });
      return v.kind === 'refuse' ? v.reason : v.kind;
    },
    evidence(): WitnessEvidence {
      return { witness: name, publicKey, checkpoints: store.all() };
    },
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-witness-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('witness cosignatures (C2SP tlog-cosignature/v1)', () => {
  it('round-trip through the signature line and verify only for the checkpoint they cosign', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const cp = { origin: ORIGIN, size: 3, root: Buffer.alloc(32, 1), ts: 9 };
    const cs = cosign(cp, 'w1', privateKey, publicKey, 1_700_000_000);
    const parsed = parseCosignatureLine(formatCosignatureLine(cs));
    expect(parsed).toEqual(cs);
    expect(cosignatureProblem(cp, parsed, publicKey)).toBeUndefined();
    expect(cosignatureProblem({ ...cp, size: 4 }, parsed, publicKey)).toMatch(/does not verify/);
  });
});

describe('a witness', () => {
  it('cosigns a first checkpoint, then only extensions it can prove, and sees a repeat as seen', () => {
    const ledger = open('l.sqlite');
    const w = newWitness('w1');
    expect(w.show(ledger, grow(ledger, 0, 5))).toBe('cosign');
    expect(w.show(ledger, ledger.checkpoint())).toBe('seen');
    expect(w.show(ledger, grow(ledger, 5, 9))).toBe('cosign');
    expect(w.store.latest()?.checkpoint.size).toBe(9);
    expect(w.store.alarms()).toEqual([]);
  });

  it('refuses a checkpoint re-signed with a stolen copy of another key as bad-signature', () => {
    const ledger = open('l.sqlite');
    const w = newWitness('w1');
    w.show(ledger, grow(ledger, 0, 4));
    expect(w.show(ledger, stolen.sign(ledger.treeHead()))).toBe('bad-signature');
  });

  it('refuses a smaller head (truncation, replay) as shrink and never moves back', () => {
    const ledger = open('l.sqlite');
    const w = newWitness('w1');
    const small = grow(ledger, 0, 3);
    w.show(ledger, small);
    w.show(ledger, grow(ledger, 3, 6));
    expect(w.show(ledger, small)).toBe('shrink');
    expect(w.store.state(ORIGIN).size).toBe(6);
    expect(w.store.alarms().map((a) => a.reason)).toEqual(['shrink']);
  });

  it('refuses a fork: another root for a size it cosigned, or a bigger tree that does not extend it', () => {
    const a = open('a.sqlite');
    const b = open('b.sqlite');
    const w = newWitness('w1');
    w.show(a, grow(a, 0, 4));
    grow(b, 0, 3);
    const forkSameSize = grow(b, 3, 4, 'evil');
    expect(w.show(b, forkSameSize)).toBe('fork');
    const forkBigger = grow(b, 4, 8, 'evil');
    expect(w.show(b, forkBigger)).toBe('fork');
    expect(w.store.state(ORIGIN).size).toBe(4);
  });
});

describe('checking a ledger file against its witnesses', () => {
  it('passes an intact ledger and reports how far the witnesses vouch for it', () => {
    const ledger = open('l.sqlite');
    const w = newWitness('w1');
    w.show(ledger, grow(ledger, 0, 5));
    w.show(ledger, grow(ledger, 5, 8));
    const check = checkAgainstWitnesses(ledger, ledgerKey, [w.evidence()]);
    expect(check).toMatchObject({ ok: true, witnessedSize: 8, findings: [] });
  });

  it('names truncation with the checkpoints that covered the cut dropped', () => {
    const full = open('full.sqlite');
    const w = newWitness('w1');
    w.show(full, grow(full, 0, 5));
    w.show(full, grow(full, 5, 9));
    const cut = open('cut.sqlite');
    grow(cut, 0, 5); // the same first five entries, and only their checkpoint
    const check = checkAgainstWitnesses(cut, ledgerKey, [w.evidence()]);
    expect(check.ok).toBe(false);
    expect(check.findings.map((f) => f.kind)).toEqual(['truncated']);
    expect(check.findings[0]!.message).toMatch(
      /truncated: the ledger has 5 entries but witness w1 cosigned size 9/,
    );
  });

  it('names a consistent rewrite of history re-signed with the real key as rewritten', () => {
    const real = open('real.sqlite');
    const w = newWitness('w1');
    w.show(real, grow(real, 0, 6));
    const rewritten = open('rewritten.sqlite');
    grow(rewritten, 0, 2);
    grow(rewritten, 2, 6, 'edited');
    const check = checkAgainstWitnesses(rewritten, ledgerKey, [w.evidence()]);
    expect(check.findings.map((f) => f.kind)).toEqual(['rewritten']);
    expect(check.findings[0]!.message).toMatch(/rewritten: the ledger's root at size 6/);
  });

  it('names a dropped checkpoint that a witness cosigned', () => {
    const real = open('real.sqlite');
    const w = newWitness('w1');
    w.show(real, grow(real, 0, 3));
    const copy = open('copy.sqlite');
    copy.appendBatch([ev(0), ev(1), ev(2)]); // same entries, checkpoint never kept
    const check = checkAgainstWitnesses(copy, ledgerKey, [w.evidence()]);
    expect(check.findings.map((f) => f.kind)).toEqual(['checkpoint-dropped']);
  });

  it('names a fork shown to two witnesses, whichever copy is checked', () => {
    const a = open('a.sqlite');
    const b = open('b.sqlite');
    const w1 = newWitness('w1');
    const w2 = newWitness('w2');
    grow(b, 0, 2);
    w1.show(a, grow(a, 0, 4));
    w2.show(b, grow(b, 2, 4, 'fork'));
    for (const ledger of [a, b]) {
      const kinds = checkAgainstWitnesses(ledger, ledgerKey, [w1.evidence(), w2.evidence()]).findings.map(
        (f) => f.kind,
      );
      expect(kinds).toContain('fork');
      expect(kinds).toContain('rewritten');
    }
  });

  it('does not trust witness evidence whose cosignature or ledger signature fails', () => {
    const ledger = open('l.sqlite');
    const w = newWitness('w1');
    w.show(ledger, grow(ledger, 0, 3));
    const impostor = { ...w.evidence(), publicKey: generateKeyPairSync('ed25519').publicKey };
    expect(checkAgainstWitnesses(ledger, ledgerKey, [impostor]).findings.map((f) => f.kind)).toEqual([
      'bad-cosignature',
    ]);
    expect(
      checkAgainstWitnesses(ledger, stolen.publicKey, [w.evidence()]).findings.map((f) => f.kind),
    ).toEqual(['bad-signature']);
  });
});
