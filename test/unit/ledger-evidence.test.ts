import { mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  EVIDENCE_FILES,
  LedgerStore,
  createSigner,
  exportEvidence,
  generateKeyPair,
  verifyEvidence,
} from '../../actors/ledger/index.ts';
import { ManualClock } from '../../infra/clock.ts';
import { ConfigError, EvidenceInvalidError, NotFoundError } from '../../protocols/errors.ts';

const ORIGIN = 'example.test/ledger';
const keys = generateKeyPair();
const signer = createSigner(keys.seedHex, ORIGIN);
const ev = (i: number): AuditEvent => ({
  id: `ev-${i}`,
  ts: 1000 + i,
  type: 'agent.step',
  actor: 'worker',
  run: `run-${i % 3}`,
  agent: 'agent-1',
  data: { i, note: `step ${i}` },
});

let tmp: string;
let out: string;
let store: LedgerStore;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ledger-evidence-'));
  out = join(tmp, 'evidence');
  store = LedgerStore.open({
    path: join(tmp, 'ledger.db'),
    signer,
    checkpointEveryEntries: 8,
    clock: new ManualClock(77),
  });
  store.appendBatch(Array.from({ length: 20 }, (_, i) => ev(i)));
});
afterEach(() => {
  store.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The EvidenceInvalidError verifyEvidence throws, or a failure. */
function failure(opts: Parameters<typeof verifyEvidence>[1] = {}): InstanceType<typeof EvidenceInvalidError> {
  try {
    verifyEvidence(out, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(EvidenceInvalidError);
    return err as InstanceType<typeof EvidenceInvalidError>;
  }
  throw new Error('verifyEvidence accepted a tampered package');
}

describe('evidence packages', () => {
  it("exports a run's entries with proofs, checkpoint, key and manifest, signing a checkpoint that covers them", () => {
    expect(store.latestCheckpoint()!.size).toBe(16);
    const s = exportEvidence(store, 'run-1', out);
    expect(readdirSync(out).sort()).toEqual([
      'checkpoint.txt',
      'entries.jsonl',
      'manifest.json',
      'proofs.json',
      'public-key.pem',
    ]);
    expect(s.treeSize).toBe(20);
    expect(s.seqs).toEqual([1, 4, 7, 10, 13, 16, 19]);
    expect(s.entries.map((e) => e.id)).toEqual(s.seqs.map((i) => `ev-${i}`));
    const lines = readFileSync(join(out, 'entries.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(store.entry(1)!.body.toString());
  });

  it('verifies with no database, against the trusted key', () => {
    exportEvidence(store, 'run-0', out);
    store.close();
    rmSync(join(tmp, 'ledger.db'));
    const s = verifyEvidence(out, { publicKey: keys.publicKeyHex });
    expect(s).toMatchObject({ run: 'run-0', origin: ORIGIN, treeSize: 20, checkpointTs: 77 });
    expect(s.entries).toHaveLength(7);
  });

  it('fails naming the file when any byte of any file is altered', () => {
    exportEvidence(store, 'run-2', out);
    const files = Object.values(EVIDENCE_FILES);
    for (const file of files) {
      const p = join(out, file);
      const original = readFileSync(p);
      const positions = new Set([
        0,
        1,
        Math.floor(original.length / 3),
        Math.floor(original.length / 2),
        original.length - 2,
        original.length - 1,
      ]);
      for (const at of positions) {
        const bytes = Buffer.from(original);
        bytes[at]! ^= 0x01;
        writeFileSync(p, bytes);
        const err = failure();
        expect(err.details?.file, `${file} byte ${at}: ${err.message}`).toBe(file);
        expect(err.message).toContain(file);
      }
      writeFileSync(p, original);
    }
    expect(() => verifyEvidence(out)).not.toThrow();
  });

  it('names the entries file even when the forger also updates its manifest hash', async () => {
    exportEvidence(store, 'run-1', out);
    const p = join(out, 'entries.jsonl');
    const forged = readFileSync(p, 'utf8').replace('"note":"step 4"', '"note":"step 5"');
    writeFileSync(p, forged);
    const { createHash } = await import('node:crypto');
    const mp = join(out, 'manifest.json');
    const m = JSON.parse(readFileSync(mp, 'utf8'));
    const old = m.files['entries.jsonl'];
    const fresh = createHash('sha256').update(forged).digest('hex');
    writeFileSync(mp, readFileSync(mp, 'utf8').replace(old, fresh));
    const err = failure();
    expect(err.details).toMatchObject({ file: 'entries.jsonl' });
    expect(err.message).toMatch(/line 2 \(seq 4\) is not the proven entry/);
  });

  it('names the manifest when only a recorded hash in it is changed', () => {
    exportEvidence(store, 'run-1', out);
    const mp = join(out, 'manifest.json');
    const m = JSON.parse(readFileSync(mp, 'utf8'));
    const old: string = m.files['proofs.json'];
    writeFileSync(
      mp,
      readFileSync(mp, 'utf8').replace(
        old,
        old.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')),
      ),
    );
    expect(failure().details).toMatchObject({ file: 'manifest.json' });
  });

  it('names an extra or a missing file', () => {
    exportEvidence(store, 'run-1', out);
    writeFileSync(join(out, 'notes.txt'), 'hi');
    expect(failure().details).toMatchObject({ file: 'notes.txt' });
    unlinkSync(join(out, 'notes.txt'));
    unlinkSync(join(out, 'proofs.json'));
    expect(failure().details).toMatchObject({ file: 'proofs.json', reason: 'missing' });
  });

  it('names the public key when it is not the key the verifier trusts', () => {
    exportEvidence(store, 'run-1', out);
    expect(failure({ publicKey: generateKeyPair().publicKeyPem }).details).toMatchObject({
      file: 'public-key.pem',
    });
  });

  it('names the public key and checkpoint when a whole package is re-signed under another key', () => {
    const other = createSigner(generateKeyPair().seedHex, ORIGIN);
    const forgedStore = LedgerStore.open({
      path: join(tmp, 'forged.db'),
      signer: other,
      checkpointEveryEntries: 0,
    });
    forgedStore.appendBatch(Array.from({ length: 20 }, (_, i) => ev(i)));
    exportEvidence(forgedStore, 'run-1', out);
    forgedStore.close();
    expect(() => verifyEvidence(out)).not.toThrow();
    expect(failure({ publicKey: keys.publicKeyPem }).details).toMatchObject({ file: 'public-key.pem' });
  });

  it('refuses an unknown run and a directory that is not empty', () => {
    expect(() => exportEvidence(store, 'run-9', out)).toThrow(NotFoundError);
    exportEvidence(store, 'run-1', out);
    expect(() => exportEvidence(store, 'run-2', out)).toThrow(ConfigError);
  });
});
