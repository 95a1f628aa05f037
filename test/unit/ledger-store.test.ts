import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_INDEX_BLOCK_BITS,
  DEFAULT_MIN_STORED_NODE_LEVEL,
} from '../../actors/ledger/ledger-options.ts';
import {
  type AuditEvent,
  type EntryQuery,
  LedgerStore,
  MerkleTree,
  createSigner,
  generateKeyPair,
  hashLeaf,
  treeHead,
  verifyCheckpoint,
} from '../../actors/ledger/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { ConfigError, InvalidMessageError, LedgerStoreError } from '../../protocols/vocabulary/errors.ts';

const ORIGIN = 'example.test/ledger';
const keys = generateKeyPair();
const signer = createSigner(keys.seedHex, ORIGIN);

const ev = (i: number, over: Partial<AuditEvent> = {}): AuditEvent => ({
  id: `ev-${i}`,
  ts: 1000 + i * 10,
  type: i % 3 === 0 ? 'tool.call' : 'agent.step',
  actor: 'worker',
  run: `run-${i % 2}`,
  agent: `agent-${i % 4}`,
  data: { i },
  ...over,
});

let dir: string;
let path: string;
let store: LedgerStore;
const clock = new ManualClock(5_000);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-store-'));
  path = join(dir, 'ledger.db');
  store = LedgerStore.open({ path, signer, checkpointEveryEntries: 10, clock });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ledger store', () => {
  it('appends a batch and reports the new size and the RFC 6962 root of the canonical bodies', () => {
    const events = [0, 1, 2, 3, 4].map((i) => ev(i));
    const r = store.appendBatch(events);
    expect(r.appended).toBe(5);
    expect(r.duplicates).toEqual([]);
    expect(r.size).toBe(5);
    const leaves = [0, 1, 2, 3, 4].map((s) => store.entry(s)!.leafHash);
    expect(r.root.equals(treeHead(leaves))).toBe(true);
    expect(store.entry(2)!.leafHash.equals(hashLeaf(store.entry(2)!.body))).toBe(true);
  });

  it('skips duplicate event ids within and across batches and reports where the first copy sits', () => {
    store.appendBatch([ev(0), ev(1)]);
    const r = store.appendBatch([ev(2), ev(1), ev(2), ev(0, { data: { changed: true } })]);
    expect(r.appended).toBe(1);
    expect(r.duplicates).toEqual([
      { id: 'ev-1', seq: 1, sameContent: true },
      { id: 'ev-2', seq: 2, sameContent: true },
      { id: 'ev-0', seq: 0, sameContent: false },
    ]);
    expect(store.size).toBe(3);
  });

  it('appends nothing from a batch that holds an invalid event', () => {
    store.appendBatch([ev(0)]);
    const root = store.root();
    expect(() => store.appendBatch([ev(1), ev(2, { data: { password: 'x' } })])).toThrow(InvalidMessageError);
    expect(store.size).toBe(1);
    expect(store.root().equals(root)).toBe(true);
  });

  it('rolls the whole batch back, tree included, when a write fails midway', () => {
    store.appendBatch([ev(0)]);
    const root = store.root();
    store.db.exec(
      "CREATE TRIGGER boom BEFORE INSERT ON entries WHEN NEW.event_id = 'ev-2' BEGIN SELECT RAISE(ABORT, 'disk says no'); END",
    );
    expect(() => store.appendBatch([ev(1), ev(2)])).toThrow(LedgerStoreError);
    expect(store.size).toBe(1);
    expect(store.root().equals(root)).toBe(true);
    expect(store.entry(1)).toBeUndefined();
    store.db.exec('DROP TRIGGER boom');
    const r = store.appendBatch([ev(1), ev(3)]);
    expect(r.size).toBe(3);
    expect(r.root.equals(treeHead([0, 1, 2].map((s) => store.entry(s)!.leafHash)))).toBe(true);
  });

  it('answers queries by run, agent, type, time range and seq range, and gives the tail in order', () => {
    store.appendBatch(Array.from({ length: 20 }, (_, i) => ev(i)));
    expect(store.byRun('run-1').map((e) => e.seq)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    expect(store.byAgent('agent-2').map((e) => e.id)).toEqual(['ev-2', 'ev-6', 'ev-10', 'ev-14', 'ev-18']);
    expect(store.byType('tool.call').map((e) => e.seq)).toEqual([0, 3, 6, 9, 12, 15, 18]);
    expect(store.byTimeRange(1050, 1090).map((e) => e.seq)).toEqual([5, 6, 7, 8]);
    expect(store.range(4, 7).map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(store.tail(3).map((e) => e.seq)).toEqual([17, 18, 19]);
    expect(store.query({ run: 'run-0', type: 'tool.call', limit: 2 }).map((e) => e.seq)).toEqual([0, 6]);
    expect(store.query({ agent: 'agent-1', order: 'desc', limit: 2 }).map((e) => e.seq)).toEqual([17, 13]);
    const e = store.entry(5)!;
    expect(e).toMatchObject({ seq: 5, id: 'ev-5', ts: 1050, run: 'run-1', agent: 'agent-1', data: { i: 5 } });
    expect(store.entryById('ev-5')!.seq).toBe(5);
    expect(store.entry(99)).toBeUndefined();
  });

  it('answers keyed queries across many index blocks exactly as a scan of every entry would', () => {
    const n = 2 ** DEFAULT_INDEX_BLOCK_BITS * 2 + 300;
    const events = Array.from({ length: n }, (_, i) =>
      ev(i, { run: `run-${i % 7}`, agent: i % 5 === 0 ? undefined : `agent-${i % 3}` }),
    );
    for (let i = 0; i < n; i += 500) store.appendBatch(events.slice(i, i + 500));
    const all = events.map((e, seq) => ({ ...e, seq }));
    const cases: EntryQuery[] = [
      { run: 'run-3', limit: n },
      { run: 'run-3', order: 'desc', limit: 5 },
      { agent: 'agent-2', fromSeq: 1000, toSeq: 2100, limit: n },
      { type: 'tool.call', fromSeq: 1020, limit: 40 },
      { run: 'run-1', type: 'agent.step', order: 'desc', toSeq: 2049, limit: 900 },
      { run: 'run-6', agent: 'agent-0', fromTs: 1000 + 300 * 10, toTs: 1000 + 2400 * 10, limit: n },
      { run: 'run-2', fromSeq: 5000, limit: 10 },
      { run: 'run-2', limit: 0 },
    ];
    for (const q of cases) {
      let expected = all.filter(
        (e) =>
          (q.run === undefined || e.run === q.run) &&
          (q.agent === undefined || e.agent === q.agent) &&
          (q.type === undefined || e.type === q.type) &&
          (q.fromTs === undefined || e.ts >= q.fromTs) &&
          (q.toTs === undefined || e.ts < q.toTs) &&
          (q.fromSeq === undefined || e.seq >= q.fromSeq) &&
          (q.toSeq === undefined || e.seq < q.toSeq),
      );
      if (q.order === 'desc') expected = expected.reverse();
      expect(
        store.query(q).map((e) => e.seq),
        JSON.stringify(q),
      ).toEqual(expected.slice(0, q.limit).map((e) => e.seq));
    }
    const plan = store.db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT * FROM entries WHERE (seq >> ${DEFAULT_INDEX_BLOCK_BITS}) = 1 AND seq >= 0 AND seq < 9 AND run = 'r' ORDER BY seq LIMIT 5`,
      )
      .all() as { detail: string }[];
    expect(plan.map((r) => r.detail).join()).toMatch(/USING INDEX entries_by_block_run/);
  });

  it('stores the leaf hashes and the subtrees from the minimum stored level up, and hashes the levels between from the leaves', () => {
    const n = 2 ** (DEFAULT_MIN_STORED_NODE_LEVEL + 1) + 3;
    store.appendBatch(Array.from({ length: n }, (_, i) => ev(i)));
    const levels = store.db.prepare('SELECT DISTINCT level FROM tree_nodes ORDER BY level').pluck().all();
    expect(levels).toEqual([0, DEFAULT_MIN_STORED_NODE_LEVEL, DEFAULT_MIN_STORED_NODE_LEVEL + 1]);
    const reference = new MerkleTree(store.range(0, n).map((e) => e.leafHash));
    for (let level = 0; 2 ** level <= n; level++) {
      for (let i = 0; (i + 1) * 2 ** level <= n; i++)
        expect(store.node(level, i).equals(reference.node(level, i))).toBe(true);
    }
  });

  it('signs a checkpoint every N entries, mid-batch, with the clock time', () => {
    const r = store.appendBatch(Array.from({ length: 25 }, (_, i) => ev(i)));
    expect(r.checkpoints.map((c) => c.size)).toEqual([10, 20]);
    const cps = store.checkpoints();
    expect(cps.map((c) => c.size)).toEqual([10, 20]);
    for (const c of cps) {
      expect(c.ts).toBe(5_000);
      expect(verifyCheckpoint(c, signer.publicKey)).toBe(true);
      expect(c.root.equals(treeHead(store.range(0, c.size).map((e) => e.leafHash)))).toBe(true);
    }
  });

  it('checkpoints when asked, and returns the latest unchanged when the tree has not grown', () => {
    store.appendBatch([ev(0), ev(1), ev(2)]);
    clock.advance(1000);
    const a = store.checkpoint();
    expect(a.size).toBe(3);
    expect(a.root.equals(store.root())).toBe(true);
    expect(store.checkpoint()).toEqual(a);
    expect(store.checkpoints()).toHaveLength(1);
    expect(store.checkpoint({ force: true }).size).toBe(3);
    expect(store.checkpoints()).toHaveLength(2);
  });

  it('refuses to checkpoint without a signing key', () => {
    const bare = LedgerStore.open({ path: ':memory:' });
    bare.append(ev(0));
    expect(() => bare.checkpoint()).toThrow(ConfigError);
    bare.close();
  });

  it('restores size, root and checkpoint cadence on reopen and keeps appending the same tree', () => {
    store.appendBatch(Array.from({ length: 13 }, (_, i) => ev(i)));
    const root = store.root();
    store.close();
    store = LedgerStore.open({ path, signer, checkpointEveryEntries: 10, clock });
    expect(store.size).toBe(13);
    expect(store.root().equals(root)).toBe(true);
    const r = store.appendBatch(Array.from({ length: 9 }, (_, i) => ev(13 + i)));
    expect(r.checkpoints.map((c) => c.size)).toEqual([20]);
    expect(r.root.equals(treeHead(store.range(0, 22).map((e) => e.leafHash)))).toBe(true);
  });

  it('opens without counting its rows, and refuses a file whose rows and tree leaves disagree at the ends', () => {
    store.appendBatch(Array.from({ length: 12 }, (_, i) => ev(i)));
    store.close();
    const reader = new Database(path, { readonly: true });
    const plans = (sql: string) =>
      reader
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all()
        .map((r) => (r as { detail: string }).detail)
        .join('; ');
    // The open path's queries are index lookups, not scans (a COUNT(*) scanned every row).
    expect(
      plans('SELECT (SELECT MIN(seq) FROM entries) AS low, (SELECT MAX(seq) FROM entries) AS top'),
    ).not.toMatch(/SCAN entries/);
    expect(plans('SELECT MAX(idx) AS top FROM tree_nodes WHERE level = 0')).toMatch(/SEARCH/);
    reader.close();
    const raw = new Database(path);
    raw.exec('DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 11');
    raw.close();
    expect(() => LedgerStore.open({ path, signer, checkpointEveryEntries: 10, clock })).toThrow(
      /entries span seq 0..10 but the tree's leaves end at 11/,
    );
  });

  it('refuses UPDATE and DELETE on entries, tree nodes and checkpoints through SQL', () => {
    store.appendBatch(Array.from({ length: 10 }, (_, i) => ev(i)));
    for (const sql of [
      "UPDATE entries SET actor = 'x' WHERE seq = 1",
      'DELETE FROM entries WHERE seq = 9',
      'UPDATE tree_nodes SET hash = zeroblob(32) WHERE level = 0 AND idx = 0',
      'DELETE FROM tree_nodes',
      'UPDATE checkpoints SET size = 3',
      'DELETE FROM checkpoints',
    ]) {
      expect(() => store.db.exec(sql), sql).toThrow(/append-only/);
    }
  });

  it('cuts the WAL back to its size limit once a checkpoint lets it start over (regression: a ~40 MB WAL was never truncated)', () => {
    const big = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ev(from + i, { data: { i: from + i, pad: 'x'.repeat(2000) } }));
    const walAfterBurst = (walSizeLimitBytes: number, file: string) => {
      const s = LedgerStore.open({ path: join(dir, file), walAutocheckpointPages: 50, walSizeLimitBytes });
      s.appendBatch(big(0, 1500)); // one transaction: the WAL grows to several MB whatever the autocheckpoint
      const peak = statSync(join(dir, `${file}-wal`)).size;
      for (let k = 0; k < 20; k++) s.appendBatch(big(1500 + k * 10, 10)); // past a checkpoint, WAL restarts
      const after = statSync(join(dir, `${file}-wal`)).size;
      s.close();
      return { peak, after };
    };
    const unbounded = walAfterBurst(-1, 'unbounded.db');
    expect(unbounded.peak).toBeGreaterThan(2_000_000);
    expect(unbounded.after).toBeGreaterThanOrEqual(unbounded.peak); // premise: SQLite alone keeps the high-water mark
    const bounded = walAfterBurst(256 * 1024, 'bounded.db');
    expect(bounded.peak).toBeGreaterThan(2_000_000);
    // The limit plus what accrued since the WAL restarted (at most ~50 pages before the next checkpoint).
    expect(bounded.after).toBeLessThan(256 * 1024 + 60 * 4096 + 100_000);
  });

  it('runs in WAL mode with synchronous=FULL', () => {
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('opens readonly for readers and refuses writes there', () => {
    store.appendBatch([ev(0)]);
    const reader = LedgerStore.open({ path, readonly: true });
    expect(reader.size).toBe(1);
    expect(reader.entry(0)!.id).toBe('ev-0');
    expect(() => reader.append(ev(1))).toThrow(LedgerStoreError);
    reader.close();
  });
});
