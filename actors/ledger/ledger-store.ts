/**
 * The ledger's SQLite store (better-sqlite3, WAL).
 *
 * Tables:
 *   entries(seq, event_id UNIQUE, ts, type, actor, run, agent, body, leaf_hash) — seq is the 0-based
 *     Merkle leaf index; body is the canonical event bytes; leaf_hash = SHA-256(0x00 || body). The
 *     run/agent/type indexes are ordered by seq block first, so appends touch few index pages.
 *   tree_nodes(level, idx, hash) — the leaf hashes (level 0) and every perfect subtree hash from level
 *     {@link DEFAULT_MIN_STORED_NODE_LEVEL} up, written in the same transaction as the entry (the levels
 *     between are hashed from the leaves on demand). Proofs read O(log n) nodes from it; the verifier
 *     uses the leaves, once a signed root authenticates them, to name exactly which row was moved,
 *     dropped or forged.
 *   checkpoints(id, origin, size, root, ts, signature, key_id) — signed tree heads.
 * TRIGGERs abort every UPDATE and DELETE on all three: the ledger is append-only through SQL too
 * (an attacker with the file can drop them; {@link verifyLedger} catches what they do next).
 */
import type { KeyObject } from 'node:crypto';
import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type Clock, systemClock } from '../../infra/index.ts';
import {
  ConfigError,
  GovError,
  InvalidMessageError,
  LedgerStoreError,
  LedgerTamperedError,
} from '../../protocols/index.ts';
import { type AuditEvent, type JsonObject, decodeEvent, encodeEventText } from './canonical.ts';
import {
  type Checkpoint,
  type CheckpointSigner,
  checkpointSignatureProblem,
  type SignedCheckpoint,
} from './checkpoint.ts';
import {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_CHECKPOINT_EVERY_ENTRIES,
  DEFAULT_INDEX_BLOCK_BITS,
  DEFAULT_LEDGER_ORIGIN,
  DEFAULT_MIN_STORED_NODE_LEVEL,
  DEFAULT_QUERY_LIMIT_ENTRIES,
  DEFAULT_SYNCHRONOUS,
  DEFAULT_WAL_AUTOCHECKPOINT_PAGES,
  type LedgerStoreOptions,
} from './ledger-options.ts';
import { CompactRange, type NodeReader, leafOfText, treeHead } from './merkle.ts';

/**
 * 2: run/agent/type indexes ordered by seq block ({@link DEFAULT_INDEX_BLOCK_BITS}); tree_nodes without
 * the levels between the leaves and {@link DEFAULT_MIN_STORED_NODE_LEVEL}.
 */
export const LEDGER_SCHEMA_VERSION = 2;

const BLOCK = `seq >> ${DEFAULT_INDEX_BLOCK_BITS}`;

export const LEDGER_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS entries (
  seq       INTEGER PRIMARY KEY,
  event_id  TEXT    NOT NULL UNIQUE,
  ts        INTEGER NOT NULL,
  type      TEXT    NOT NULL,
  actor     TEXT    NOT NULL,
  run       TEXT,
  agent     TEXT,
  body      BLOB    NOT NULL,
  leaf_hash BLOB    NOT NULL
);
DROP INDEX IF EXISTS entries_by_run;
DROP INDEX IF EXISTS entries_by_agent;
DROP INDEX IF EXISTS entries_by_type;
CREATE INDEX IF NOT EXISTS entries_by_block_run   ON entries(${BLOCK}, run, seq)   WHERE run IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_by_block_agent ON entries(${BLOCK}, agent, seq) WHERE agent IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_by_block_type  ON entries(${BLOCK}, type, seq);
CREATE INDEX IF NOT EXISTS entries_by_ts          ON entries(ts, seq);

