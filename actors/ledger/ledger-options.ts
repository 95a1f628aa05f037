import type { KeyObject } from 'node:crypto';
import { join, resolve } from 'node:path';
/** Defaults of the audit ledger (one constant per default, unit in the name). */
import type { Clock } from '../../infra/clock/index.ts';
import type { CheckpointSigner } from './checkpoint.ts';

/** Ledger file name inside the data dir. */
export const DEFAULT_LEDGER_FILE = 'ledger.sqlite';
/** Signing key (PKCS#8 PEM, mode 0600) generated inside the data dir when none is configured. */
export const DEFAULT_LEDGER_KEY_FILE = 'ledger-key.pem';
/** Public half of the generated key (SPKI PEM), written beside it. */
export const DEFAULT_LEDGER_PUBLIC_KEY_FILE = 'ledger-key.pub.pem';
/** Where the ledger of a data dir is (the writer's default `db`; the CLI looks there). */
export function defaultLedgerPath(dataDir: string): string {
  return join(resolve(dataDir), DEFAULT_LEDGER_FILE);
}
/** The store signs a checkpoint as soon as this many entries exist past the previous one. */
export const DEFAULT_CHECKPOINT_EVERY_ENTRIES = 1000;
/** While the tree grows the writer signs a head at least this often: the unsigned window is bounded (docs/ledger.md "Trust"). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1_000;
/** Checkpoint origin line and signed-note key name. */
export const DEFAULT_LEDGER_ORIGIN = 'agent-governance.local/ledger';
/**
 * SQLite `synchronous` level. FULL: in WAL mode, NORMAL may lose the last committed transactions on
 * power loss; the writer acks JetStream after commit, so a lost commit would be a lost audit event.
 * FULL costs one fsync per transaction, which batching amortises.
 */
export const DEFAULT_SYNCHRONOUS = 'FULL' as const;
/**
 * SQLite checkpoints the WAL into the database file once it holds this many pages (4 KiB each). Event
 * ids from other publishers may be random keys that dirty index pages all over the file; a larger WAL
 * lets one checkpoint write a page dirtied by many transactions once (SQLite's default is 1000).
 */
export const DEFAULT_WAL_AUTOCHECKPOINT_PAGES = 10_000;
/**
 * SQLite `journal_size_limit`: when a checkpoint lets the WAL start over, a WAL file larger than this
 * is truncated to it. Without it the file keeps its high-water mark for ever (one big batch, or a
 * reader holding a snapshot through many commits, left ~40 MB behind). The WAL's peak stays about
 * {@link DEFAULT_WAL_AUTOCHECKPOINT_PAGES} × 4 KiB while readers let checkpoints complete.
 */
export const DEFAULT_WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;
/**
 * The run, agent and type indexes are ordered by seq block first (`seq >> bits`), then by key: entries
 * of interleaved runs appended together land in the same few index pages instead of one page per
 * run (50 concurrent runs dirtied 50 index pages per commit). A keyed query seeks once per block, so
 * the block trades insert cost against query seeks: 2^10 entries per block is ~10 000 seeks over 10M
 * entries. Changing it changes the schema (the index expression).
 */
export const DEFAULT_INDEX_BLOCK_BITS = 10;
/**
 * tree_nodes holds the leaf hashes (level 0: the verifier authenticates them against a signed root to
 * name the exact row that was tampered with) and the perfect subtrees of this level and above. The
 * levels in between are hashed from at most 2^(level) leaves when a proof asks for them (≤ 14 leaf
 * hashes per proof at 4): storing them cost one more row per leaf on every append.
 */
export const DEFAULT_MIN_STORED_NODE_LEVEL = 4;
/** How long a connection waits on a lock held by another connection. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** Row cap of one query when the caller gives none. */
export const DEFAULT_QUERY_LIMIT_ENTRIES = 1000;

export interface LedgerStoreOptions {
  /** SQLite file, or ':memory:'. */
  path: string;
  /** Checkpoint origin (and signed-note key name). */
  origin?: string;
  /** Signs checkpoints in-process; without one the store cannot {@link LedgerStore.checkpoint}. */
  signer?: CheckpointSigner;
  /**
   * The public key of a signer that lives elsewhere (Vault transit): checkpoints signed there are
   * stored through {@link LedgerStore.addCheckpoint}, which checks them against this key.
   */
  checkpointKey?: KeyObject;
  /** Auto-checkpoint every N entries; 0 disables auto checkpoints. */
  checkpointEveryEntries?: number;
  /** Time source of checkpoint timestamps. */
  clock?: Clock;
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * When a transaction reaches the disk (with `synchronous: 'FULL'`).
   * `'commit'` (default): before `appendBatch` / `checkpoint` return (SQLite FULL: one fsync per transaction).
   * `'deferred'`: appends commit without waiting for the disk (SQLite NORMAL) and are on disk once
   * {@link LedgerStore.sync} resolves (one fsync of the WAL, off the event loop, covers every commit
   * made before it: group commit). Nothing derived from an append (an ack, a published checkpoint, a
   * query answer) may leave the process before that. `checkpoint()` still returns only once on disk.
   */
  durability?: 'commit' | 'deferred';
  walAutocheckpointPages?: number;
  /** Size the WAL file is cut back to once a checkpoint lets it start over; -1 keeps it as large as it grew. */
  walSizeLimitBytes?: number;
  busyTimeoutMs?: number;
  /** Open an existing ledger for reading only. */
  readonly?: boolean;
}

/** Name of the Vault transit key that signs the ledger's checkpoints. */
export const DEFAULT_LEDGER_TRANSIT_KEY = 'agov-ledger';
