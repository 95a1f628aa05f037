import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AuditEvent, createSigner, generateKeyPair, LedgerStore } from '../../actors/ledger/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';

/**
 * The real fsync calls, recorded: which file each one flushed and when it completed. The calls still go
 * to the disk; the record is what lets a test see that "on disk" came from an fsync of the WAL and not
 * from a flag (the setting alone was all the suite checked before).
 */
const synced: Array<{ file: string; done: number }> = [];
let tick = 0;
const fileOf = (fd: number) => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return `fd:${fd}`;
  }
};
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fsync: typeof fs.fsync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
    const file = fileOf(fd);
    fs.fsync(fd, (err) => {
      if (!err) synced.push({ file, done: ++tick });
      cb(err);
    });
  }) as typeof fs.fsync;
  const fsyncSync = (fd: number) => {
    const file = fileOf(fd);
    fs.fsyncSync(fd);
    synced.push({ file, done: ++tick });
  };
  return { ...fs, default: { ...fs, fsync, fsyncSync }, fsync, fsyncSync };
});

const ORIGIN = 'example.test/ledger';
const signer = createSigner(generateKeyPair().seedHex, ORIGIN);
const ev = (i: number): AuditEvent => ({
  id: `ev-${i}`,
  ts: 1000 + i,
  type: 'agent.step',
  actor: 'w',
  data: { i },
});

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-fsync-'));
  path = join(dir, 'ledger.db');
  synced.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const walSyncs = () => synced.filter((s) => s.file.endsWith('ledger.db-wal'));

describe('LedgerStore with deferred durability acknowledges only what an fsync of the WAL put on disk', () => {
  it('sync() resolves only after an fsync of the WAL has completed', async () => {
    const store = LedgerStore.open({ path, signer, clock: new ManualClock(5_000), durability: 'deferred' });
    store.appendBatch([ev(0), ev(1)]);
    expect(walSyncs()).toHaveLength(0);
    let resolvedAt = 0;
    await store.sync().then(() => {
      resolvedAt = ++tick;
    });
    const wal = walSyncs();
    expect(wal.length).toBeGreaterThanOrEqual(1);
    expect(wal[0]!.done).toBeLessThan(resolvedAt);
    expect(store.unsynced).toBe(false);
    store.close();
  });

  it('syncNow() (the checkpoint path) fsyncs the WAL before it returns', () => {
    const store = LedgerStore.open({ path, signer, clock: new ManualClock(5_000), durability: 'deferred' });
    store.appendBatch([ev(0)]);
    expect(walSyncs()).toHaveLength(0);
    store.syncNow();
    expect(walSyncs()).toHaveLength(1);
    expect(store.unsynced).toBe(false);
    store.close();
  });

  it('fsyncs the folder once, so the new WAL file itself survives a crash', async () => {
    const store = LedgerStore.open({ path, signer, clock: new ManualClock(5_000), durability: 'deferred' });
    store.appendBatch([ev(0)]);
    await store.sync();
    store.appendBatch([ev(1)]);
    await store.sync();
    expect(synced.filter((s) => s.file === dir)).toHaveLength(1);
    store.close();
  });
});
