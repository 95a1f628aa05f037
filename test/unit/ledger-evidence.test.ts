import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  EVIDENCE_FILES,
  LedgerStore,
  createSigner,
  evidenceToSign,
  exportEvidence,
  generateKeyPair,
  jsonDigest,
  localEvidenceSigner,
  signEvidence,
  verifyEvidence,
} from '../../actors/ledger/index.ts';
import { cosign, cosignatureKeyId, formatCosignatureLine } from '../../actors/witness/index.ts';
import { generateKeyPairSync } from 'node:crypto';
import { ManualClock } from '../../infra/clock/clock.ts';
import { ConfigError, EvidenceInvalidError, NotFoundError } from '../../protocols/vocabulary/errors.ts';

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

/** Exports the run's package and signs it with the ledger key, as the writer would. */
async function pack(run: string, opts: Parameters<typeof exportEvidence>[3] = {}, from = store) {
  const s = exportEvidence(from, run, out, opts);
  await signEvidence(
    out,
    localEvidenceSigner(from, (t) => (from === store ? signer : otherSigner!).signText!(t)),
  );
  return s;
}
let otherSigner: ReturnType<typeof createSigner> | undefined;

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
  it("exports a run's entries with proofs, checkpoint, key and manifest, signing a checkpoint that covers them", async () => {
    expect(store.latestCheckpoint()!.size).toBe(16);
    const s = await pack('run-1');
    expect(readdirSync(out).sort()).toEqual([
      'checkpoint.txt',
      'entries.jsonl',
      'manifest.json',
      'proofs.json',
      'provenance.json',
      'public-key.pem',
      'signature.json',
      'witnesses.json',
    ]);
    expect(s.treeSize).toBe(20);
    expect(s.seqs).toEqual([1, 4, 7, 10, 13, 16, 19]);
    expect(s.entries.map((e) => e.id)).toEqual(s.seqs.map((i) => `ev-${i}`));
    const lines = readFileSync(join(out, 'entries.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(store.entry(1)!.body.toString());
  });

  it('verifies with no database, against the trusted key', async () => {
    await pack('run-0');
    store.close();
    rmSync(join(tmp, 'ledger.db'));
    const s = verifyEvidence(out, { publicKey: keys.publicKeyHex });
    expect(s).toMatchObject({ run: 'run-0', origin: ORIGIN, treeSize: 20, checkpointTs: 77 });
    expect(s.entries).toHaveLength(7);
  });

  it('fails naming the file when any byte of any file is altered', async () => {
    await pack('run-2');
    const files = Object.values(EVIDENCE_FILES).filter((f) => f !== EVIDENCE_FILES.handoff);
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
    await pack('run-1');
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

  it('names the manifest when only a recorded hash in it is changed', async () => {
    await pack('run-1');
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

  it('names an extra or a missing file', async () => {
    await pack('run-1');
    writeFileSync(join(out, 'notes.txt'), 'hi');
    expect(failure().details).toMatchObject({ file: 'notes.txt' });
    unlinkSync(join(out, 'notes.txt'));
    unlinkSync(join(out, 'proofs.json'));
    expect(failure().details).toMatchObject({ file: 'proofs.json', reason: 'missing' });
  });

  it('names the public key when it is not the key the verifier trusts', async () => {
    await pack('run-1');
    expect(failure({ publicKey: generateKeyPair().publicKeyPem }).details).toMatchObject({
      file: 'public-key.pem',
    });
  });

  it('names the public key and checkpoint when a whole package is re-signed under another key', async () => {
    const other = createSigner(generateKeyPair().seedHex, ORIGIN);
    const forgedStore = LedgerStore.open({
      path: join(tmp, 'forged.db'),
      signer: other,
      checkpointEveryEntries: 0,
    });
    forgedStore.appendBatch(Array.from({ length: 20 }, (_, i) => ev(i)));
    otherSigner = other;
    await pack('run-1', {}, forgedStore);
    forgedStore.close();
    expect(() => verifyEvidence(out)).not.toThrow();
    expect(failure({ publicKey: keys.publicKeyPem }).details).toMatchObject({ file: 'public-key.pem' });
  });

  it('refuses an unknown run and a directory that is not empty', async () => {
    expect(() => exportEvidence(store, 'run-9', out)).toThrow(NotFoundError);
    exportEvidence(store, 'run-1', out);
    expect(() => exportEvidence(store, 'run-2', out)).toThrow(ConfigError);
  });
});

describe('evidence packages: provenance, witnesses and the package signature', () => {
  const pipelineText = Buffer.from('name: demo\nstages: []\n');
  const report = { reportId: 'h-1', runId: 'run-p', reason: 'error budget exhausted', errors: [] };
  const output = { files: ['a.txt'], ok: true };
  const witness = generateKeyPairSync('ed25519');
  const runEvent = (i: number, data: Record<string, unknown>): AuditEvent => ({
    id: `p-${i}`,
    ts: 5000 + i,
    type: 'run.event.v1',
    actor: 'orchestrator',
    run: 'run-p',
    sender: 'orchestrator-orchestrator-1',
    data: { runId: 'run-p', ...data },
  });

  /** A run with a pipeline hash, two task output digests, a handoff report and a witnessed checkpoint. */
  async function provenPackage(opts: { handoff?: boolean } = {}) {
    store.appendBatch([
      runEvent(0, {
        event: 'run-accepted',
        pipelineSha256: createHash('sha256').update(pipelineText).digest('hex'),
      }),
      runEvent(1, {
        event: 'stage-succeeded',
        stageId: 'build',
        attempt: 1,
        outputDigest: jsonDigest(output),
      }),
      runEvent(2, {
        event: 'stage-succeeded',
        stageId: 'test',
        attempt: 2,
        outputDigest: jsonDigest({ n: 2 }),
      }),
      {
        id: 'p-3',
        ts: 5003,
        type: 'handoff.ready.v1',
        actor: 'budget-monitor',
        run: 'run-p',
        data: { reportId: 'h-1', runId: 'run-p', reportSha256: jsonDigest(report) },
      },
    ]);
    const cp = store.checkpoint();
    const cs = cosign(cp, 'w1', witness.privateKey, witness.publicKey, 1_700_000_000);
    store.addCosignature(cp.size, 'w1', formatCosignatureLine(cs));
    return pack('run-p', opts.handoff === false ? {} : { handoffReport: report });
  }
  const witnessCheck = (
    cp: Parameters<NonNullable<Parameters<typeof verifyEvidence>[1]>['checkCosignatures'] & {}>[0],
    lines: readonly string[],
  ) =>
    lines.some((l) => l.includes(` w1 `)) && lines.every((l) => l.startsWith('\u2014 w1 '))
      ? lines
          .map((l) => {
            const blob = Buffer.from(l.trim().split(' ')[2]!, 'base64');
            const keyOk = blob.subarray(0, 4).toString('hex') === cosignatureKeyId('w1', witness.publicKey);
            const expected = formatCosignatureLine(
              cosign(cp, 'w1', witness.privateKey, witness.publicKey, Number(blob.readBigUInt64BE(4))),
            );
            return keyOk && expected === l ? undefined : 'witness w1 cosignature does not verify';
          })
          .find((p) => p !== undefined)
      : 'witness w1 did not cosign the checkpoint';
  const rewrite = async (file: string, edit: (text: string) => string) => {
    const p = join(out, file);
    const before = readFileSync(p, 'utf8');
    const after = edit(before);
    expect(after).not.toBe(before);
    writeFileSync(p, after);
    // The forger keeps the manifest consistent, so only the content checks can tell.
    const mp = join(out, 'manifest.json');
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    writeFileSync(mp, readFileSync(mp, 'utf8').replace(sha(before), sha(after)));
  };

  it('carries the pipeline hash, task output digests, handoff report and cosignatures, signed, and verifies', async () => {
    const s = await provenPackage();
    expect(s.provenance.pipeline).toHaveLength(1);
    expect(s.provenance.tasks.map((t) => [t.stageId, t.attempt, t.outputDigest])).toEqual([
      ['build', 1, jsonDigest(output)],
      ['test', 2, jsonDigest({ n: 2 })],
    ]);
    expect(s.handoffSha256).toBe(jsonDigest(report));
    const v = verifyEvidence(out, {
      publicKey: keys.publicKeyPem,
      pipelineFile: pipelineText,
      checkCosignatures: witnessCheck,
    });
    expect(v).toMatchObject({ signed: true, cosignatures: [expect.stringMatching(/^\u2014 w1 /)] });
    expect(v.entries[0]!.sender).toBe('orchestrator-orchestrator-1');
  });

  it('names the pipeline file when it is not the one the run recorded', async () => {
    await provenPackage();
    const err = failure({ pipelineFile: Buffer.from('name: other\n') });
    expect(err.details).toMatchObject({ file: 'pipeline file' });
    expect(err.message).toMatch(/is not the one the run recorded/);
  });

  it('names provenance.json when a task output digest in it is changed', async () => {
    await provenPackage();
    await rewrite('provenance.json', (t) => t.replace(jsonDigest(output), jsonDigest({ forged: true })));
    const err = failure();
    expect(err.details).toMatchObject({ file: 'provenance.json' });
    expect(err.message).toMatch(/not what the proven entries record/);
  });

  it('names handoff.json when the handoff report is replaced by another', async () => {
    await provenPackage();
    await rewrite('handoff.json', (t) => t.replace('error budget exhausted', 'all fine'));
    const err = failure();
    expect(err.details).toMatchObject({ file: 'handoff.json' });
    expect(err.message).toMatch(/not a report the ledger recorded/);
  });

  it('names witnesses.json when a cosignature is forged or dropped', async () => {
    await provenPackage();
    const line = (JSON.parse(readFileSync(join(out, 'witnesses.json'), 'utf8')) as { cosignatures: string[] })
      .cosignatures[0]!;
    const blob = Buffer.from(line.trim().split(' ')[2]!, 'base64');
    blob[blob.length - 1]! ^= 0x01;
    const forged = `\u2014 w1 ${blob.toString('base64')}\n`;
    await rewrite('witnesses.json', (t) =>
      t.replace(JSON.stringify(line).slice(1, -1), JSON.stringify(forged).slice(1, -1)),
    );
    expect(failure({ checkCosignatures: witnessCheck }).message).toMatch(
      /witnesses.json: witness w1 cosignature does not verify/,
    );
    await rewrite('witnesses.json', () => '{"cosignatures":[]}\n');
    expect(failure({ checkCosignatures: witnessCheck }).details).toMatchObject({
      file: 'witnesses.json',
      reason: 'witness w1 did not cosign the checkpoint',
    });
  });

  it('names signature.json when the package is unsigned, re-signed by another key, or signs another manifest', async () => {
    await provenPackage({ handoff: false });
    const sp = join(out, 'signature.json');
    const good = readFileSync(sp, 'utf8');
    const sig = JSON.parse(good) as { statement: string; signature: string; keyFingerprint: string };
    const thief = createSigner(generateKeyPair().seedHex, ORIGIN);
    writeFileSync(sp, good.replace(sig.signature, thief.signText!(sig.statement).toString('base64')));
    expect(failure().message).toMatch(/signature.json: the signature does not verify under the package key/);
    writeFileSync(sp, good.replace(/manifest sha256:[0-9a-f]{4}/, 'manifest sha256:0000'));
    expect(failure().message).toMatch(/signature.json: signs another manifest/);
    unlinkSync(sp);
    expect(failure().details).toMatchObject({
      file: 'signature.json',
      reason: 'missing: the package is not signed',
    });
    expect(verifyEvidence(out, { requireSignature: false }).signed).toBe(false);
  });

  it('is signed by the writer only for a manifest its own ledger rebuilds, with a report the run recorded', async () => {
    await provenPackage();
    const manifest = readFileSync(join(out, 'manifest.json'), 'utf8');
    const handoff = readFileSync(join(out, 'handoff.json'), 'utf8');
    expect(evidenceToSign(store, signer.publicKey, manifest, handoff)).toMatch(
      /^agov-ledger-evidence\/2\nrun run-p\n/,
    );
    const m = JSON.parse(manifest) as { files: Record<string, string> };
    const forged = manifest.replace(m.files['provenance.json']!, '0'.repeat(64));
    expect(() => evidenceToSign(store, signer.publicKey, forged, handoff)).toThrow(
      /provenance.json is not the ledger's/,
    );
    expect(() =>
      evidenceToSign(store, signer.publicKey, manifest, handoff.replace('exhausted', 'fine')),
    ).toThrow(/handoff/);
  });
});
