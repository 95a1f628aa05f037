import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  createSigner,
  generateKeyPair,
  keyFingerprint,
  LedgerStore,
  LedgerWriterArgsSchema,
  ledgerWriterSettings,
  loadOrCreateSigner,
  loadPublicKey,
  publicKeyPem,
} from '../../actors/ledger/index.ts';
import { cosign, WitnessStore } from '../../actors/witness/index.ts';
import { agovEntry } from '../../supervisors/process-child.ts';
import { TestServers } from '../harness/index.ts';

/**
 * `agov ledger verify` trusts a pinned key, not the key it finds beside the file, and with --witness
 * finds what a ledger cannot show about itself. Each attack below is made on real files, and the CLI
 * runs as a process.
 */

const run = promisify(execFile);
const servers = new TestServers();
afterAll(() => servers.stopAll());

const ORIGIN = 'agov.test/ledger';
const real = generateKeyPair();
const realSigner = createSigner(real.seedHex, ORIGIN);
const realFp = keyFingerprint(loadPublicKey(real.publicKeyPem));
const thief = generateKeyPair();
const thiefSigner = createSigner(thief.seedHex, ORIGIN);
const ev = (i: number, tag = 'a'): AuditEvent => ({
  id: `${tag}-${i}`,
  ts: 1000 + i,
  type: 'run.step',
  actor: 'orchestrator',
  data: { i, tag },
});

