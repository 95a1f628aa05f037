/**
 * The transactional outbox for audit events, shared by every producer whose persisted state implies
 * audit events (token authority, budget monitor, agents, the checkpoint actor). The orchestrator keeps
 * the same contract in its own batched form (actors/orchestrator/run-driver.ts: the run record is the
 * outbox).
 *
 * The contract, which makes every event implied by stored state reach the ledger exactly once even
 * when the producer is SIGKILLed between its write and its publish:
 * 1. `prepare` gives the event its envelope, and so its id, before the state write that implies it;
 * 2. the producer stores the prepared entries in the same write as that state (a Redis MULTI or Lua
 *    script, one JSON document, one KV put: whatever its store makes atomic), and lists their ids in the
 *    state itself (`auditIds`), so anyone can tell which events a stored state implies;
 * 3. once that write is stored, `send` publishes them (the JSON feed, then the AUDIT stream on
 *    `gov.audit.<category>.<principal>` with the envelope id as `Nats-Msg-Id`); an acknowledged entry is removed from the store (`OutboxStore.remove`),
 *    a failed publish is retried every `retryMs` until acknowledged;
 * 4. at start, `recover` publishes again whatever the store still holds, under the same ids: the
 *    stream's duplicate window and the ledger's unique event ids keep each event once.
 */
import type { Bus } from '../../bus/bus.ts';
import type { Clock, TimerHandle } from '../../infra/clock/clock.ts';
import type { Logger } from '../../infra/logger.ts';
import type { AnyEnvelope, OutMessage } from '../../protocols/envelope.ts';
import { toGovError } from '../../protocols/vocabulary/errors.ts';
import { auditSubject } from '../../protocols/subjects.ts';

/** Wait for an audit publish's ack; a loaded machine may take seconds. */
export const DEFAULT_OUTBOX_ACK_TIMEOUT_MS = 30_000;
/** Pause before an unacknowledged publish is tried again. */
export const DEFAULT_OUTBOX_RETRY_MS = 2_000;
/** How many of its latest audit event ids a document keeps (`auditIds`, DocumentOutbox). */
export const DEFAULT_OUTBOX_KEEP_IDS = 64;

/** One audit event waiting in an outbox: its envelope (id fixed before the write) and where it goes. */
export interface OutboxEntry {
  /** `gov.audit.<category>`. */
  category: string;
  /**
   * `gov.audit.<category>.<principal>` instead, for a producer the broker lets publish only under its
   * own name (an agent: `agent-<id>`); the ledger records it as the entry's verified sender.
   */
  principal?: string;
  /** Feed tokens (`gov.obs.<tokens>`) when the event is on the JSON feed too. */
  feed?: [string, ...string[]];
  env: AnyEnvelope;
}

/** Where a producer keeps its outbox: written by the producer in its state's transaction. */
export interface OutboxStore {
  /** Every entry stored and not removed yet (read at start). */
  load(): Promise<OutboxEntry[]>;
  /** Drops entries the audit stream acknowledged. */
  remove(ids: readonly string[]): Promise<void>;
}

export interface AuditOutboxOptions {
  log: Logger;
  clock: Clock;
  /** Metric prefix, e.g. `token.outbox`: `<prefix>.republished`, `<prefix>.failed`. */
  metric: string;
  ackTimeoutMs?: number;
  retryMs?: number;
}

/** Parses a stored entry; throws on anything else (a store holds only what `serializeEntry` wrote). */
export function parseEntry(raw: string): OutboxEntry {
  const e = JSON.parse(raw) as OutboxEntry;
  if (typeof e?.category !== 'string' || typeof e.env?.id !== 'string' || typeof e.env.type !== 'string')
    throw new Error('not an outbox entry');
  return e;
}

export const serializeEntry = (e: OutboxEntry): string => JSON.stringify(e);

export class AuditOutbox {
  /** Entries sent and not acknowledged yet, by envelope id. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, TimerHandle>();
  private closed = false;

  constructor(
    private readonly bus: Bus,
    private readonly store: OutboxStore,
    private readonly opts: AuditOutboxOptions,
  ) {}

  /** The envelope of an event whose state is about to be stored: its id is fixed now. */
  prepare(category: string, msg: OutMessage, feed?: [string, ...string[]]): OutboxEntry {
    const env = this.bus.wrap(msg);
    return feed ? { category, feed, env } : { category, env };
  }

  /**
   * Publishes entries whose write is stored; resolves once each is acknowledged (or handed to the
   * retry timer: it stays in the store meanwhile). Never rejects.
   */
  send(entries: readonly OutboxEntry[]): Promise<void> {
    return Promise.all(entries.map((e) => this.sendOne(e, true))).then(() => undefined);
  }

  /** Publishes again what the store still holds (a crash came between a write and its acks). */
  async recover(): Promise<number> {
    const entries = await this.store.load();
    if (entries.length > 0) {
      this.bus.metrics.inc(`${this.opts.metric}.republished`, entries.length);
      this.opts.log.info('republishing audit events a crash left in the outbox', { count: entries.length });
    }
    // Feed copies of old events would be news to nobody: the audit stream is what must hold them.
    for (const e of entries) void this.sendOne(e, false);
    return entries.length;
  }

