/**
 * Full verification of a ledger file, as an auditor with only the file and the public key would do it.
 *
 * 1. Every checkpoint's Ed25519 signature, and that checkpoint sizes never go backwards.
 * 2. The stored leaf hashes (tree_nodes level 0) are AUTHENTICATED when their Merkle root equals the
 *    latest signed root: collision resistance then pins the signed leaf at every position < signed size.
 * 3. Every row, in seq order: seq contiguity; leaf hash recomputed from the canonical body; the body is
 *    canonical and the indexed columns equal its fields; the leaf equals the signed leaf at that position;
 *    the tree root recomputed from the bodies equals the signed root at every checkpoint.
 * 4. The tree_nodes cache against the recomputed tree (proofs are built from it): the leaves and every
 *    stored level (from DEFAULT_MIN_STORED_NODE_LEVEL up).
 *
 * The first bad row is named with what happened to it, by comparing positions with the signed leaves:
 *   row's leaf not signed anywhere, signed leaf for this position absent      → modified
 *   row's leaf not signed anywhere, signed leaf for this position sits later  → inserted
 *   row's leaf signed at another position, signed leaf for this position gone → deleted (rows renumbered)
 *   row's leaf signed at another position, signed leaf for this position elsewhere → reordered
 *   seq gap → deleted; rows fewer than the signed size → deleted (truncated).
 * If the attacker also rewrote tree_nodes, the signed roots still catch it, but only down to the range
 * between two checkpoints (problem 'root-mismatch').
 *
 * Incremental (`from`: a {@link VerifiedHead} an earlier verification returned, kept by the auditor
 * away from the ledger): steps 1–4 only for what came after that head — the checkpoints at or past its
 * size and the rows from its size on, appended to the head's Merkle frontier. Cost O(new entries).
 * What it proves: the ledger is an append-only extension of the head (every later signed root is
 * recomputed over the head's frontier, so a rewritten and re-signed past, a fork or a truncation below
 * the head is caught) and every new row is intact. What it does not re-read: the rows before the head;
 * an edit there that nobody re-signed is caught by a full verification (or by any inclusion proof over
 * that row), not by this one.
 */
