import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  LedgerStore,
  MerkleTree,
  assertLedgerIntact,
  encodeEvent,
  generateKeyPair,
  hashLeaf,
  verifyLedger,
} from '../../actors/ledger/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { LedgerTamperedError } from '../../protocols/vocabulary/errors.ts';
import { ev, keys, signer, tamperFile } from './ledger-fixtures.ts';

const N = 30;

let dir: string;
let path: string;

/** The attacker: raw SQL on the file, append-only triggers dropped first. */
const tamper = (...sql: string[]) =>
  tamperFile(path, (db) => {
    for (const q of sql) db.exec(q);
  });

const tamperWith = (fn: (db: Database.Database) => void) => tamperFile(path, fn);

/** Moves rows with seq >= from by delta (through negative seqs, so the primary key never collides). */
const shift = (from: number, delta: number) => [
  `UPDATE entries SET seq = -seq - 1 WHERE seq >= ${from}`,
  `UPDATE entries SET seq = -seq - 1 + ${delta} WHERE seq < 0`,
];

const forgedRow = (db: Database.Database, seq: number, e: AuditEvent) => {
  const body = encodeEvent(e);
  db.prepare(
    'INSERT INTO entries(seq, event_id, ts, type, actor, run, agent, body, leaf_hash) VALUES (?,?,?,?,?,?,?,?,?)',
  ).run(seq, e.id, e.ts, e.type, e.actor, e.run ?? null, e.agent ?? null, body, hashLeaf(body));
};

