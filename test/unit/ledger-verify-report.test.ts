/**
 * What verifyLedger tells an auditor, word for word: the whole verification record (sizes, checked
 * checkpoints, warnings) and each fault's sentence, for every kind of tampering. ledger-verify.test.ts
 * checks that each kind is caught and named; this file pins the report itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EMPTY_ROOT,
  LEDGER_TRIGGERS,
  LedgerStore,
  MerkleTree,
  assertLedgerIntact,
  encodeEvent,
  hashLeaf,
  verifyLedger,
} from '../../actors/ledger/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { LedgerStoreError } from '../../protocols/vocabulary/errors.ts';
import { ev, keys, signer, tamperFile } from './ledger-fixtures.ts';

const N = 30;

const leafOf = (i: number) => hashLeaf(encodeEvent(ev(i)));
const short = (b: Buffer) => b.toString('hex').slice(0, 16);

let dir: string;
let path: string;

/** The attacker: raw SQL on the file, append-only triggers dropped first. */
const tamper = (...sql: string[]) =>
  tamperFile(path, (db) => {
    for (const q of sql) db.exec(q);
  });

const verify = () => verifyLedger(path, keys.publicKeyPem);
const TRIGGER_WARNINGS = LEDGER_TRIGGERS.map(
  (t) => `append-only trigger ${t} is missing (someone dropped it)`,
);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-verify-report-'));
  path = join(dir, 'ledger.db');
  const store = LedgerStore.open({ path, signer, checkpointEveryEntries: 10, clock: new ManualClock(1) });
  store.appendBatch(Array.from({ length: N }, (_, i) => ev(i)));
  store.close();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('verifyLedger reports', () => {
  it('on an intact ledger: sizes, every checkpoint checked, the root of the bodies, no warning', () => {
    const root = new MerkleTree(Array.from({ length: N }, (_, i) => leafOf(i))).root().toString('hex');
    const { head, ...report } = verify();
    expect(report).toEqual({
      ok: true,
      size: 30,
      signedSize: 30,
      unsignedEntries: 0,
      checkedCheckpoints: 3,
      root,
      warnings: [],
      rowsRead: 30,
    });
    expect(head).toMatchObject({ v: 1, size: 30, root });
  });

  it('on an empty ledger: nothing signed, nothing checked, the empty root', () => {
    const empty = join(dir, 'empty.db');
    LedgerStore.open({ path: empty, signer, checkpointEveryEntries: 10 }).close();
    expect(verifyLedger(empty, keys.publicKeyPem)).toEqual({
      ok: true,
      size: 0,
      signedSize: 0,
      unsignedEntries: 0,
      checkedCheckpoints: 0,
      root: EMPTY_ROOT.toString('hex'),
      warnings: [],
      rowsRead: 0,
    });
  });

  it('reads an open store or database as well as a path, and leaves them open', () => {
    const store = LedgerStore.open({ path, signer, checkpointEveryEntries: 10 });
    expect(verifyLedger(store, keys.publicKeyHex)).toMatchObject({ ok: true, size: 30 });
    expect(verifyLedger(store.db, keys.publicKeyHex)).toMatchObject({ ok: true, size: 30 });
    expect(store.db.open).toBe(true);
    store.close();
  });

  it('a file it cannot open as LedgerStoreError naming the file, not retryable', () => {
    const missing = join(dir, 'missing.db');
    let err: unknown;
    try {
      verifyLedger(missing, keys.publicKeyPem);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LedgerStoreError);
    expect((err as Error).message).toMatch(new RegExp(`^cannot open ledger ${missing}: `));
    expect((err as InstanceType<typeof LedgerStoreError>).retryable).toBe(false);
  });

  it('a database that is no ledger as LedgerStoreError "cannot read ledger", not retryable', () => {
    const other = join(dir, 'other.db');
    new Database(other).close();
    let err: unknown;
    try {
      verifyLedger(other, keys.publicKeyPem);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LedgerStoreError);
    expect((err as Error).message).toMatch(/^cannot read ledger: /);
    expect((err as InstanceType<typeof LedgerStoreError>).retryable).toBe(false);
    writeFileSync(join(dir, 'junk.db'), 'not a database at all, just text that is long enough to be read');
    expect(() => verifyLedger(join(dir, 'junk.db'), keys.publicKeyPem)).toThrow(LedgerStoreError);
  });

  it('every dropped append-only trigger as a warning, though the entries are intact', () => {
    tamper();
    const v = verify();
    expect(v.ok).toBe(true);
    expect(v.warnings).toEqual(TRIGGER_WARNINGS);
  });

  it('a body rewritten under its old leaf hash, word for word, with the counts at the fault', () => {
    const forged = encodeEvent(ev(13, { data: { i: 13, approved: true } })).toString('hex');
    tamper(`UPDATE entries SET body = x'${forged}' WHERE seq = 13`);
    expect(verify()).toEqual({
      ok: false,
      size: 30,
      signedSize: 30,
      unsignedEntries: 0,
      checkedCheckpoints: 1,
      firstBad: {
        seq: 13,
        problem: 'modified',
        eventId: 'ev-13',
        detail:
          'seq 13 (event ev-13) is not the entry signed at this position: the stored leaf_hash is not SHA-256(0x00 || body): the body or the leaf hash was rewritten',
      },
      warnings: TRIGGER_WARNINGS,
      rowsRead: 14,
    });
  });

  it('a body rewritten with its leaf hash recomputed', () => {
    const body = encodeEvent(ev(13, { data: { i: 13, approved: true } }));
    tamper(
      `UPDATE entries SET body = x'${body.toString('hex')}', leaf_hash = x'${hashLeaf(body).toString('hex')}' WHERE seq = 13`,
    );
    expect(verify().firstBad).toEqual({
      seq: 13,
      problem: 'modified',
      eventId: 'ev-13',
      detail:
        'seq 13 (event ev-13) is not the entry signed at this position: its body was rewritten (and its leaf hash recomputed)',
    });
  });

  it.each([
    ['event_id', "'ev-x'", '"ev-x"', '"ev-7"'],
    ['ts', '5', '5', '1007'],
    ['type', "'other.type'", '"other.type"', '"agent.step"'],
    ['actor', "'mallory'", '"mallory"', '"worker"'],
    ['run', 'NULL', 'null', '"run-1"'],
    ['agent', "'agent-x'", '"agent-x"', '"agent-1"'],
  ])('an indexed column %s that disagrees with the hashed body', (column, sql, shown, body) => {
    tamper(`UPDATE entries SET ${column} = ${sql} WHERE seq = 7`);
    const f = verify().firstBad!;
    expect(f).toMatchObject({ seq: 7, problem: 'modified' });
    expect(f.detail).toBe(
      `seq 7 (event ${column === 'event_id' ? 'ev-x' : 'ev-7'}): column ${column} is ${shown} but the hashed body says ${body}`,
    );
  });

  it('a run or agent column filled in where the body has none', () => {
    const store = LedgerStore.open({ path, signer, checkpointEveryEntries: 0 });
    store.appendBatch([ev(30, { run: undefined, agent: undefined })]);
    store.close();
    expect(verify().ok).toBe(true);
    tamper("UPDATE entries SET agent = 'agent-9' WHERE seq = 30");
    expect(verify().firstBad?.detail).toBe(
      'seq 30 (event ev-30): column agent is "agent-9" but the hashed body says null',
    );
    tamper("UPDATE entries SET agent = NULL, run = 'run-9' WHERE seq = 30");
    expect(verify().firstBad?.detail).toBe(
      'seq 30 (event ev-30): column run is "run-9" but the hashed body says null',
    );
  });

  it('an unsigned row whose body is not a canonical event, or whose leaf hash is not a hash', () => {
    const store = LedgerStore.open({ path, signer, checkpointEveryEntries: 0 });
    store.appendBatch([ev(30), ev(31)]);
    store.close();
    tamper(
      `UPDATE entries SET body = x'${Buffer.from('{"not":"an event"}').toString('hex')}' WHERE seq = 30`,
    );
    const v = verify();
    expect(v).toMatchObject({ size: 32, signedSize: 30, unsignedEntries: 2, checkedCheckpoints: 3 });
    expect(v.firstBad).toMatchObject({ seq: 30, problem: 'modified', eventId: 'ev-30' });
    expect(v.firstBad!.detail).toMatch(/^seq 30 \(event ev-30\): the body is not a canonical event \(.+\)$/);
    tamper(
      `UPDATE entries SET body = x'${encodeEvent(ev(30)).toString('hex')}', leaf_hash = 'text' WHERE seq = 30`,
    );
    expect(verify().firstBad?.detail).toBe(
      'seq 30 (event ev-30): the stored leaf_hash is not SHA-256(0x00 || body): the body or the leaf hash was rewritten',
    );
  });

  it('a gap in seq, with the signed leaf that belongs there', () => {
    tamper('DELETE FROM entries WHERE seq = 5');
    expect(verify()).toMatchObject({
      size: 29,
      signedSize: 30,
      unsignedEntries: 0,
      checkedCheckpoints: 0,
      firstBad: {
        seq: 5,
        problem: 'deleted',
        detail: `seq 5 is missing: the rows jump from 4 to 6 (the signed leaf at 5 is ${short(leafOf(5))}…)`,
      },
    });
    expect(verify().firstBad).not.toHaveProperty('eventId');
  });

  it('a gap past the signed size, where no signed leaf is known', () => {
    const store = LedgerStore.open({ path, signer, checkpointEveryEntries: 0 });
    store.appendBatch([ev(30), ev(31), ev(32)]);
    store.close();
    tamper('DELETE FROM entries WHERE seq = 31');
    expect(verify().firstBad).toEqual({
      seq: 31,
      problem: 'deleted',
      detail: 'seq 31 is missing: the rows jump from 30 to 32',
    });
  });

  it('rows deleted from the end below the signed size, with the checkpoints it could check', () => {
    tamper('DELETE FROM entries WHERE seq >= 25');
    expect(verify()).toMatchObject({
      size: 25,
      signedSize: 30,
      unsignedEntries: 0,
      checkedCheckpoints: 2,
      firstBad: {
        seq: 25,
        problem: 'deleted',
        detail:
          'the latest checkpoint signs 30 entries but the ledger ends at seq 24: seq 25..29 were deleted',
      },
    });
  });

  it('rows renumbered over a deleted one, and an inserted one with the signed entry it displaced', () => {
    tamper(
      'DELETE FROM entries WHERE seq = 5',
      'UPDATE entries SET seq = -seq - 1 WHERE seq >= 6',
      'UPDATE entries SET seq = -seq - 2 WHERE seq < 0',
    );
    expect(verify().firstBad).toEqual({
      seq: 5,
      problem: 'deleted',
      eventId: 'ev-6',
      detail: `the entry signed at seq 5 (leaf ${short(leafOf(5))}…) is gone; seq 5 now holds event ev-6, which was signed at seq 6, so later rows were renumbered`,
    });
  });

  it('a row inserted in the middle, word for word', () => {
    const body = encodeEvent(ev(100));
    tamper(
      'UPDATE entries SET seq = -seq - 1 WHERE seq >= 8',
      'UPDATE entries SET seq = -seq WHERE seq < 0',
      `INSERT INTO entries(seq, event_id, ts, type, actor, run, agent, body, leaf_hash) VALUES (8, 'ev-100', 1100, 'agent.step', 'worker', 'run-1', 'agent-1', x'${body.toString('hex')}', x'${hashLeaf(body).toString('hex')}')`,
    );
    expect(verify()).toMatchObject({
      size: 31,
      unsignedEntries: 1,
      firstBad: {
        seq: 8,
        problem: 'inserted',
        eventId: 'ev-100',
        detail:
          'seq 8 (event ev-100) was never signed: it was inserted, and the entry signed at seq 8 (event ev-8) now sits at seq 9',
      },
    });
  });

  it('a row written into the file past the signed size, without a tree node', () => {
    const body = encodeEvent(ev(100));
    tamper(
      `INSERT INTO entries(seq, event_id, ts, type, actor, run, agent, body, leaf_hash) VALUES (30, 'ev-100', 1100, 'agent.step', 'worker', 'run-1', 'agent-1', x'${body.toString('hex')}', x'${hashLeaf(body).toString('hex')}')`,
    );
    expect(verify()).toMatchObject({
      size: 31,
      signedSize: 30,
      unsignedEntries: 1,
      checkedCheckpoints: 3,
      firstBad: {
        seq: 30,
        problem: 'inserted',
        eventId: 'ev-100',
        detail:
          'seq 30 (event ev-100) has no tree node: it was written into the file, not appended through the ledger',
      },
    });
  });

  it('two rows swapped, word for word', () => {
    tamper(
      'UPDATE entries SET seq = -1 WHERE seq = 3',
      'UPDATE entries SET seq = 3 WHERE seq = 4',
      'UPDATE entries SET seq = 4 WHERE seq = -1',
    );
    expect(verify().firstBad).toEqual({
      seq: 3,
      problem: 'reordered',
      eventId: 'ev-4',
      detail:
        'seq 3 holds event ev-4, which was signed at seq 4; the entry signed at seq 3 (event ev-3) sits at seq 4',
    });
  });

  it('a wrong or missing stored tree node (proof cache), with the first position whose proofs it breaks', () => {
    tamper(`UPDATE tree_nodes SET hash = x'${'11'.repeat(32)}' WHERE level = 4 AND idx = 0`);
    expect(verify()).toMatchObject({
      size: 30,
      checkedCheckpoints: 3,
      firstBad: {
        seq: 0,
        problem: 'node-cache',
        detail: 'tree node (level 4, index 0) is wrong; proofs over seq 0.. would not verify',
      },
    });
    tamper('DELETE FROM tree_nodes WHERE level = 4 AND idx = 0');
    expect(verify().firstBad).toEqual({
      seq: 0,
      problem: 'node-cache',
      detail: 'tree node (level 4, index 0) is missing; proofs over seq 0.. would not verify',
    });
  });

  it('a missing signed leaf node as a proof-cache fault, with the warning that faults are located only between checkpoints', () => {
    tamper('DELETE FROM tree_nodes WHERE level = 0 AND idx = 17');
    const v = verify();
    expect(v.firstBad).toEqual({
      seq: 17,
      problem: 'node-cache',
      detail: 'tree node (level 0, index 17) is missing; proofs over seq 17.. would not verify',
    });
    expect(v.warnings).toEqual([
      ...TRIGGER_WARNINGS,
      'tree_nodes do not reproduce the latest signed root: faults can be located only between checkpoints',
    ]);
  });

  it.each([
    ['a leaf node of the wrong length', `UPDATE tree_nodes SET hash = x'11' WHERE level = 0 AND idx = 3`],
    ['a wrong leaf node', `UPDATE tree_nodes SET hash = x'${'11'.repeat(32)}' WHERE level = 0 AND idx = 3`],
  ])('%s: the signed leaves are not authenticated, and the node is reported', (_what, sql) => {
    tamper(sql);
    const v = verify();
    expect(v.warnings).toContain(
      'tree_nodes do not reproduce the latest signed root: faults can be located only between checkpoints',
    );
    expect(v.firstBad).toMatchObject({ seq: 3, problem: 'node-cache' });
  });

  it('a consistent rewrite between checkpoints, naming both roots and the stretch', () => {
    tamper('DELETE FROM tree_nodes');
    const body = encodeEvent(ev(13, { data: { i: 13, approved: true } }));
    tamper(
      `UPDATE entries SET body = x'${body.toString('hex')}', leaf_hash = x'${hashLeaf(body).toString('hex')}' WHERE seq = 13`,
    );
    const v = verify();
    expect(v).toMatchObject({ checkedCheckpoints: 1, firstBad: { seq: 10, problem: 'root-mismatch' } });
    expect(v.firstBad).not.toHaveProperty('eventId');
    const signed = new Database(path, { readonly: true });
    const cpRoot = signed.prepare('SELECT root FROM checkpoints WHERE size = 20').pluck().get() as Buffer;
    signed.close();
    const leaves = Array.from({ length: 20 }, (_, i) => (i === 13 ? hashLeaf(body) : leafOf(i)));
    expect(v.firstBad!.detail).toBe(
      `checkpoint #2 signs root ${short(cpRoot)}… for size 20, but the bodies of seq 0..19 hash to ${short(new MerkleTree(leaves).root())}…; the altered row lies in seq 10..19`,
    );
  });

  it('a checkpoint whose signature fails, by its id and size', () => {
    tamper(`UPDATE checkpoints SET root = x'${'00'.repeat(32)}' WHERE size = 20`);
    const v = verify();
    expect(v).toMatchObject({ ok: false, size: 30, signedSize: 0, checkedCheckpoints: 0 });
    expect(v.firstBad).toMatchObject({ seq: 20, problem: 'bad-checkpoint' });
    expect(v.firstBad!.detail).toMatch(/^checkpoint #2 \(size 20\): \S/);
  });

  it('a genuine older checkpoint signed again after a larger one: sizes never go backwards', () => {
    tamper(
      'INSERT INTO checkpoints(id, origin, size, root, ts, signature, key_id) SELECT 4, origin, size, root, ts, signature, key_id FROM checkpoints WHERE id = 1',
    );
    expect(verify().firstBad).toEqual({
      seq: 10,
      problem: 'bad-checkpoint',
      detail: 'checkpoint #4 signs size 10, smaller than size 30 of checkpoint #3',
    });
  });

  it('the same size signed twice is no regression', () => {
    tamper(
      'INSERT INTO checkpoints(id, origin, size, root, ts, signature, key_id) SELECT 4, origin, size, root, ts, signature, key_id FROM checkpoints WHERE id = 3',
    );
    expect(verify()).toMatchObject({ ok: true, checkedCheckpoints: 4 });
  });
});

describe('assertLedgerIntact', () => {
  it('returns the verification of an intact ledger', () => {
    const { head, ...report } = assertLedgerIntact(path, keys.publicKeyPem);
    const { head: again, ...expected } = verify();
    expect(report).toEqual(expected);
    expect({ ...head, verifiedAt: 0 }).toEqual({ ...again, verifiedAt: 0 });
  });

  it('throws LedgerTamperedError whose message names the position, the problem and the detail', () => {
    tamper('DELETE FROM entries WHERE seq = 2');
    const f = verify().firstBad!;
    expect(() => assertLedgerIntact(path, keys.publicKeyPem)).toThrow(
      expect.objectContaining({
        name: 'LedgerTamperedError',
        message: `ledger tampered at seq 2 (deleted): ${f.detail}`,
        details: { ...f },
      }),
    );
  });
});
