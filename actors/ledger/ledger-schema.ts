/**
 * The ledger file's schema (tables, indexes, append-only triggers) and its prepared statements.
 */
import type Database from 'better-sqlite3';
import { DEFAULT_INDEX_BLOCK_BITS } from './ledger-options.ts';

/**
 * 2: run/agent/type indexes ordered by seq block ({@link DEFAULT_INDEX_BLOCK_BITS}); tree_nodes without
 * the levels between the leaves and {@link DEFAULT_MIN_STORED_NODE_LEVEL}.
 */
export const LEDGER_SCHEMA_VERSION = 2;

export const BLOCK = `seq >> ${DEFAULT_INDEX_BLOCK_BITS}`;

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

export function prepareStatements(db: Database.Database) {
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
    // Both O(log n) on their primary keys: opening a ledger never counts its rows.
    bounds: db.prepare<[], { low: number | null; top: number | null }>(
      'SELECT (SELECT MIN(seq) FROM entries) AS low, (SELECT MAX(seq) FROM entries) AS top',
    ),
    leafTop: db.prepare<[], { top: number | null }>('SELECT MAX(idx) AS top FROM tree_nodes WHERE level = 0'),
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

export type LedgerStatements = ReturnType<typeof prepareStatements>;
