import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  asAsyncSigner,
  createSigner,
  generateKeyPair,
  LedgerStore,
  loadPublicKey,
  verifyLedger,
} from '../../actors/ledger/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { LedgerTamperedError } from '../../protocols/vocabulary/errors.ts';

const ORIGIN = 'example.test/ledger';
const keys = generateKeyPair();
const remote = asAsyncSigner(createSigner(keys.seedHex, ORIGIN));
const ev = (i: number): AuditEvent => ({
  id: `ev-${i}`,
  ts: 1000 + i,
  type: 'agent.step',
  actor: 'w',
  data: { i },
});

let dir: string;
let store: LedgerStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-remote-'));
  store = LedgerStore.open({
    path: join(dir, 'ledger.db'),
    origin: ORIGIN,
    checkpointKey: loadPublicKey(keys.publicKeyPem),
    clock: new ManualClock(5_000),
  });
  store.appendBatch([ev(0), ev(1), ev(2), ev(3), ev(4)]);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('checkpoints signed outside the store (Vault transit)', () => {
  it('stores a remotely signed head of the current tree, and the ledger verifies with it', async () => {
    const sc = await remote.sign(store.treeHead());
    store.addCheckpoint(sc);
    expect(store.latestCheckpoint()?.size).toBe(5);
    const report = verifyLedger(store, loadPublicKey(keys.publicKeyPem));
    expect(report.ok).toBe(true);
  });

  it('accepts a head signed before later appends, checking its root against the tree at that size', async () => {
    const sc = await remote.sign(store.treeHead());
    store.appendBatch([ev(5), ev(6)]);
    store.addCheckpoint(sc);
    expect(store.checkpointAt(5)?.root.equals(sc.root)).toBe(true);
  });

  it('regression: drops a stale head signed before a larger checkpoint was stored (restart-nats chaos: checkpoint #22 of size 162 after #21 of size 163 failed verify)', async () => {
    const stale = await remote.sign(store.treeHead());
    store.appendBatch([ev(5), ev(6)]);
    expect(store.addCheckpoint(await remote.sign(store.treeHead()))?.size).toBe(7);
    expect(store.addCheckpoint(stale)).toBeUndefined();
    expect(store.checkpoints().map((c) => c.size)).toEqual([7]);
    expect(verifyLedger(store, loadPublicKey(keys.publicKeyPem)).ok).toBe(true);
  });

  it('refuses a head signed by another key, for another root, beyond the tree or for another origin, and stores none', async () => {
    const other = asAsyncSigner(createSigner(generateKeyPair().seedHex, ORIGIN));
    const good = store.treeHead();
    const attempts = [
      await other.sign(good),
      await remote.sign({ ...good, root: Buffer.alloc(32, 7) }),
      await remote.sign({ ...good, size: 6 }),
      { ...(await remote.sign(good)), origin: 'elsewhere/ledger' },
    ];
    for (const sc of attempts) expect(() => store.addCheckpoint(sc)).toThrow(LedgerTamperedError);
    expect(store.checkpoints()).toEqual([]);
  });
});