  /** Resolves once every publish started so far is acknowledged or waiting for a retry. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()]);
  }

  /** Stops retrying (a stop): what is unacknowledged stays in the store for the next start. */
  close(): void {
    this.closed = true;
    for (const t of this.retries.values()) this.opts.clock.clear(t);
    this.retries.clear();
  }

  private sendOne(e: OutboxEntry, withFeed: boolean): Promise<void> {
    const id = e.env.id;
    const running = this.inFlight.get(id);
    if (running) return running;
    const p = this.publish(e, withFeed).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, p);
    return p;
  }

  private async publish(e: OutboxEntry, withFeed: boolean): Promise<void> {
    try {
      if (withFeed && e.feed) this.bus.publishFeed(e.feed, e.env);
      await this.bus.publishDurable(auditSubject(e.category, e.principal ?? this.bus.principal()), e.env, {
        timeoutMs: this.opts.ackTimeoutMs ?? DEFAULT_OUTBOX_ACK_TIMEOUT_MS,
      });
      await this.store.remove([e.env.id]);
    } catch (err) {
      this.bus.metrics.inc(`${this.opts.metric}.failed`);
      this.opts.log.warn('audit publish failed; kept in the outbox and retried', {
        type: e.env.type,
        id: e.env.id,
        error: toGovError(err).message,
      });
      if (this.closed || this.retries.has(e.env.id)) return;
      const t = this.opts.clock.setTimeout(() => {
        this.retries.delete(e.env.id);
        if (!this.closed) void this.sendOne(e, false);
      }, this.opts.retryMs ?? DEFAULT_OUTBOX_RETRY_MS);
      this.retries.set(e.env.id, t);
    }
  }
}

/**
 * An outbox kept in a Redis hash (`key`: envelope id → entry JSON). Producers add entries to the
 * transaction that stores their state (`HSET key id json` in their MULTI or script, see `fields`).
 */
export class RedisOutboxStore implements OutboxStore {
  constructor(
    private readonly redis: {
      hgetall(key: string): Promise<Record<string, string>>;
      hdel(key: string, ...fields: string[]): Promise<number>;
    },
    readonly key: string,
  ) {}

  /** `[id, json, id, json, …]` for an HSET of `key` in the producer's own transaction. */
  static fields(entries: readonly OutboxEntry[]): string[] {
    return entries.flatMap((e) => [e.env.id, serializeEntry(e)]);
  }

  async load(): Promise<OutboxEntry[]> {
    const h = await this.redis.hgetall(this.key);
    const out: OutboxEntry[] = [];
    for (const raw of Object.values(h)) {
      try {
        out.push(parseEntry(raw));
      } catch {
        // not ours: left alone
      }
    }
    return out.sort((a, b) => a.env.ts - b.env.ts);
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.hdel(this.key, ...ids);
  }
}

/** The outbox key of one producer instance: `<prefix>:outbox:<kind>:<id>`. */
export function outboxKey(prefix: string, kind: string, id: string): string {
  return `${prefix}:outbox:${kind}:${id}`;
}

/**
 * An outbox kept inside the producer's own stored document (one JSON value: a write of the document is
 * the transaction). The producer adds entries, stores `document()` with its state, then sends what
 * that write made stored (`takeUnstored`, taken when the document was built). Acknowledged entries
 * leave the document with its next write; until then a restart republishes them (stored once anyway).
 * The document also lists the ids of its latest `keepIds` audit events (`auditIds`): the events its
 * state implies, for anyone checking that they reached the ledger.
 */
export class DocumentOutbox implements OutboxStore {
  private entries: OutboxEntry[] = [];
  private unstored: OutboxEntry[] = [];
  private ids: string[] = [];

  constructor(private readonly keepIds = DEFAULT_OUTBOX_KEEP_IDS) {}

  /** Takes over what a loaded document holds. */
  restore(doc: { outbox?: OutboxEntry[]; auditIds?: string[] }): void {
    this.entries = [...(doc.outbox ?? [])];
    this.ids = [...(doc.auditIds ?? [])];
  }

  add(entry: OutboxEntry): void {
    this.entries.push(entry);
    this.unstored.push(entry);
    this.ids.push(entry.env.id);
    if (this.ids.length > this.keepIds) this.ids.splice(0, this.ids.length - this.keepIds);
  }

  /** Whether entries wait for a write of the document. */
  get hasUnstored(): boolean {
    return this.unstored.length > 0;
  }

  /** The outbox fields of the document about to be written. */
  document(): { outbox: OutboxEntry[]; auditIds: string[] } {
    return { outbox: [...this.entries], auditIds: [...this.ids] };
  }

  /** The entries the write being made stores for the first time (send them once it is stored). */
  takeUnstored(): OutboxEntry[] {
    const out = this.unstored;
    this.unstored = [];
    return out;
  }

  /** A write failed: its entries wait for the next one. */
  requeue(entries: readonly OutboxEntry[]): void {
    this.unstored = [...entries, ...this.unstored];
  }

  async load(): Promise<OutboxEntry[]> {
    return [...this.entries];
  }

  async remove(ids: readonly string[]): Promise<void> {
    const gone = new Set(ids);
    this.entries = this.entries.filter((e) => !gone.has(e.env.id));
  }
}
