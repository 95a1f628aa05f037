/**
 * A witness's own store: one SQLite file per witness, in the witness's directory (never the ledger's
 * file): what it cosigned, and every alarm it raised. Append-only by triggers, like the ledger.
 */
import Database from 'better-sqlite3';
import { formatSignedCheckpoint, parseSignedCheckpoint, type SignedCheckpoint } from '../ledger/reader.ts';
import { LedgerStoreError } from '../../protocols/vocabulary/index.ts';
import type { Cosignature } from './cosignature.ts';
import type { RefusalReason, WitnessState } from './witness-logic.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cosigned (
  size INTEGER PRIMARY KEY, root BLOB NOT NULL, checkpoint TEXT NOT NULL,
  time INTEGER NOT NULL, key_id TEXT NOT NULL, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, checkpoint TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS cosigned_no_update BEFORE UPDATE ON cosigned BEGIN SELECT RAISE(ABORT, 'witness store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS cosigned_no_delete BEFORE DELETE ON cosigned BEGIN SELECT RAISE(ABORT, 'witness store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS alarms_no_update BEFORE UPDATE ON alarms BEGIN SELECT RAISE(ABORT, 'witness store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS alarms_no_delete BEFORE DELETE ON alarms BEGIN SELECT RAISE(ABORT, 'witness store is append-only'); END;
`;

export interface WitnessedCheckpoint {
  checkpoint: SignedCheckpoint;
  cosignature: Cosignature;
}

export interface WitnessAlarm {
  ts: number;
  reason: RefusalReason;
  detail: string;
  /** The refused signed note. */
  checkpoint: string;
}

interface CosignedRow {
  size: number;
  root: Buffer;
  checkpoint: string;
  time: number;
  key_id: string;
  signature: Buffer;
}

export class WitnessStore {
  private constructor(
    private readonly db: Database.Database,
    readonly witness: string,
  ) {}

  /** Opens (creating unless readonly) the store of the witness `witness` for ledger `origin`. */
  static open(
    path: string,
    opts: { witness: string; origin?: string; publicKeyPem?: string; readonly?: boolean },
  ): WitnessStore {
    const db = new Database(path, opts.readonly ? { readonly: true, fileMustExist: true } : {});
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(SCHEMA);
      const insert = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
      insert.run('witness', opts.witness);
      if (opts.origin) insert.run('origin', opts.origin);
      if (opts.publicKeyPem) insert.run('publicKey', opts.publicKeyPem);
    }
    const stored = (
      db.prepare("SELECT value FROM meta WHERE key = 'witness'").get() as { value: string } | undefined
    )?.value;
    if (stored && stored !== opts.witness) {
      db.close();
      throw new LedgerStoreError(
        `witness store ${path} belongs to witness "${stored}", not "${opts.witness}"`,
        {
          retryable: false,
        },
      );
    }
    return new WitnessStore(db, opts.witness);
  }

  /** Opens a store read-only, whatever witness it belongs to (for verifiers). */
  static openForReading(path: string): WitnessStore {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    const witness = (
      db.prepare("SELECT value FROM meta WHERE key = 'witness'").get() as { value: string } | undefined
    )?.value;
    if (!witness) {
      db.close();
      throw new LedgerStoreError(`${path} is not a witness store`, { retryable: false });
    }
    return new WitnessStore(db, witness);
  }

  get origin(): string | undefined {
    return (
      this.db.prepare("SELECT value FROM meta WHERE key = 'origin'").get() as { value: string } | undefined
    )?.value;
  }

  /** The witness's public key (SPKI PEM), as recorded when the store was made. */
  get publicKeyPem(): string | undefined {
    return this.meta('publicKey');
  }

  /** A meta value (`witness`, `origin`, `publicKey`, `ledgerKey`). */
  meta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  }

  /** Records a meta value once; an existing value is kept and returned. */
  pinMeta(key: string, value: string): string {
    this.db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(key, value);
    return this.meta(key)!;
  }

  state(origin: string): WitnessState {
    const last = this.db.prepare('SELECT size, root FROM cosigned ORDER BY size DESC LIMIT 1').get() as
      | { size: number; root: Buffer }
      | undefined;
    return { origin, size: last?.size ?? 0, root: last?.root };
  }

  recordCosigned(sc: SignedCheckpoint, cs: Cosignature): void {
    this.db
      .prepare(
        'INSERT INTO cosigned (size, root, checkpoint, time, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(sc.size, sc.root, formatSignedCheckpoint(sc), cs.time, cs.keyId, cs.signature);
  }

  recordAlarm(alarm: WitnessAlarm): void {
    this.db
      .prepare('INSERT INTO alarms (ts, reason, detail, checkpoint) VALUES (?, ?, ?, ?)')
      .run(alarm.ts, alarm.reason, alarm.detail, alarm.checkpoint);
  }

  cosignedAt(size: number): WitnessedCheckpoint | undefined {
    const r = this.db.prepare('SELECT * FROM cosigned WHERE size = ?').get(size) as CosignedRow | undefined;
    return r ? this.toWitnessed(r) : undefined;
  }

  latest(): WitnessedCheckpoint | undefined {
    const r = this.db.prepare('SELECT * FROM cosigned ORDER BY size DESC LIMIT 1').get() as
      | CosignedRow
      | undefined;
    return r ? this.toWitnessed(r) : undefined;
  }

  /** Every cosigned checkpoint, smallest first. */
  all(): WitnessedCheckpoint[] {
    return (this.db.prepare('SELECT * FROM cosigned ORDER BY size').all() as CosignedRow[]).map((r) =>
      this.toWitnessed(r),
    );
  }

  alarms(): WitnessAlarm[] {
    return this.db
      .prepare('SELECT ts, reason, detail, checkpoint FROM alarms ORDER BY id')
      .all() as WitnessAlarm[];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private toWitnessed(r: CosignedRow): WitnessedCheckpoint {
    return {
      checkpoint: parseSignedCheckpoint(r.checkpoint),
      cosignature: { witness: this.witness, keyId: r.key_id, time: r.time, signature: r.signature },
    };
  }
}
