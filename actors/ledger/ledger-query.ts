/**
 * Entry queries over the ledger file: filters AND together; a query by run, agent or type walks the
 * seq blocks its index is ordered by.
 */
import type Database from 'better-sqlite3';
import { type EntryQuery, type LedgerEntry, toEntry } from './ledger-entry.ts';
import { DEFAULT_INDEX_BLOCK_BITS, DEFAULT_QUERY_LIMIT_ENTRIES } from './ledger-options.ts';
import { BLOCK, type EntryRow } from './ledger-schema.ts';

/** Prepared query statements, by SQL text (a query shape is prepared once). */
export class EntryQueries {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    /** The highest seq, or null when the ledger is empty. */
    private readonly top: () => number | null | undefined,
  ) {}

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
    const top = this.top();
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
    let stmt = this.cache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.cache.set(sql, stmt);
    }
    return stmt;
  }
}
