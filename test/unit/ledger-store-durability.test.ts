import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  LedgerStore,
  createSigner,
  generateKeyPair,
  verifyLedger,
} from '../../actors/ledger/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';

const ORIGIN = 'example.test/ledger';
const keys = generateKeyPair();
const signer = createSigner(keys.seedHex, ORIGIN);

const ev = (i: number, over: Partial<AuditEvent> = {}): AuditEvent => ({
  id: `ev-${i}`,
  ts: 1000 + i,
  type: 'agent.step',
  actor: 'worker',
  run: `run-${i % 2}`,
  data: { i },
  ...over,
});

let dir: string;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-durability-'));
  path = join(dir, 'ledger.db');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('LedgerStore durability', () => {
  it('commits every transaction to disk before returning by default (synchronous FULL, nothing left to sync)', async () => {
    const store = LedgerStore.open({ path, signer, clock: new ManualClock(5_000) });
    store.appendBatch([ev(0), ev(1)]);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(store.unsynced).toBe(false);
    await store.sync();
    store.close();
  });

  it('with deferred durability commits without fsync and is on disk once sync() resolves, batches joining one fsync', async () => {
    const store = LedgerStore.open({ path, signer, clock: new ManualClock(5_000), durability: 'deferred' });
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1);
    store.appendBatch([ev(0), ev(1)]);
    expect(store.unsynced).toBe(true);
    const first = store.sync();
    store.appendBatch([ev(2)]);
    const second = store.sync();
    expect(store.unsynced).toBe(true);
    await first;
    await second;
    expect(store.unsynced).toBe(false);
    expect(store.size).toBe(3);
    store.close();
  });

  it('with deferred durability a checkpoint is on disk, with the entries it covers, when checkpoint() returns', () => {
    const store = LedgerStore.open({
      path,
      signer,
      clock: new ManualClock(5_000),
      durability: 'deferred',
      checkpointEveryEntries: 0,
    });
    store.appendBatch([ev(0), ev(1), ev(2)]);
    const cp = store.checkpoint();
    expect(cp.size).toBe(3);
    expect(store.unsynced).toBe(false);
    // An auto checkpoint signed inside an append is on disk once returned again by checkpoint().
    store.appendBatch([ev(3)]);
    expect(store.unsynced).toBe(true);
    store.checkpoint({ force: true });
    expect(store.unsynced).toBe(false);
    store.close();
    const v = verifyLedger(path, signer.publicKey);
    expect(v.ok).toBe(true);
    expect(v.size).toBe(4);
  });

  it('stays idempotent by event id: a known id is reported, not appended, also within one batch', () => {
    const store = LedgerStore.open({ path, signer, durability: 'deferred' });
    store.appendBatch([ev(0), ev(1)]);
    const r = store.appendBatch([
      ev(1),
      ev(2),
      ev(2, { data: { other: true } }),
      ev(0, { actor: 'someone-else' }),
    ]);
    expect(r.appended).toBe(1);
    expect(r.duplicates).toEqual([
      { id: 'ev-1', seq: 1, sameContent: true },
      { id: 'ev-2', seq: 2, sameContent: false },
      { id: 'ev-0', seq: 0, sameContent: false },
    ]);
    expect(store.size).toBe(3);
    store.close();
  });
});
