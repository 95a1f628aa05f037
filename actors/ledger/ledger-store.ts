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
import Database from 'better-sqlite3';
import { type Clock, systemClock } from '../../infra/clock/index.ts';
import {
  ConfigError,
  InvalidMessageError,
  LedgerStoreError,
  LedgerTamperedError,
} from '../../protocols/vocabulary/index.ts';
import { type AuditEvent, encodeEventText } from './canonical.ts';
import {
  type Checkpoint,
  type CheckpointSigner,
  checkpointSignatureProblem,
  type SignedCheckpoint,
} from './checkpoint.ts';
import {
  type AppendResult,
  checkpointFromRow,
  type DuplicateEvent,
  type EntryQuery,
  type LedgerEntry,
  toEntry,
} from './ledger-entry.ts';
import {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_CHECKPOINT_EVERY_ENTRIES,
  DEFAULT_LEDGER_ORIGIN,
  DEFAULT_MIN_STORED_NODE_LEVEL,
  DEFAULT_SYNCHRONOUS,
  DEFAULT_WAL_AUTOCHECKPOINT_PAGES,
  DEFAULT_WAL_SIZE_LIMIT_BYTES,
  type LedgerStoreOptions,
} from './ledger-options.ts';
import { EntryQueries } from './ledger-query.ts';
import {
  LEDGER_SCHEMA_SQL,
  LEDGER_SCHEMA_VERSION,
  type LedgerStatements,
  prepareStatements,
} from './ledger-schema.ts';
import { CompactRange, type NodeReader, leafOfText, treeHead } from './merkle.ts';
import { isDeferred, storeError, WalSync } from './wal-sync.ts';

export {
  type AppendResult,
  checkpointFromRow,
  type DuplicateEvent,
  type EntryQuery,
  type EntryView,
  entryView,
  type LedgerEntry,
} from './ledger-entry.ts';
export {
  type CheckpointRow,
  type EntryRow,
  LEDGER_SCHEMA_SQL,
  LEDGER_SCHEMA_VERSION,
  LEDGER_TRIGGERS,
} from './ledger-schema.ts';

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
  private readonly stmts: LedgerStatements;
  private readonly queries: EntryQueries;
  /** Durability 'deferred': commits reach the disk through {@link sync}. */
  private readonly wal: WalSync;

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
    this.wal = new WalSync(opts.path, isDeferred(opts));
    this.stmts = prepareStatements(db);
    this.queries = new EntryQueries(db, () => this.stmts.top.get()?.top);
    // O(log n) sanity checks, not a proof (verifyLedger is): rows start at 0 and end where the tree does.
    const { low, top } = this.stmts.bounds.get()!;
    const leafTop = this.stmts.leafTop.get()?.top ?? null;
    if ((top !== null && low !== 0) || top !== leafTop) {
      throw new LedgerTamperedError(
        `ledger ${this.path}: entries span seq ${low ?? '-'}..${top ?? '-'} but the tree's leaves end at ${leafTop ?? '-'}; run verifyLedger`,
      );
    }
    const n = top === null ? 0 : top + 1;
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
        db.pragma(`journal_size_limit = ${opts.walSizeLimitBytes ?? DEFAULT_WAL_SIZE_LIMIT_BYTES}`);
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
    this.wal.close();
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

  private committed(): void {
    this.wal.committed();
  }

  /** True while some commit is not known to be on disk (durability 'deferred'). */
  get unsynced(): boolean {
    return this.wal.unsynced;
  }

  /**
   * Durability 'deferred': resolves once every transaction committed before the call is on disk (an
   * fsync of the WAL in the thread pool; commits made meanwhile join the next fsync). Resolves at
   * once otherwise. Rejects with LedgerStoreError when the fsync fails.
   */
  sync(): Promise<void> {
    return this.wal.sync();
  }

  /** {@link sync}, blocking: every commit so far is on disk when it returns. */
  syncNow(): void {
    this.wal.syncNow();
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
    return this.queries.query(q);
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