CREATE TABLE IF NOT EXISTS tree_nodes (
  level INTEGER NOT NULL,
  idx   INTEGER NOT NULL,
  hash  BLOB    NOT NULL,
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS checkpoints (
  id        INTEGER PRIMARY KEY,
  origin    TEXT    NOT NULL,
  size      INTEGER NOT NULL,
  root      BLOB    NOT NULL,
  ts        INTEGER NOT NULL,
  signature BLOB    NOT NULL,
  key_id    TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_by_size ON checkpoints(size);

-- Witness cosignature lines (C2SP tlog-cosignature) of checkpoints, as the witnesses sent them.
-- Outside the Merkle tree; a verifier checks them with the witnesses' own (pinned) keys.
CREATE TABLE IF NOT EXISTS cosignatures (
  size        INTEGER NOT NULL,
  witness     TEXT    NOT NULL,
  line        TEXT    NOT NULL,
  received_ts INTEGER NOT NULL,
  PRIMARY KEY (size, witness)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
  BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
  BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS tree_nodes_no_update BEFORE UPDATE ON tree_nodes
  BEGIN SELECT RAISE(ABORT, 'ledger tree nodes are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS tree_nodes_no_delete BEFORE DELETE ON tree_nodes
  BEGIN SELECT RAISE(ABORT, 'ledger tree nodes are append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only: DELETE refused'); END;
`;

/** The names of the append-only triggers (the verifier warns when one is missing). */
export const LEDGER_TRIGGERS = [
  'entries_no_update',
  'entries_no_delete',
  'tree_nodes_no_update',
  'tree_nodes_no_delete',
  'checkpoints_no_update',
  'checkpoints_no_delete',
] as const;

/** An entry: the event, where it sits, its canonical bytes and leaf hash. */
export interface LedgerEntry extends AuditEvent {
  /** 0-based position: the Merkle leaf index. */
  seq: number;
  /** Canonical event bytes (the Merkle entry). */
  body: Buffer;
  /** SHA-256(0x00 || body). */
  leafHash: Buffer;
}

/** An entry as shown outside the store (bus answers, the command line): no body, leaf hash in hex. */
export interface EntryView<D = JsonObject> extends Omit<AuditEvent, 'data'> {
  seq: number;
  data: D;
  leafHash: string;
}

/** The {@link EntryView} of a stored entry (or of a view received from the bus, unchanged). */
export function entryView<D = JsonObject>(e: LedgerEntry | EntryView<D>): EntryView<D | JsonObject> {
  return {
    seq: e.seq,
    id: e.id,
    ts: e.ts,
    type: e.type,
    actor: e.actor,
    ...(e.run !== undefined ? { run: e.run } : {}),
    ...(e.agent !== undefined ? { agent: e.agent } : {}),
    data: e.data,
    leafHash: typeof e.leafHash === 'string' ? e.leafHash : e.leafHash.toString('hex'),
  };
}

export interface DuplicateEvent {
  id: string;
  /** Where the first copy sits. */
  seq: number;
  /** False when the duplicate id came with different content (kept: the first; dropped: this one). */
  sameContent: boolean;
}

export interface AppendResult {
  /** Entries written (committed; with durability 'deferred', on disk once `sync()` resolves). */
  appended: number;
  duplicates: DuplicateEvent[];
  /** Tree size after the batch. */
  size: number;
  /** Tree head after the batch. */
  root: Buffer;
  /** Checkpoints signed during the batch (auto checkpointing); with durability 'deferred', publish them after `sync()`. */
  checkpoints: SignedCheckpoint[];
}

/** Filters AND together. Ranges are half-open: [fromSeq, toSeq), [fromTs, toTs). */
export interface EntryQuery {
  run?: string;
  agent?: string;
  type?: string;
  fromTs?: number;
  toTs?: number;
  fromSeq?: number;
  toSeq?: number;
  /** Default {@link DEFAULT_QUERY_LIMIT_ENTRIES}. */
  limit?: number;
  order?: 'asc' | 'desc';
}

export interface EntryRow {
  seq: number;
  event_id: string;
  ts: number;
  type: string;
  actor: string;
  run: string | null;
  agent: string | null;
  body: Buffer;
  leaf_hash: Buffer;
}

export interface CheckpointRow {
  id: number;
  origin: string;
  size: number;
  root: Buffer;
  ts: number;
  signature: Buffer;
  key_id: string;
}

export function checkpointFromRow(r: CheckpointRow): SignedCheckpoint {
  return {
    origin: r.origin,
    size: r.size,
    root: r.root,
    ts: r.ts,
    keyName: r.origin,
    keyId: r.key_id,
    signature: r.signature,
  };
}

function toEntry(r: EntryRow): LedgerEntry {
  const e = decodeEvent(r.body);
  const out: LedgerEntry = {
    seq: r.seq,
    id: e.id,
    ts: e.ts,
    type: e.type,
    actor: e.actor,
    data: e.data,
    body: r.body,
    leafHash: r.leaf_hash,
  };
  if (e.run !== undefined) out.run = e.run;
  if (e.agent !== undefined) out.agent = e.agent;
  return out;
}

function isDeferred(opts: LedgerStoreOptions): boolean {
  const file = opts.path !== ':memory:' && opts.path !== '';
  return (
    file &&
    !opts.readonly &&
    opts.durability === 'deferred' &&
    (opts.synchronous ?? DEFAULT_SYNCHRONOUS) === 'FULL'
  );
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a newly created file's directory entry durable (what SQLite does for a new WAL under FULL). */
function syncDirectory(dir: string): void {
  try {
    fsyncFile(dir);
  } catch {
    // not supported on this platform / file system
  }
}

function storeError(what: string, err: unknown): GovError {
  if (err instanceof GovError) return err;
  return new LedgerStoreError(`ledger store: ${what}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

function prepareStatements(db: Database.Database) {
  return {
    // A known event id is not an error: the insert writes nothing and the caller looks the first copy up.
    insertEntry: db.prepare(
      'INSERT INTO entries(seq, event_id, ts, type, actor, run, agent, body, leaf_hash) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(event_id) DO NOTHING',
    ),
    byId: db.prepare<[string], { seq: number; body: Buffer }>(
      'SELECT seq, body FROM entries WHERE event_id = ?',
    ),
    entry: db.prepare<[number], EntryRow>('SELECT * FROM entries WHERE seq = ?'),
    entryById: db.prepare<[string], EntryRow>('SELECT * FROM entries WHERE event_id = ?'),
    count: db.prepare<[], { n: number; top: number | null }>(
      'SELECT COUNT(*) AS n, MAX(seq) AS top FROM entries',
    ),
    top: db.prepare<[], { top: number | null }>('SELECT MAX(seq) AS top FROM entries'),
    insertNode: db.prepare('INSERT INTO tree_nodes(level, idx, hash) VALUES (?,?,?)'),
    node: db.prepare<[number, number], { hash: Buffer }>(
      'SELECT hash FROM tree_nodes WHERE level = ? AND idx = ?',
    ),
    leaves: db
      .prepare<[number, number], Buffer>(
        'SELECT hash FROM tree_nodes WHERE level = 0 AND idx >= ? AND idx < ? ORDER BY idx',
      )
      .pluck(),
    insertCheckpoint: db.prepare(
      'INSERT INTO checkpoints(origin, size, root, ts, signature, key_id) VALUES (?,?,?,?,?,?)',
    ),
    checkpoints: db.prepare<[], CheckpointRow>('SELECT * FROM checkpoints ORDER BY id'),
    latestCheckpoint: db.prepare<[], CheckpointRow>('SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1'),
    checkpointAtSize: db.prepare<[number], CheckpointRow>(
      'SELECT * FROM checkpoints WHERE size = ? ORDER BY id DESC LIMIT 1',
    ),
    checkpointCovering: db.prepare<[number], CheckpointRow>(
      'SELECT * FROM checkpoints WHERE size >= ? ORDER BY id DESC LIMIT 1',
    ),
  };
}

/** An append-only, Merkle-committed audit ledger in one SQLite file. Single writer per file. */
export class LedgerStore implements NodeReader {
  readonly db: Database.Database;
  readonly origin: string;
  readonly path: string;
  private readonly signer: CheckpointSigner | undefined;
  private readonly checkpointKey: KeyObject | undefined;
  private readonly every: number;
  private readonly clock: Clock;
  private readonly readonly: boolean;
  private frontier: CompactRange;
  private lastCheckpointSize: number;
  private readonly stmts: ReturnType<typeof prepareStatements>;
  private readonly queryCache = new Map<string, Database.Statement>();
  /** Durability 'deferred': commits reach the disk through {@link sync}. */
  private readonly deferred: boolean;
  /** Write transactions committed, and how many of them are known to be on disk. */
  private commits = 0;
  private syncedCommits = 0;
  private syncing: Promise<void> | undefined;
  private dirSynced = false;
  /**
   * The WAL, open for fsync from the first sync to close: SQLite keeps the same file while the
   * database is open, and opening it per sync cost as much CPU as the fsync call itself.
   */
  private walFd: number | undefined;

  private constructor(opts: LedgerStoreOptions, db: Database.Database) {
    this.db = db;
    this.path = opts.path;
    this.origin = opts.origin ?? opts.signer?.keyName ?? DEFAULT_LEDGER_ORIGIN;
    this.signer = opts.signer;
    this.checkpointKey = opts.checkpointKey;
    if (this.signer && this.signer.keyName !== this.origin) {
      throw new ConfigError(
        `ledger origin "${this.origin}" differs from the signing key name "${this.signer.keyName}"`,
      );
    }
    this.every = opts.checkpointEveryEntries ?? DEFAULT_CHECKPOINT_EVERY_ENTRIES;
    if (!Number.isSafeInteger(this.every) || this.every < 0)
      throw new ConfigError('checkpointEveryEntries must be >= 0');
    this.clock = opts.clock ?? systemClock;
    this.readonly = opts.readonly ?? false;
    this.deferred = isDeferred(opts);
    this.stmts = prepareStatements(db);
    const { n, top } = this.stmts.count.get()!;
    if (n > 0 && top !== n - 1) {
      throw new LedgerTamperedError(
        `ledger ${this.path}: ${n} entries but the highest seq is ${top}; run verifyLedger`,
      );
    }
    this.frontier = CompactRange.fromReader(this, n);
    this.lastCheckpointSize = this.stmts.latestCheckpoint.get()?.size ?? 0;
  }

  /** Opens (and, unless readonly, creates) a ledger file. */
  static open(opts: LedgerStoreOptions): LedgerStore {
    let db: Database.Database | undefined;
    try {
      db = new Database(opts.path, opts.readonly ? { readonly: true, fileMustExist: true } : {});
      db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
      if (!opts.readonly) {
        db.pragma('journal_mode = WAL');
        // Deferred durability: the commit does not fsync; sync() does, off the event loop.
        db.pragma(`synchronous = ${isDeferred(opts) ? 'NORMAL' : (opts.synchronous ?? DEFAULT_SYNCHRONOUS)}`);
        db.pragma(`wal_autocheckpoint = ${opts.walAutocheckpointPages ?? DEFAULT_WAL_AUTOCHECKPOINT_PAGES}`);
        db.exec(LEDGER_SCHEMA_SQL);
        db.pragma(`user_version = ${LEDGER_SCHEMA_VERSION}`);
      }
      return new LedgerStore(opts, db);
    } catch (err) {
      db?.close();
      throw storeError(`cannot open ${opts.path}`, err);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
    const fd = this.walFd;
    if (fd === undefined) return;
    this.walFd = undefined;
    // An fsync still running in the thread pool must not see its descriptor closed (or reused).
    if (this.syncing)
      void this.syncing.then(
        () => closeSync(fd),
        () => closeSync(fd),
      );
    else closeSync(fd);
  }

  private wal(): number {
    this.walFd ??= openSync(`${this.path}-wal`, 'r');
    return this.walFd;
  }

  /** Number of entries (the tree size). */
  get size(): number {
    return this.frontier.size;
  }

  /** Public half of the signing key (the local signer's, or the remote signer's `checkpointKey`). */
  get publicKey(): KeyObject | undefined {
    return this.signer?.publicKey ?? this.checkpointKey;
  }

  /** MTH of the first `size` entries (O(log n) node reads). */
  rootAt(size: number): Buffer {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`no tree of size ${size} in a ledger of ${this.size} entries`);
    }
    return size === this.size ? this.frontier.root() : CompactRange.fromReader(this, size).root();
  }

  /** The tree head to sign now: nothing is written. Sign it elsewhere, then {@link addCheckpoint}. */
  treeHead(): Checkpoint {
    return {
      origin: this.origin,
      size: this.frontier.size,
      root: this.frontier.root(),
      ts: this.clock.now(),
    };
  }

  /**
   * Stores a checkpoint signed elsewhere (Vault transit), once it is shown to be this ledger's: the
   * signature verifies under `checkpointKey`, the origin is this ledger's, and the root is the tree's
   * root at that size. On disk, with every entry it covers, when this returns. Undefined when a larger
   * checkpoint is already stored (the head is stale and is dropped: checkpoints only grow).
   * @throws LedgerTamperedError when the checkpoint does not describe this tree; ConfigError without a key
   */
  addCheckpoint(sc: SignedCheckpoint): SignedCheckpoint | undefined {
    this.assertWritable();
    const key = this.publicKey;
    if (!key) throw new ConfigError('ledger store has no checkpoint key: cannot accept a signed checkpoint');
    const problem =
      sc.origin !== this.origin
        ? `origin "${sc.origin}" is not this ledger's "${this.origin}"`
        : sc.size > this.size
          ? `size ${sc.size} is beyond the ledger's ${this.size} entries`
          : checkpointSignatureProblem(sc, key);
    if (problem) throw new LedgerTamperedError(`signed checkpoint refused: ${problem}`);
    if (!this.rootAt(sc.size).equals(sc.root)) {
      throw new LedgerTamperedError(
        `signed checkpoint refused: its root is not the ledger's root at size ${sc.size}`,
      );
    }
    let stored: boolean;
    try {
      stored = this.db
        .transaction(() => {
          // Checkpoints only grow. A head signed before a later one was stored (a restarted writer's
          // predecessor still finishing its signing request) is stale: it is dropped, not appended.
          const latest = this.stmts.latestCheckpoint.get();
          if (latest && latest.size > sc.size) return false;
          this.stmts.insertCheckpoint.run(sc.origin, sc.size, sc.root, sc.ts, sc.signature, sc.keyId);
          return true;
        })
        .immediate();
      this.committed();
    } catch (err) {
      throw storeError('checkpoint failed', err);
    }
    if (!stored) return undefined;
    this.lastCheckpointSize = Math.max(this.lastCheckpointSize, sc.size);
    this.syncNow();
    return sc;
  }

  /** Current tree head MTH(entries). */
  root(): Buffer {
    return this.frontier.root();
  }

  /** Perfect-subtree hash from tree_nodes (NodeReader for proofs). */
  node(level: number, index: number): Buffer {
    if (level > 0 && level < DEFAULT_MIN_STORED_NODE_LEVEL) {
      const width = 2 ** level;
      const leaves = this.stmts.leaves.all(index * width, (index + 1) * width);
      if (leaves.length !== width)
        throw new LedgerTamperedError(
          `ledger leaf hashes under tree node (level ${level}, index ${index}) are missing`,
        );
      return treeHead(leaves);
    }
    const row = this.stmts.node.get(level, index);
    if (!row) throw new LedgerTamperedError(`ledger tree node (level ${level}, index ${index}) is missing`);
    return row.hash;
  }

  /** Appends one event; see {@link appendBatch}. */
  append(event: AuditEvent): AppendResult {
    return this.appendBatch([event]);
  }

  /**
   * Appends events in ONE transaction, in order. Idempotent by event id: an id already in the
   * ledger (or earlier in the batch) is skipped and reported in `duplicates`. Every event is
   * validated and encoded before anything is written, so an invalid event fails the whole batch
   * with InvalidMessageError and nothing is appended.
   * @throws InvalidMessageError | LedgerStoreError (retryable) | ConfigError
   */
  appendBatch(events: readonly AuditEvent[]): AppendResult {
    this.assertWritable();
    // Canonical bytes and leaf hash, once per event, before anything is written.
    const encoded = events.map((e, i) => {
      try {
        const { entry, leafHash } = leafOfText(encodeEventText(e));
        return { e, body: entry, leaf: leafHash };
      } catch (err) {
        if (err instanceof InvalidMessageError) {
          throw new InvalidMessageError(`batch item ${i}: ${err.message}`, {
            details: { ...err.details, index: i },
            cause: err,
          });
        }
        throw err;
      }
    });
    const savedFrontier = this.frontier.clone();
    const savedCheckpointSize = this.lastCheckpointSize;
    try {
      const result = this.db
        .transaction(() => {
          const duplicates: DuplicateEvent[] = [];
          const checkpoints: SignedCheckpoint[] = [];
          let appended = 0;
          for (const { e, body, leaf } of encoded) {
            const seq = this.frontier.size;
            const written = this.stmts.insertEntry.run(
              seq,
              e.id,
              e.ts,
              e.type,
              e.actor,
              e.run ?? null,
              e.agent ?? null,
              body,
              leaf,
            );
            if (written.changes === 0) {
              // The id is already in the ledger (or earlier in this batch): keep the first copy.
              const prior = this.stmts.byId.get(e.id)!;
              duplicates.push({ id: e.id, seq: prior.seq, sameContent: prior.body.equals(body) });
              continue;
            }
            for (const c of this.frontier.append(leaf)) {
              if (c.level === 0 || c.level >= DEFAULT_MIN_STORED_NODE_LEVEL)
                this.stmts.insertNode.run(c.level, c.index, c.hash);
            }
            appended++;
            if (this.signer && this.every > 0 && this.frontier.size - this.lastCheckpointSize >= this.every) {
              checkpoints.push(this.writeCheckpoint());
            }
          }
          return { appended, duplicates, size: this.frontier.size, root: this.frontier.root(), checkpoints };
        })
        .immediate();
      this.committed();
      return result;
    } catch (err) {
      this.frontier = savedFrontier;
      this.lastCheckpointSize = savedCheckpointSize;
      throw storeError('append failed', err);
    }
  }

  /**
   * Signs and stores a checkpoint of the current tree head. When the latest checkpoint already
   * has the current size it is returned unchanged (pass `force` to sign a fresh one anyway). Either
   * way it is on disk, with every entry, when this returns (also with durability 'deferred').
   * @throws ConfigError when the store has no signer
   */
  checkpoint(opts: { force?: boolean } = {}): SignedCheckpoint {
    this.assertWritable();
    if (!opts.force) {
      const latest = this.latestCheckpoint();
      if (latest && latest.size === this.size) {
        this.syncNow(); // it may have been signed inside an append that is not on disk yet
        return latest;
      }
    }
    let cp: SignedCheckpoint;
    try {
      cp = this.db.transaction(() => this.writeCheckpoint()).immediate();
      this.committed();
    } catch (err) {
      throw storeError('checkpoint failed', err);
    }
    // A signed head is handed out at once: it must survive a power loss (with every entry it covers).
    this.syncNow();
    return cp;
  }

  /** Counts a write transaction that is not on disk yet (durability 'deferred'; FULL commits are). */
  private committed(): void {
    if (this.deferred) this.commits++;
  }

  /** True while some commit is not known to be on disk (durability 'deferred'). */
  get unsynced(): boolean {
    return this.syncedCommits < this.commits;
  }

  /**
   * Durability 'deferred': resolves once every transaction committed before the call is on disk (an
   * fsync of the WAL in the thread pool; commits made meanwhile join the next fsync). Resolves at
   * once otherwise. Rejects with LedgerStoreError when the fsync fails.
   */
  sync(): Promise<void> {
    const target = this.commits;
    if (this.syncedCommits >= target) return Promise.resolve();
    return this.syncUpTo(target);
  }

  private async syncUpTo(target: number): Promise<void> {
    while (this.syncedCommits < target) {
      if (this.syncing) {
        await this.syncing;
        continue;
      }
      const upTo = this.commits;
      const done = this.fsyncWal().then(
        () => {
          this.syncedCommits = Math.max(this.syncedCommits, upTo);
        },
        (err: unknown) => {
          throw storeError('fsync of the WAL failed', err);
        },
      );
      this.syncing = done.finally(() => {
        this.syncing = undefined;
      });
      await this.syncing;
    }
  }

  private async fsyncWal(): Promise<void> {
    const fd = this.wal();
    await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    if (!this.dirSynced) {
      syncDirectory(dirname(this.path));
      this.dirSynced = true;
    }
  }

  /** {@link sync}, blocking: every commit so far is on disk when it returns. */
  syncNow(): void {
    if (this.syncedCommits >= this.commits) return;
    const upTo = this.commits;
    try {
      fsyncSync(this.wal());
      if (!this.dirSynced) {
        syncDirectory(dirname(this.path));
        this.dirSynced = true;
      }
    } catch (err) {
      throw storeError('fsync of the WAL failed', err);
    }
    this.syncedCommits = Math.max(this.syncedCommits, upTo);
  }

  private writeCheckpoint(): SignedCheckpoint {
    if (!this.signer) throw new ConfigError('ledger store has no signing key: cannot checkpoint');
    const sc = this.signer.sign({
      origin: this.origin,
      size: this.frontier.size,
      root: this.frontier.root(),
      ts: this.clock.now(),
    });
    this.stmts.insertCheckpoint.run(sc.origin, sc.size, sc.root, sc.ts, sc.signature, sc.keyId);
    this.lastCheckpointSize = sc.size;
    return sc;
  }

  private assertWritable(): void {
    if (this.readonly) throw new LedgerStoreError('ledger store was opened readonly', { retryable: false });
  }

  /** Keeps a witness's cosignature line of the checkpoint of `size` (the first one per witness and size). */
  addCosignature(size: number, witness: string, line: string): void {
    this.assertWritable();
    this.db
      .prepare('INSERT OR IGNORE INTO cosignatures(size, witness, line, received_ts) VALUES (?,?,?,?)')
      .run(size, witness, line, this.clock.now());
    this.committed();
  }

  /** The cosignature lines kept for the checkpoint of `size` (none in a file from before witnesses). */
  cosignaturesAt(size: number): { witness: string; line: string }[] {
    const exists = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cosignatures'")
      .get();
    if (!exists) return [];
    return this.db
      .prepare<[number], { witness: string; line: string }>(
        'SELECT witness, line FROM cosignatures WHERE size = ? ORDER BY witness',
      )
      .all(size);
  }

  /** Every stored checkpoint, oldest first. */
  checkpoints(): SignedCheckpoint[] {
    return this.stmts.checkpoints.all().map(checkpointFromRow);
  }

  latestCheckpoint(): SignedCheckpoint | undefined {
    const r = this.stmts.latestCheckpoint.get();
    return r ? checkpointFromRow(r) : undefined;
  }

  /** The latest checkpoint of exactly this size. */
  checkpointAt(size: number): SignedCheckpoint | undefined {
    const r = this.stmts.checkpointAtSize.get(size);
    return r ? checkpointFromRow(r) : undefined;
  }

  /** The latest checkpoint whose tree contains entry `seq`. */
  checkpointCovering(seq: number): SignedCheckpoint | undefined {
    const r = this.stmts.checkpointCovering.get(seq + 1);
    return r ? checkpointFromRow(r) : undefined;
  }

  entry(seq: number): LedgerEntry | undefined {
    const r = this.stmts.entry.get(seq);
    return r ? toEntry(r) : undefined;
  }

  entryById(id: string): LedgerEntry | undefined {
    const r = this.stmts.entryById.get(id);
    return r ? toEntry(r) : undefined;
  }

  /** Entries matching every given filter, by seq. */
  query(q: EntryQuery = {}): LedgerEntry[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (cond: string, v: string | number | undefined) => {
      if (v === undefined) return;
      where.push(cond);
      args.push(v);
    };
    add('run = ?', q.run);
    add('agent = ?', q.agent);
    add('type = ?', q.type);
    add('ts >= ?', q.fromTs);
    add('ts < ?', q.toTs);
    const limit = q.limit ?? DEFAULT_QUERY_LIMIT_ENTRIES;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`bad limit ${limit}`);
    const order = q.order === 'desc' ? 'DESC' : 'ASC';
    if (q.run === undefined && q.agent === undefined && q.type === undefined) {
      add('seq >= ?', q.fromSeq);
      add('seq < ?', q.toSeq);
      const sql = `SELECT * FROM entries${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${order} LIMIT ?`;
      return (this.statement(sql).all(...args, limit) as EntryRow[]).map(toEntry);
    }
    return this.queryByBlock(where, args, q, limit, order);
  }

  /**
   * A query by run, agent or type walks the seq blocks its index is ordered by, one seek per block,
   * in the asked order, and stops at the limit. The seq bounds in each seek keep it cheap on a file
   * whose indexes are not block-ordered (a schema 1 file opened read-only).
   */
  private queryByBlock(
    where: string[],
    args: (string | number)[],
    q: EntryQuery,
    limit: number,
    order: 'ASC' | 'DESC',
  ): LedgerEntry[] {
    const top = this.stmts.top.get()?.top;
    const from = Math.max(0, q.fromSeq ?? 0);
    const to = Math.min(q.toSeq ?? Number.MAX_SAFE_INTEGER, top === null || top === undefined ? 0 : top + 1);
    const out: LedgerEntry[] = [];
    if (limit === 0 || from >= to) return out;
    const sql = `SELECT * FROM entries WHERE (${BLOCK}) = ? AND seq >= ? AND seq < ? AND ${where.join(' AND ')} ORDER BY seq ${order} LIMIT ?`;
    const stmt = this.statement(sql);
    const first = Math.floor(from / 2 ** DEFAULT_INDEX_BLOCK_BITS);
    const last = Math.floor((to - 1) / 2 ** DEFAULT_INDEX_BLOCK_BITS);
    const step = order === 'ASC' ? 1 : -1;
    for (let b = order === 'ASC' ? first : last; b >= first && b <= last && out.length < limit; b += step) {
      const lo = Math.max(from, b * 2 ** DEFAULT_INDEX_BLOCK_BITS);
      const hi = Math.min(to, (b + 1) * 2 ** DEFAULT_INDEX_BLOCK_BITS);
      for (const r of stmt.all(b, lo, hi, ...args, limit - out.length) as EntryRow[]) out.push(toEntry(r));
    }
    return out;
  }

  private statement(sql: string): Database.Statement {
    let stmt = this.queryCache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.queryCache.set(sql, stmt);
    }
    return stmt;
  }

  byRun(run: string, q: Omit<EntryQuery, 'run'> = {}): LedgerEntry[] {
    return this.query({ ...q, run });
  }

  byAgent(agent: string, q: Omit<EntryQuery, 'agent'> = {}): LedgerEntry[] {
    return this.query({ ...q, agent });
  }

  byType(type: string, q: Omit<EntryQuery, 'type'> = {}): LedgerEntry[] {
    return this.query({ ...q, type });
  }

  /** Entries with fromTs <= ts < toTs. */
  byTimeRange(fromTs: number, toTs: number, q: Omit<EntryQuery, 'fromTs' | 'toTs'> = {}): LedgerEntry[] {
    return this.query({ ...q, fromTs, toTs });
  }

  /** Entries with fromSeq <= seq < toSeq. */
  range(fromSeq: number, toSeq: number): LedgerEntry[] {
    return this.query({ fromSeq, toSeq, limit: Math.max(0, toSeq - fromSeq) });
  }

  /** The last n entries, oldest first. */
  tail(n: number): LedgerEntry[] {
    return this.query({ order: 'desc', limit: n }).reverse();
  }
}
