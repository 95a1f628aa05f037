/**
 * What the ledger store hands out: entries (stored and viewed), append results, queries, and the
 * decoding of stored rows.
 */
import { type AuditEvent, type JsonObject, decodeEvent } from './canonical.ts';
import type { SignedCheckpoint } from './checkpoint.ts';
import type { CheckpointRow, EntryRow } from './ledger-schema.ts';

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
    ...(e.sender !== undefined ? { sender: e.sender } : {}),
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

export function toEntry(r: EntryRow): LedgerEntry {
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
  if (e.sender !== undefined) out.sender = e.sender;
  return out;
}