async function agov(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { NATS_URL: _n, AGOV_LEDGER_KEY: _k, AGOV_LEDGER_KEY_FINGERPRINT: _f, ...env } = process.env;
  try {
    const { stdout, stderr } = await run(process.execPath, [agovEntry(), ...args], { env, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A ledger of `n` entries signed by `signer`, with the signer's public key beside it. */
function ledger(n: number, signer = realSigner, pub = real.publicKeyPem, tag = 'a') {
  const dir = servers.tempDir('agov-trust-');
  const db = join(dir, 'ledger.sqlite');
  const store = LedgerStore.open({ path: db, signer, checkpointEveryEntries: 0 });
  for (let i = 0; i < n; i += 4) {
    store.appendBatch(Array.from({ length: Math.min(4, n - i) }, (_, k) => ev(i + k, tag)));
    store.checkpoint();
  }
  store.close();
  writeFileSync(join(dir, 'ledger-key.pub.pem'), pub);
  return { dir, db };
}

describe('agov ledger verify with a pinned key', () => {
  it('verifies a ledger against the pinned key and prints the fingerprint it used', async () => {
    const { db } = ledger(12);
    const pin = join(servers.tempDir('agov-pin-'), 'pinned.pub.pem');
    writeFileSync(pin, real.publicKeyPem);
    const byKey = await agov(['ledger', 'verify', '--db', db, '--key', pin]);
    expect(byKey.code).toBe(0);
    expect(byKey.stderr).toContain(`ledger key ${realFp} (pinned)`);
    const byFp = await agov(['ledger', 'verify', '--db', db, '--fingerprint', realFp]);
    expect(byFp.code).toBe(0);
    expect(byFp.stdout).toMatch(/ok: 12 entries/);
  });

  it('refuses a ledger rewritten and re-signed with a stolen key and the public key beside it swapped', async () => {
    const { db } = ledger(12, thiefSigner, thief.publicKeyPem, 'forged');
    const unpinned = await agov(['ledger', 'verify', '--db', db]);
    expect(unpinned.code).toBe(0); // premise: self-consistent, which is why a pin is needed
    expect(unpinned.stderr).toContain('NOT pinned');
    const pinned = await agov(['ledger', 'verify', '--db', db, '--fingerprint', realFp]);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toMatch(/is not the pinned key .*swapped/);
  });

  it('refuses a ledger re-signed with a stolen copy of the old on-disk key once the key moved to Vault transit', async () => {
    // Before issue 13 the writer kept ledger-key.pem in the data directory: an exec task could copy it.
    const oldDataDir = servers.tempDir('agov-old-data-');
    const oldSigner = loadOrCreateSigner(
      ledgerWriterSettings(
        LedgerWriterArgsSchema.parse({ dataDir: oldDataDir, signer: 'local', origin: ORIGIN }),
      ),
    );
    const stolen = createSigner(readFileSync(join(oldDataDir, 'ledger-key.pem'), 'utf8'), ORIGIN);
    expect(keyFingerprint(stolen.publicKey)).toBe(keyFingerprint(oldSigner.publicKey));
    // The attacker rewrites history, re-signs it with the stolen key and leaves its public key beside it.
    const { db } = ledger(8, stolen, publicKeyPem(stolen.publicKey), 'rewritten');
    // Verifiers pin the key that lives in Vault transit now (the real key here).
    const res = await agov(['ledger', 'verify', '--db', db, '--fingerprint', realFp]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/is not the pinned key .*swapped/);
    expect(res.stderr).toContain(keyFingerprint(stolen.publicKey));
  });

  it('refuses a ledger whose public key beside it was swapped for another, entries untouched', async () => {
    const { db, dir } = ledger(8);
    writeFileSync(join(dir, 'ledger-key.pub.pem'), thief.publicKeyPem);
    const res = await agov(['ledger', 'verify', '--db', db, '--fingerprint', realFp]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/is not the pinned key .*swapped/);
  });

  it('refuses a ledger whose checkpoints the pinned key did not sign even when no key is beside it', async () => {
    const { db, dir } = ledger(8, thiefSigner, thief.publicKeyPem, 'forged');
    const pin = join(dir, '..', `pin-${Date.now()}.pem`);
    writeFileSync(pin, real.publicKeyPem);
    writeFileSync(join(dir, 'ledger-key.pub.pem'), real.publicKeyPem); // the swap covered its tracks
    const res = await agov(['ledger', 'verify', '--db', db, '--key', pin]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/NOT intact/);
  });

  it('rejects a malformed fingerprint as a usage error', async () => {
    const { db } = ledger(4);
    const res = await agov(['ledger', 'verify', '--db', db, '--fingerprint', 'sha256:xyz']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/sha256:<64 hex digits>/);
  });
});

describe('agov ledger verify --witness', () => {
  function witnessStore(entries: { store: LedgerStore; sizes: number[] }, name = 'w1') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const path = join(servers.tempDir('agov-witness-'), 'witness.sqlite');
    const ws = WitnessStore.open(path, {
      witness: name,
      origin: ORIGIN,
      publicKeyPem: publicKeyPem(publicKey),
    });
    for (const size of entries.sizes) {
      const cp = entries.store.checkpointAt(size)!;
      ws.recordCosigned(cp, cosign(cp, name, privateKey, publicKey, 1_700_000_000));
    }
    ws.close();
    return path;
  }

  it('detects truncation with the checkpoints covering the cut dropped, which verifies ok without witnesses', async () => {
    const full = ledger(12);
    const fullStore = LedgerStore.open({ path: full.db, readonly: true });
    const witness = witnessStore({ store: fullStore, sizes: [4, 8, 12] });
    fullStore.close();
    const cut = ledger(8); // the same first 8 entries and their checkpoints, nothing after
    const alone = await agov(['ledger', 'verify', '--db', cut.db, '--fingerprint', realFp]);
    expect(alone.code).toBe(0); // premise: the cut is invisible to the file alone
    const res = await agov([
      'ledger',
      'verify',
      '--db',
      cut.db,
      '--fingerprint',
      realFp,
      '--witness',
      witness,
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/truncated: the ledger has 8 entries but witness w1 cosigned size 12/);
    expect(res.stderr).toMatch(/witness w1 key sha256:[0-9a-f]{64}/);
  });

  it('detects a consistent rewrite of the tail signed with the real key', async () => {
    const original = ledger(8);
    const store = LedgerStore.open({ path: original.db, readonly: true });
    const witness = witnessStore({ store, sizes: [8] });
    store.close();
    const rewritten = ledger(8, realSigner, real.publicKeyPem, 'rewritten');
    const res = await agov([
      'ledger',
      'verify',
      '--db',
      rewritten.db,
      '--fingerprint',
      realFp,
      '--witness',
      witness,
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/rewritten: the ledger's root at size 8/);
  });

  it('detects a fork shown to two witnesses, whichever copy of the ledger is checked', async () => {
    const shown1 = ledger(8); // a-0..a-7
    const shown2 = ledger(8, realSigner, real.publicKeyPem, 'fork'); // same key, other history
    const s1 = LedgerStore.open({ path: shown1.db, readonly: true });
    const s2 = LedgerStore.open({ path: shown2.db, readonly: true });
    const w1 = witnessStore({ store: s1, sizes: [8] }, 'w1');
    const w2 = witnessStore({ store: s2, sizes: [8] }, 'w2');
    s1.close();
    s2.close();
    for (const copy of [shown1, shown2]) {
      const alone = await agov(['ledger', 'verify', '--db', copy.db, '--fingerprint', realFp]);
      expect(alone.code).toBe(0); // premise: each copy is a valid ledger signed with the real key
      const res = await agov([
        'ledger',
        'verify',
        '--db',
        copy.db,
        '--fingerprint',
        realFp,
        '--witness',
        w1,
        '--witness',
        w2,
      ]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/fork: witnesses w1 and w2 cosigned different roots for size 8/);
      expect(res.stderr).toMatch(
        /rewritten: the ledger's root at size 8 is not the root witness w[12] cosigned/,
      );
    }
  });

  it('passes an intact ledger and says how far the witness vouches for it', async () => {
    const l = ledger(12);
    const store = LedgerStore.open({ path: l.db, readonly: true });
    const witness = witnessStore({ store, sizes: [4, 12] });
    store.close();
    const res = await agov(['ledger', 'verify', '--db', l.db, '--fingerprint', realFp, '--witness', witness]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/witnessed up to 12/);
  });
});

describe('agov evidence verify with a pinned key', () => {
  it('refuses a package whose public key is not the pinned one', async () => {
    const out = join(servers.tempDir('agov-evidence-'), 'pkg');
    const store = LedgerStore.open({
      path: join(servers.tempDir('agov-evidence-'), 'l.sqlite'),
      signer: thiefSigner,
    });
    store.appendBatch([{ ...ev(0, 'x'), run: 'r1' }]);
    store.checkpoint();
    const path = store.path;
    store.close();
    writeFileSync(join(path, '..', 'ledger-key.pub.pem'), thief.publicKeyPem);
    const ok = await agov(['evidence', 'export', '--run', 'r1', out, '--db', path]);
    expect(ok.code).toBe(0);
    const res = await agov(['evidence', 'verify', out, '--fingerprint', realFp]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/is not the pinned key/);
  });
});

describe('agov ledger verify --state (incremental)', () => {
  it('stores the verified head, goes on from it reading only new entries, and catches a truncation the file alone hides', async () => {
    const { db } = ledger(12);
    const head = join(servers.tempDir('agov-head-'), 'head.json');
    const first = await agov(['ledger', 'verify', '--db', db, '--fingerprint', realFp, '--state', head]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(readFileSync(head, 'utf8'))).toMatchObject({ v: 1, size: 12, key: realFp });

    const store = LedgerStore.open({ path: db, signer: realSigner, checkpointEveryEntries: 0 });
    store.appendBatch([ev(12), ev(13), ev(14)]);
    store.checkpoint();
    store.close();
    const next = await agov(['ledger', 'verify', '--db', db, '--fingerprint', realFp, '--state', head]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/incremental from size 12: 3 rows read/);
    expect(JSON.parse(readFileSync(head, 'utf8'))).toMatchObject({ size: 15 });

    // The attacker cuts the last 7 entries and every checkpoint covering them: the file alone verifies.
    const raw = new Database(db);
    raw.exec(
      'DROP TRIGGER entries_no_delete; DROP TRIGGER tree_nodes_no_delete; DROP TRIGGER checkpoints_no_delete',
    );
    raw.exec('DELETE FROM entries WHERE seq >= 8; DELETE FROM tree_nodes WHERE level = 0 AND idx >= 8');
    raw.exec('DELETE FROM tree_nodes WHERE level > 0; DELETE FROM checkpoints WHERE size > 8');
    raw.close();
    expect((await agov(['ledger', 'verify', '--db', db, '--fingerprint', realFp])).code).toBe(0);
    const cut = await agov(['ledger', 'verify', '--db', db, '--fingerprint', realFp, '--state', head]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(
      /NOT intact: first bad entry seq 8: deleted: .*head verified earlier covers 15 entries/,
    );
    expect(JSON.parse(readFileSync(head, 'utf8'))).toMatchObject({ size: 15 }); // a failed run keeps the old head
  });
});