const verify = () => verifyLedger(path, keys.publicKeyPem);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-verify-'));
  path = join(dir, 'ledger.db');
  const store = LedgerStore.open({ path, signer, checkpointEveryEntries: 10, clock: new ManualClock(1) });
  store.appendBatch(Array.from({ length: N }, (_, i) => ev(i)));
  store.close();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('verifyLedger', () => {
  it('passes an untouched ledger, checking every checkpoint root and signature', () => {
    const v = verify();
    expect(v).toMatchObject({
      ok: true,
      size: N,
      signedSize: 30,
      unsignedEntries: 0,
      checkedCheckpoints: 3,
      warnings: [],
    });
    expect(v.firstBad).toBeUndefined();
    expect(() => assertLedgerIntact(path, keys.publicKeyHex)).not.toThrow();
  });

  it('counts entries past the latest checkpoint as unsigned but intact', () => {
    const store = LedgerStore.open({ path, signer, checkpointEveryEntries: 10 });
    store.appendBatch([ev(30), ev(31)]);
    expect(verifyLedger(store, keys.publicKeyHex)).toMatchObject({
      ok: true,
      size: 32,
      signedSize: 30,
      unsignedEntries: 2,
    });
    store.close();
  });

  describe('names the first bad entry of a row MODIFIED', () => {
    it('in its body, leaf hash left alone', () => {
      const forged = encodeEvent(ev(13, { data: { i: 13, approved: true } })).toString('hex');
      tamper(`UPDATE entries SET body = x'${forged}' WHERE seq = 13`);
      const v = verify();
      expect(v.ok).toBe(false);
      expect(v.firstBad).toMatchObject({ seq: 13, problem: 'modified', eventId: 'ev-13' });
      expect(v.warnings.join()).toMatch(/trigger entries_no_update is missing/);
    });

    it('in an indexed column only', () => {
      tamper("UPDATE entries SET actor = 'mallory' WHERE seq = 7");
      const v = verify();
      expect(v.firstBad).toMatchObject({ seq: 7, problem: 'modified', eventId: 'ev-7' });
      expect(v.firstBad!.detail).toMatch(/column actor is "mallory" but the hashed body says "worker"/);
    });

    it('in body and leaf hash together, recomputed by the attacker', () => {
      const body = encodeEvent(ev(13, { data: { i: 13, approved: true } }));
      tamper(
        `UPDATE entries SET body = x'${body.toString('hex')}', leaf_hash = x'${hashLeaf(body).toString('hex')}' WHERE seq = 13`,
      );
      expect(verify().firstBad).toMatchObject({ seq: 13, problem: 'modified', eventId: 'ev-13' });
    });

    it('in the last, not yet signed, stretch of the ledger', () => {
      const store = LedgerStore.open({ path, signer, checkpointEveryEntries: 0 });
      store.appendBatch([ev(30), ev(31), ev(32)]);
      store.close();
      tamper("UPDATE entries SET type = 'x' WHERE seq = 31");
      expect(verify().firstBad).toMatchObject({ seq: 31, problem: 'modified' });
    });
  });

  describe('names the first bad entry of a row DELETED', () => {
    it('leaving a gap in seq', () => {
      tamper('DELETE FROM entries WHERE seq = 5');
      const v = verify();
      expect(v.firstBad).toMatchObject({ seq: 5, problem: 'deleted' });
      expect(v.firstBad!.detail).toMatch(/seq 5 is missing: the rows jump from 4 to 6/);
    });

    it('with the later rows renumbered to close the gap', () => {
      tamper('DELETE FROM entries WHERE seq = 5', ...shift(6, -1));
      const v = verify();
      expect(v.firstBad).toMatchObject({ seq: 5, problem: 'deleted', eventId: 'ev-6' });
      expect(v.firstBad!.detail).toMatch(
        /entry signed at seq 5 .* is gone; seq 5 now holds event ev-6, which was signed at seq 6/,
      );
    });

    it('from the end, below the signed size', () => {
      tamper('DELETE FROM entries WHERE seq >= 25');
      const v = verify();
      expect(v.firstBad).toMatchObject({ seq: 25, problem: 'deleted' });
      expect(v.firstBad!.detail).toMatch(/signs 30 entries but the ledger ends at seq 24/);
    });
  });

  describe('names the first bad entry of a row INSERTED', () => {
    it('in the middle, with the later rows renumbered to make room', () => {
      tamperWith((db) => {
        for (const s of shift(8, 1)) db.exec(s);
        forgedRow(db, 8, ev(100, { data: { approved: true } }));
      });
      const v = verify();
      expect(v.firstBad).toMatchObject({ seq: 8, problem: 'inserted', eventId: 'ev-100' });
      expect(v.firstBad!.detail).toMatch(/was never signed.*event ev-8\) now sits at seq 9/);
    });

    it('at the end, past the signed size, without going through the ledger', () => {
      tamperWith((db) => forgedRow(db, 30, ev(100)));
      expect(verify().firstBad).toMatchObject({ seq: 30, problem: 'inserted', eventId: 'ev-100' });
    });
  });

  describe('names the first bad entry of rows REORDERED', () => {
    it('when two neighbours swap places', () => {
      tamper(
        'UPDATE entries SET seq = -1 WHERE seq = 3',
        'UPDATE entries SET seq = 3 WHERE seq = 4',
        'UPDATE entries SET seq = 4 WHERE seq = -1',
      );
      const v = verify();
      expect(v.firstBad).toMatchObject({ seq: 3, problem: 'reordered', eventId: 'ev-4' });
      expect(v.firstBad!.detail).toMatch(
        /seq 3 holds event ev-4, which was signed at seq 4; the entry signed at seq 3 \(event ev-3\) sits at seq 4/,
      );
    });

    it('when distant rows swap places across checkpoints', () => {
      tamper(
        'UPDATE entries SET seq = -1 WHERE seq = 12',
        'UPDATE entries SET seq = 12 WHERE seq = 27',
        'UPDATE entries SET seq = 27 WHERE seq = -1',
      );
      expect(verify().firstBad).toMatchObject({ seq: 12, problem: 'reordered', eventId: 'ev-27' });
    });
  });

  it('still catches a full consistent rewrite (entries and tree nodes), locating it between checkpoints', () => {
    tamperWith((db) => {
      const body = encodeEvent(ev(13, { data: { i: 13, approved: true } }));
      db.prepare('UPDATE entries SET body = ?, leaf_hash = ? WHERE seq = 13').run(body, hashLeaf(body));
      const leaves = (db.prepare('SELECT leaf_hash FROM entries ORDER BY seq').pluck().all() as Buffer[]).map(
        (b) => Buffer.from(b),
      );
      const tree = new MerkleTree(leaves);
      db.exec('DELETE FROM tree_nodes');
      const ins = db.prepare('INSERT INTO tree_nodes(level, idx, hash) VALUES (?,?,?)');
      for (let level = 0; 2 ** level <= leaves.length; level++) {
        for (let i = 0; (i + 1) * 2 ** level <= leaves.length; i++) ins.run(level, i, tree.node(level, i));
      }
    });
    const v = verify();
    expect(v.firstBad).toMatchObject({ seq: 10, problem: 'root-mismatch' });
    expect(v.firstBad!.detail).toMatch(/the altered row lies in seq 10..19/);
    expect(v.checkedCheckpoints).toBe(1);
  });

  it('rejects a checkpoint whose root or size was rewritten', () => {
    tamper(`UPDATE checkpoints SET root = x'${'00'.repeat(32)}' WHERE size = 20`);
    expect(verify().firstBad).toMatchObject({ seq: 20, problem: 'bad-checkpoint' });
  });

  it('rejects checkpoints under another key', () => {
    const v = verifyLedger(path, generateKeyPair().publicKeyPem);
    expect(v.firstBad).toMatchObject({ problem: 'bad-checkpoint' });
    expect(v.firstBad!.detail).toMatch(/key ID/);
  });

  it('flags a damaged proof cache in tree_nodes even when every entry is intact', () => {
    tamper(`UPDATE tree_nodes SET hash = x'${'11'.repeat(32)}' WHERE level = 4 AND idx = 0`);
    expect(verify().firstBad).toMatchObject({ seq: 0, problem: 'node-cache' });
  });

  it('throws LedgerTamperedError with the fault in its details from assertLedgerIntact', () => {
    tamper('DELETE FROM entries WHERE seq = 2');
    let err: unknown;
    try {
      assertLedgerIntact(path, keys.publicKeyPem);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LedgerTamperedError);
    expect((err as InstanceType<typeof LedgerTamperedError>).details).toMatchObject({
      seq: 2,
      problem: 'deleted',
    });
  });
});