import type { KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import { ConfigError, LedgerStoreError, LedgerTamperedError } from '../../protocols/vocabulary/index.ts';
import { decodeEvent } from './canonical.ts';
import { checkpointSignatureProblem, loadPublicKey } from './checkpoint.ts';
import {
  type CheckpointRow,
  type EntryRow,
  LEDGER_TRIGGERS,
  LedgerStore,
  checkpointFromRow,
} from './ledger-store.ts';
import { DEFAULT_MIN_STORED_NODE_LEVEL } from './ledger-options.ts';
import { CompactRange, hashLeaf } from './merkle.ts';
import { type Start, type VerifiedHead, headOf, startOf } from './verified-head.ts';

export type LedgerProblem =
  | 'modified'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'root-mismatch'
  | 'bad-checkpoint'
  | 'node-cache';

export interface LedgerFault {
  /** The first bad position (for 'bad-checkpoint': the checkpoint's size). */
  seq: number;
  problem: LedgerProblem;
  /** One or two sentences: what is wrong and where. */
  detail: string;
  /** The event id of the row at `seq`, when there is one. */
  eventId?: string;
}

export interface LedgerVerification {
  ok: boolean;
  /** Rows in the ledger. */
  size: number;
  /** Size of the latest signed checkpoint. */
  signedSize: number;
  /** Rows past the latest checkpoint: checked for form only, not yet signed. */
  unsignedEntries: number;
  /** Checkpoints whose signature and root both verified. */
  checkedCheckpoints: number;
  /** Root recomputed from the bodies (hex), when every row was read. */
  root?: string;
  firstBad?: LedgerFault;
  /** Facts that are not tampering by themselves (e.g. an append-only trigger is gone). */
  warnings: string[];
  /** Rows read and checked: all of them, or (incremental) those from the head's size on. */
  rowsRead: number;
  /** Incremental: the size of the head the verification started from. */
  fromSize?: number;
  /** When ok: the latest signed tree head verified, to start the next incremental verification from. */
  head?: VerifiedHead;
}

export type { VerifiedHead } from './verified-head.ts';

export interface VerifyOptions {
  /** Verify incrementally from this head (see the module comment); absent: a full verification. */
  from?: VerifiedHead;
  /** Stamps `head.verifiedAt`; defaults to Date.now. */
  now?: () => number;
}

const PAGE_ROWS = 2000;

/**
 * Verifies a whole ledger. Never throws for tampering: the result says what is wrong.
 * @throws LedgerStoreError when the file cannot be read; ConfigError for a bad key
 */
export function verifyLedger(
  target: string | LedgerStore | Database.Database,
  publicKey: string | Buffer | KeyObject,
  opts: VerifyOptions = {},
): LedgerVerification {
  const key = loadPublicKey(publicKey);
  const start = opts.from ? startOf(opts.from, key) : undefined;
  let db: Database.Database;
  let owned = false;
  if (typeof target === 'string') {
    try {
      db = new Database(target, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw new LedgerStoreError(`cannot open ledger ${target}: ${(err as Error).message}`, {
        cause: err,
        retryable: false,
      });
    }
    owned = true;
  } else {
    db = target instanceof LedgerStore ? target.db : target;
  }
  try {
    return new Verifier(db, key, opts.now ?? Date.now).run(start);
  } catch (err) {
    if (err instanceof LedgerStoreError || err instanceof ConfigError) throw err;
    throw new LedgerStoreError(`cannot read ledger: ${(err as Error).message}`, {
      cause: err,
      retryable: false,
    });
  } finally {
    if (owned) db.close();
  }
}

/** verifyLedger, throwing LedgerTamperedError (details = firstBad) when the ledger is not intact. */
export function assertLedgerIntact(
  target: string | LedgerStore | Database.Database,
  publicKey: string | Buffer | KeyObject,
): LedgerVerification {
  const v = verifyLedger(target, publicKey);
  if (!v.ok && v.firstBad) {
    const f = v.firstBad;
    throw new LedgerTamperedError(`ledger tampered at seq ${f.seq} (${f.problem}): ${f.detail}`, {
      details: { ...f },
    });
  }
  return v;
}

interface Recomputed {
  leaf: Buffer;
  problem?: string;
}

/** Leaf hash from the body, and the first way the row disagrees with itself. */
export function recomputeRow(row: EntryRow): Recomputed {
  const leaf = hashLeaf(row.body);
  let ev: ReturnType<typeof decodeEvent>;
  try {
    ev = decodeEvent(row.body);
  } catch (err) {
    return { leaf, problem: `the body is not a canonical event (${(err as Error).message})` };
  }
  const cols: [string, unknown, unknown][] = [
    ['event_id', row.event_id, ev.id],
    ['ts', row.ts, ev.ts],
    ['type', row.type, ev.type],
    ['actor', row.actor, ev.actor],
    ['run', row.run, ev.run ?? null],
    ['agent', row.agent, ev.agent ?? null],
  ];
  for (const [name, actual, expected] of cols) {
    if (actual !== expected) {
      return {
        leaf,
        problem: `column ${name} is ${JSON.stringify(actual)} but the hashed body says ${JSON.stringify(expected)}`,
      };
    }
  }
  if (!Buffer.isBuffer(row.leaf_hash) || !leaf.equals(row.leaf_hash)) {
    return {
      leaf,
      problem: 'the stored leaf_hash is not SHA-256(0x00 || body): the body or the leaf hash was rewritten',
    };
  }
  return { leaf };
}

const short = (h: Buffer): string => h.toString('hex').slice(0, 16);

class Verifier {
  private readonly warnings: string[] = [];
  private checked = 0;
  private signedSize = 0;
  private rowsSeen = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly key: KeyObject,
    private readonly now: () => number,
  ) {}

  private start: Start | undefined;
  private head: VerifiedHead | undefined;

  run(start?: Start): LedgerVerification {
    this.start = start;
    const triggers = new Set(
      this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").pluck().all() as string[],
    );
    for (const t of LEDGER_TRIGGERS) {
      if (!triggers.has(t)) this.warnings.push(`append-only trigger ${t} is missing (someone dropped it)`);
    }
    // Incremental: only the checkpoints at or past the head (the one at its size pins the past).
    const cps = (
      start
        ? this.db.prepare('SELECT * FROM checkpoints WHERE size >= ? ORDER BY id').all(start.head.size)
        : this.db.prepare('SELECT * FROM checkpoints ORDER BY id').all()
    ) as CheckpointRow[];
    let prev: CheckpointRow | undefined;
    for (const r of cps) {
      const p = checkpointSignatureProblem(checkpointFromRow(r), this.key);
      if (p)
        return this.fail({
          seq: r.size,
          problem: 'bad-checkpoint',
          detail: `checkpoint #${r.id} (size ${r.size}): ${p}`,
        });
      if (prev && r.size < prev.size) {
        return this.fail({
          seq: r.size,
          problem: 'bad-checkpoint',
          detail: `checkpoint #${r.id} signs size ${r.size}, smaller than size ${prev.size} of checkpoint #${prev.id}`,
        });
      }
      prev = r;
    }
    const latest = cps.at(-1);
    this.signedSize = Math.max(latest?.size ?? 0, start?.head.size ?? 0);
    if (start) {
      const top = this.db.prepare('SELECT MAX(seq) FROM entries').pluck().get() as number | null;
      const rows = top === null ? 0 : top + 1;
      if (rows < start.head.size) {
        return this.fail({
          seq: rows,
          problem: 'deleted',
          detail: `the ledger ends at seq ${rows - 1}, but the head verified earlier covers ${start.head.size} entries: seq ${rows}..${start.head.size - 1} were deleted (truncated)`,
        });
      }
      this.head = start.head;
      return this.walk(cps, undefined, start);
    }
    const auth = latest ? this.authenticLeaves(latest) : undefined;
    if (latest && !auth) {
      this.warnings.push(
        'tree_nodes do not reproduce the latest signed root: faults can be located only between checkpoints',
      );
    }
    return this.walk(cps, auth);
  }

  /** Level-0 tree nodes [0, size) if they hash to the checkpoint's signed root. */
  private authenticLeaves(cp: CheckpointRow): Buffer[] | undefined {
    const rows = this.db
      .prepare('SELECT idx, hash FROM tree_nodes WHERE level = 0 AND idx < ? ORDER BY idx')
      .all(cp.size) as { idx: number; hash: Buffer }[];
    if (rows.length !== cp.size) return undefined;
    const range = CompactRange.empty();
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (r.idx !== i || !Buffer.isBuffer(r.hash) || r.hash.length !== 32) return undefined;
      range.append(r.hash);
    }
    return range.root().equals(cp.root) ? rows.map((r) => r.hash) : undefined;
  }

  private walk(cps: CheckpointRow[], auth: Buffer[] | undefined, start?: Start): LedgerVerification {
    const page = this.db.prepare('SELECT * FROM entries WHERE seq > ? ORDER BY seq LIMIT ?');
    const getNode = this.db.prepare('SELECT hash FROM tree_nodes WHERE level = ? AND idx = ?');
    const S = this.signedSize;
    const range = start ? start.range.clone() : CompactRange.empty();
    let cpIdx = 0;
    let lastGood = start?.head.size ?? 0;
    let pos = start?.head.size ?? 0;
    let nodeFault: LedgerFault | undefined;

    const checkCheckpoints = (): LedgerFault | undefined => {
      while (cpIdx < cps.length && cps[cpIdx]!.size === pos) {
        const cp = cps[cpIdx++]!;
        const root = range.root();
        if (!root.equals(cp.root) && start && cp.size === start.head.size) {
          return {
            seq: cp.size,
            problem: 'root-mismatch',
            detail:
              `checkpoint #${cp.id} signs root ${short(cp.root)}… for size ${cp.size}, but the head verified earlier at that size ` +
              `has root ${start.head.root.slice(0, 16)}…: the history before seq ${cp.size} was rewritten and re-signed, or the log forked`,
          };
        }
        if (!root.equals(cp.root)) {
          return {
            seq: lastGood,
            problem: 'root-mismatch',
            detail:
              `checkpoint #${cp.id} signs root ${short(cp.root)}… for size ${cp.size}, but the bodies of seq 0..${cp.size - 1} ` +
              `hash to ${short(root)}…; the altered row lies in seq ${lastGood}..${cp.size - 1}`,
          };
        }
        this.checked++;
        lastGood = cp.size;
        if (cpIdx === cps.length) this.head = headOf(this.key, cp, range, this.now());
      }
      return undefined;
    };

    let after = pos - 1;
    for (;;) {
      const rows = page.all(after, PAGE_ROWS) as EntryRow[];
      if (rows.length === 0) break;
      for (const row of rows) {
        after = row.seq;
        this.rowsSeen++;
        const cpFault = checkCheckpoints();
        if (cpFault) return this.fail(cpFault);
        if (row.seq !== pos) {
          if (row.seq > pos) {
            const signed = auth?.[pos];
            return this.fail({
              seq: pos,
              problem: 'deleted',
              detail:
                `seq ${pos} is missing: the rows jump from ${pos - 1} to ${row.seq}` +
                (signed ? ` (the signed leaf at ${pos} is ${short(signed)}…)` : ''),
            });
          }
          return this.fail({
            seq: row.seq,
            problem: 'inserted',
            eventId: row.event_id,
            detail: `row with seq ${row.seq} is outside the ledger's positions (expected ${pos})`,
          });
        }
        const rec = recomputeRow(row);
        if (auth && pos < S && !rec.leaf.equals(auth[pos]!)) {
          return this.fail(this.classify(pos, row, rec, auth));
        }
        if (rec.problem) {
          return this.fail({
            seq: pos,
            problem: 'modified',
            eventId: row.event_id,
            detail: `seq ${pos} (event ${row.event_id}): ${rec.problem}`,
          });
        }
        const completed = range.append(rec.leaf); // always: the range must take every leaf
        nodeFault ??= this.nodeFault(completed, pos, row, getNode);
        pos++;
      }
    }
    const cpFault = checkCheckpoints();
    if (cpFault) return this.fail(cpFault);
    if (pos < S) {
      return this.fail({
        seq: pos,
        problem: 'deleted',
        detail: `the latest checkpoint signs ${S} entries but the ledger ends at seq ${pos - 1}: seq ${pos}..${S - 1} were deleted`,
      });
    }
    if (nodeFault) return this.fail(nodeFault);
    return {
      ok: true,
      size: pos,
      signedSize: S,
      unsignedEntries: pos - S,
      checkedCheckpoints: this.checked,
      root: range.root().toString('hex'),
      warnings: this.warnings,
      rowsRead: this.rowsSeen,
      ...(start ? { fromSize: start.head.size } : {}),
      ...(this.head ? { head: this.head } : {}),
    };
  }

  /**
   * The first tree node that appending the row at `pos` completed and that `tree_nodes` does not hold
   * as recomputed (levels between the leaves and DEFAULT_MIN_STORED_NODE_LEVEL are not stored).
   */
  private nodeFault(
    completed: { level: number; index: number; hash: Buffer }[],
    pos: number,
    row: EntryRow,
    getNode: Database.Statement,
  ): LedgerFault | undefined {
    for (const c of completed) {
      // Not stored: hashed from the (checked) leaves when a proof needs them.
      if (c.level > 0 && c.level < DEFAULT_MIN_STORED_NODE_LEVEL) continue;
      const stored = getNode.get(c.level, c.index) as { hash: Buffer } | undefined;
      if (stored && Buffer.isBuffer(stored.hash) && stored.hash.equals(c.hash)) continue;
      if (c.level === 0 && !stored && pos >= this.signedSize) {
        return {
          seq: pos,
          problem: 'inserted',
          eventId: row.event_id,
          detail: `seq ${pos} (event ${row.event_id}) has no tree node: it was written into the file, not appended through the ledger`,
        };
      }
      return {
        seq: c.index * 2 ** c.level,
        problem: 'node-cache',
        detail: `tree node (level ${c.level}, index ${c.index}) is ${stored ? 'wrong' : 'missing'}; proofs over seq ${c.index * 2 ** c.level}.. would not verify`,
      };
    }
    return undefined;
  }

  /** Names what happened at position p, whose row does not carry the signed leaf. */
  private classify(p: number, row: EntryRow, rec: Recomputed, auth: Buffer[]): LedgerFault {
    const signedAt = new Map<string, number>();
    auth.forEach((h, i) => {
      if (!signedAt.has(h.toString('hex'))) signedAt.set(h.toString('hex'), i);
    });
    const rowsAt = new Map<string, { seq: number; id: string }>();
    let after = -1;
    const page = this.db.prepare(
      'SELECT seq, event_id, body FROM entries WHERE seq > ? ORDER BY seq LIMIT ?',
    );
    for (;;) {
      const rows = page.all(after, PAGE_ROWS) as Pick<EntryRow, 'seq' | 'event_id' | 'body'>[];
      if (rows.length === 0) break;
      for (const r of rows) {
        after = r.seq;
        const k = hashLeaf(r.body).toString('hex');
        if (!rowsAt.has(k)) rowsAt.set(k, { seq: r.seq, id: r.event_id });
      }
    }
    const here = signedAt.get(rec.leaf.toString('hex'));
    const expected = auth[p]!;
    const moved = rowsAt.get(expected.toString('hex'));
    const ev = row.event_id;
    const base = { seq: p, eventId: ev };
    if (here === undefined && moved === undefined) {
      return {
        ...base,
        problem: 'modified',
        detail:
          `seq ${p} (event ${ev}) is not the entry signed at this position` +
          (rec.problem ? `: ${rec.problem}` : ': its body was rewritten (and its leaf hash recomputed)'),
      };
    }
    if (here === undefined) {
      return {
        ...base,
        problem: 'inserted',
        detail: `seq ${p} (event ${ev}) was never signed: it was inserted, and the entry signed at seq ${p} (event ${moved!.id}) now sits at seq ${moved!.seq}`,
      };
    }
    if (moved === undefined) {
      return {
        ...base,
        problem: 'deleted',
        detail: `the entry signed at seq ${p} (leaf ${short(expected)}…) is gone; seq ${p} now holds event ${ev}, which was signed at seq ${here}, so later rows were renumbered`,
      };
    }
    return {
      ...base,
      problem: 'reordered',
      detail: `seq ${p} holds event ${ev}, which was signed at seq ${here}; the entry signed at seq ${p} (event ${moved.id}) sits at seq ${moved.seq}`,
    };
  }

  private fail(f: LedgerFault): LedgerVerification {
    // Incremental: no O(n) count (the rows' positions are what the fault is about anyway).
    const size = this.start
      ? ((this.db.prepare('SELECT MAX(seq) FROM entries').pluck().get() as number | null) ?? -1) + 1
      : ((this.db.prepare('SELECT COUNT(*) FROM entries').pluck().get() as number) ?? this.rowsSeen);
    return {
      ok: false,
      size,
      signedSize: this.signedSize,
      unsignedEntries: Math.max(0, size - this.signedSize),
      checkedCheckpoints: this.checked,
      firstBad: f,
      warnings: this.warnings,
      rowsRead: this.rowsSeen,
      ...(this.start ? { fromSize: this.start.head.size } : {}),
    };
  }
}
