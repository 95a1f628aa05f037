import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LedgerStore,
  type VerifiedHead,
  encodeEvent,
  generateKeyPair,
  hashLeaf,
  verifyLedger,
} from '../../actors/ledger/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { ConfigError } from '../../protocols/vocabulary/errors.ts';
import { ev, keys, signer, tamperFile } from './ledger-fixtures.ts';

let dir: string;
let path: string;

function append(from: number, count: number, at = path): void {
  const store = LedgerStore.open({ path: at, signer, checkpointEveryEntries: 10, clock: new ManualClock(1) });
  store.appendBatch(Array.from({ length: count }, (_, i) => ev(from + i)));
  store.close();
}

const tamperWith = (fn: (db: Database.Database) => void) => tamperFile(path, fn);

/** A full verification's head: what an auditor keeps (beside the pinned key) for next time. */
function headNow(): VerifiedHead {
  const v = verifyLedger(path, keys.publicKeyPem);
  expect(v.ok).toBe(true);
  return v.head!;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-verify-inc-'));
  path = join(dir, 'ledger.db');
  append(0, 30);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('incremental ledger verification', () => {
  it('reads only the entries appended since the head and reaches the root a full verification reaches', () => {
    const head = headNow();
    expect(head).toMatchObject({ v: 1, size: 30 });
    append(30, 25);
    const inc = verifyLedger(path, keys.publicKeyPem, { from: head });
    const full = verifyLedger(path, keys.publicKeyPem);
    expect(inc).toMatchObject({ ok: true, size: 55, signedSize: 50, unsignedEntries: 5, fromSize: 30 });
    expect(inc.rowsRead).toBe(25);
    expect(full.rowsRead).toBe(55);
    expect(inc.root).toBe(full.root);
    // The new head is the latest signed checkpoint, the same one a full verification reaches.
    expect(inc.head).toMatchObject({ size: 50, root: full.head!.root, frontier: full.head!.frontier });
  });

  it('chains: each run goes on from the head the previous one returned', () => {
    let head = headNow();
    for (let k = 0; k < 3; k++) {
      append(30 + k * 10, 10);
      const v = verifyLedger(path, keys.publicKeyPem, { from: head });
      expect(v.ok, JSON.stringify(v.firstBad)).toBe(true);
      expect(v.rowsRead).toBe(10);
      head = v.head!;
      expect(head.size).toBe(40 + k * 10);
    }
  });

  it('names a row modified after the head', () => {
    const head = headNow();
    append(30, 20);
    tamperWith((db) => {
      const body = encodeEvent(ev(42, { data: { i: 42, approved: true } }));
      db.prepare('UPDATE entries SET body = ? WHERE seq = 42').run(body);
    });
    const v = verifyLedger(path, keys.publicKeyPem, { from: head });
    expect(v.ok).toBe(false);
    expect(v.firstBad).toMatchObject({ seq: 42, problem: 'modified', eventId: 'ev-42' });
    expect(v.head).toBeUndefined();
  });

  it('catches a truncation below the head even when the checkpoints covering the cut were dropped too', () => {
    const head = headNow();
    tamperWith((db) => {
      db.exec('DELETE FROM entries WHERE seq >= 20');
      db.exec('DELETE FROM tree_nodes WHERE level = 0 AND idx >= 20');
      db.exec('DELETE FROM checkpoints WHERE size > 20');
    });
    // Premise: on its own the file looks whole (only a head kept elsewhere can tell).
    expect(verifyLedger(path, keys.publicKeyPem).ok).toBe(true);
    const v = verifyLedger(path, keys.publicKeyPem, { from: head });
    expect(v.ok).toBe(false);
    expect(v.firstBad).toMatchObject({ seq: 20, problem: 'deleted' });
    expect(v.firstBad!.detail).toMatch(/head verified earlier covers 30 entries.*truncated/);
  });

  it('catches a history rewritten from scratch and re-signed with a stolen key', () => {
    const head = headNow();
    const forged = join(dir, 'forged.db');
    const store = LedgerStore.open({
      path: forged,
      signer,
      checkpointEveryEntries: 10,
      clock: new ManualClock(1),
    });
    store.appendBatch(
      Array.from({ length: 40 }, (_, i) => ev(i, i === 7 ? { data: { i, approved: true } } : {})),
    );
    store.close();
    copyFileSync(forged, path);
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    expect(verifyLedger(path, keys.publicKeyPem).ok).toBe(true); // premise: self-consistent and signed
    const v = verifyLedger(path, keys.publicKeyPem, { from: head });
    expect(v.ok).toBe(false);
    expect(v.firstBad).toMatchObject({ seq: 30, problem: 'root-mismatch' });
    expect(v.firstBad!.detail).toMatch(/rewritten and re-signed, or the log forked/);
  });

  it('does not re-read rows before the head: an unsigned edit there needs a full verification', () => {
    const head = headNow();
    tamperWith((db) => {
      const body = encodeEvent(ev(5, { data: { i: 5, approved: true } }));
      db.prepare('UPDATE entries SET body = ?, leaf_hash = ? WHERE seq = 5').run(body, hashLeaf(body));
    });
    expect(verifyLedger(path, keys.publicKeyPem, { from: head })).toMatchObject({ ok: true, rowsRead: 0 });
    expect(verifyLedger(path, keys.publicKeyPem).firstBad).toMatchObject({ seq: 5, problem: 'modified' });
  });

  it('refuses a head recorded with another key, or whose frontier does not hash to its root', () => {
    const head = headNow();
    const other = generateKeyPair();
    expect(() => verifyLedger(path, other.publicKeyPem, { from: head })).toThrow(ConfigError);
    const flipped = head.frontier.map((n, i) =>
      i === 0 ? { ...n, hash: n.hash.replace(/^./, (c) => (c === '0' ? '1' : '0')) } : n,
    );
    expect(() => verifyLedger(path, keys.publicKeyPem, { from: { ...head, frontier: flipped } })).toThrow(
      /does not hash to its root/,
    );
    expect(() => verifyLedger(path, keys.publicKeyPem, { from: { ...head, size: head.size + 1 } })).toThrow(
      /shape of a tree of size 31/,
    );
  });
});
