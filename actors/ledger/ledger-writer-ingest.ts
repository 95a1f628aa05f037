/**
 * The ledger writer's consumption of the AUDIT stream: messages delivered together (one socket read,
 * at most `batchMaxEntries`) are decoded, mapped to audit events and appended in ONE transaction; each
 * message is acked only once that commit is on disk (group commit: one fsync of the WAL, off the event
 * loop, covers every batch committed before it; messages arriving meanwhile form the next batch). An
 * undecodable or invalid message is dead-lettered and terminated, and the rest of its batch still
 * commits. A storage failure naks the batch (JetStream redelivers it) and crashes the actor.
 *
 * An agent's audit event (`gov.audit.agent.agent-<id>`, where only that agent may publish) whose body names
 * another agent is a forgery: recorded as `identity.refused.v1` (same entry id, the verified sender,
 * what the body claimed), never as the event it pretends to be, and published on the feed.
 */
import type { Bus, JsMsg } from '../../bus/index.ts';
import type { Logger } from '../../infra/index.ts';
import {
  type AnyEnvelope,
  auditSenderOf,
  feedToken,
  forgedAgentAudit,
  GovError,
  InvalidMessageError,
  LedgerStoreError,
} from '../../protocols/index.ts';
import { auditEventFromEnvelope } from './audit-event-mapping.ts';
import type { AuditEvent } from './canonical.ts';
import type { Checkpointer } from './checkpointer.ts';
import type { AppendResult } from './ledger-entry.ts';
import type { LedgerStore } from './ledger-store.ts';
import type { LedgerWriterSettings } from './ledger-writer-options.ts';

export interface IngestCounts {
  appended: number;
  duplicates: number;
  deadLettered: number;
  batches: number;
  checkpoints: number;
}

export interface IngestDeps {
  bus: Bus;
  log: Logger;
  store: LedgerStore;
  settings: LedgerWriterSettings;
  checkpointer: Checkpointer;
  counts: IngestCounts;
  /** Signs a checkpoint nobody waits for (every N entries). */
  checkpointSoon(): void;
  crash(error: unknown): void;
}

export class AuditIngest {
  /** Set by the actor's stop: nothing more is committed. */
  closed = false;
  private pending: JsMsg[] = [];
  private flushScheduled = false;
  /** Batches committed and waiting for their fsync before their acks go out. */
  readonly awaitingDisk = new Set<Promise<void>>();

  constructor(private readonly d: IngestDeps) {}

  /** The consumer's callback: batches what one socket read delivered. */
  readonly onMessage = (m: JsMsg): void => {
    if (this.closed) return;
    this.pending.push(m);
    if (this.pending.length >= this.d.settings.batchMaxEntries) this.safeFlush();
    else if (!this.flushScheduled && this.awaitingDisk.size === 0) {
      this.flushScheduled = true;
      // Everything that arrived in the same socket read joins this batch. While an fsync is in
      // flight, messages wait for it to finish and then commit together.
      setImmediate(this.safeFlush);
    }
  };

  private readonly safeFlush = (): void => {
    try {
      this.flush();
    } catch (err) {
      this.d.crash(err);
    }
  };

  private reject(m: JsMsg, error: unknown): void {
    this.d.counts.deadLettered++;
    this.d.bus.deadLetter(m, error);
    m.term(); // no reason: '+TERM <reason>' needs nats-server 2.10+, older servers would redeliver
  }

  /** Decodes a batch; what cannot become an audit event is dead-lettered here. */
  private decode(batch: JsMsg[]): { events: AuditEvent[]; msgs: JsMsg[] } {
    const events: AuditEvent[] = [];
    const msgs: JsMsg[] = [];
    for (const m of batch) {
      const decoded = this.d.bus.decode(m.data);
      if (!decoded.ok) {
        this.reject(m, decoded.error);
        continue;
      }
      try {
        events.push(
          auditEventFromEnvelope(this.judged(m.subject, decoded.env), {
            secrets: this.d.settings.secrets,
            sender: auditSenderOf(m.subject),
          }),
        );
        msgs.push(m);
      } catch (err) {
        this.reject(m, err);
      }
    }
    return { events, msgs };
  }

  /** The envelope to record: the event itself, or the refusal of a forged agent event (same id). */
  private judged(subject: string, env: AnyEnvelope): AnyEnvelope {
    const refusal = forgedAgentAudit(subject, env, this.d.bus.name);
    if (!refusal) return env;
    this.d.log.warn('an agent audit event speaking for another agent recorded as refused', {
      sender: refusal.sender,
      claimed: refusal.claimed,
    });
    const recorded = { ...env, type: 'identity.refused.v1' as const, from: this.d.bus.name, body: refusal };
    try {
      this.d.bus.publishFeed(['forgery', feedToken(refusal.sender)], recorded);
    } catch (err) {
      this.d.log.warn('forgery not published on the feed', { error: String(err) });
    }
    return recorded;
  }

  /** Appends in one transaction; one invalid event is dead-lettered and the rest commit. */
  private append(events: AuditEvent[], msgs: JsMsg[]): AppendResult | undefined {
    while (events.length > 0) {
      try {
        return this.d.store.appendBatch(events);
      } catch (err) {
        const index = err instanceof InvalidMessageError ? err.details?.index : undefined;
        if (typeof index === 'number' && msgs[index]) {
          this.reject(msgs[index]!, err);
          events.splice(index, 1);
          msgs.splice(index, 1);
          continue;
        }
        for (const m of msgs) m.nak();
        throw err instanceof GovError
          ? err
          : new LedgerStoreError(`ledger append failed: ${String(err)}`, { cause: err });
      }
    }
    return undefined;
  }

  /**
   * Commits everything delivered so far in one transaction. What the commit makes public (acks,
   * the appended feed, reused-id dead letters) goes out once it is on disk; the returned promise
   * settles then (undefined when nothing was pending).
   */
  flush(): Promise<void> | undefined {
    this.flushScheduled = false;
    if (this.closed || this.pending.length === 0) return undefined;
    const batch = this.pending;
    this.pending = [];
    const deadBefore = this.d.counts.deadLettered;
    const { events, msgs } = this.decode(batch);
    const sizeBefore = this.d.store.size;
    const result = this.append(events, msgs);
    const sizeAfter = this.d.store.size;
    const deadLettered = this.d.counts.deadLettered - deadBefore;
    const release = () => this.release(result, events, msgs, sizeBefore, sizeAfter, deadLettered);
    if (!this.d.store.unsynced) {
      release();
      return Promise.resolve();
    }
    const onDisk = this.d.store.sync().then(
      () => {
        this.awaitingDisk.delete(onDisk);
        release();
        // Whatever arrived during the fsync forms the next batch (group commit).
        if (this.pending.length > 0 && !this.flushScheduled) this.safeFlush();
      },
      (err: unknown) => {
        this.awaitingDisk.delete(onDisk);
        for (const m of msgs) m.nak();
        this.d.crash(err);
      },
    );
    this.awaitingDisk.add(onDisk);
    return onDisk;
  }

  /** Committed and on disk: the acks, reused-id dead letters and the appended feed go out. */
  private release(
    result: AppendResult | undefined,
    events: AuditEvent[],
    msgs: JsMsg[],
    fromSeq: number,
    toSeq: number,
    deadLettered: number,
  ): void {
    const { counts, bus, log } = this.d;
    let reusedIds = 0;
    if (result) {
      counts.batches++;
      counts.appended += result.appended;
      counts.duplicates += result.duplicates.length;
      for (const d of result.duplicates) {
        if (d.sameContent) continue;
        // Rare (a reused id): a linear search beats building an id map for every batch.
        const m = msgs[events.findIndex((e) => e.id === d.id)];
        const err = new InvalidMessageError(
          `event id ${d.id} was reused with different content; the ledger keeps the first (seq ${d.seq})`,
          { details: { id: d.id, seq: d.seq } },
        );
        log.warn('event id reused with different content', { id: d.id, seq: d.seq });
        if (m) {
          counts.deadLettered++;
          reusedIds++;
          bus.deadLetter(m, err);
        }
      }
    }
    // Fire and forget: the connection writes the acks out together.
    for (const m of msgs) m.ack();
    if (this.d.checkpointer.due()) this.d.checkpointSoon();
    try {
      bus.emit(['ledger', 'appended'], {
        type: 'ledger.appended.v1',
        body: {
          fromSeq,
          toSeq,
          duplicates: result?.duplicates.length ?? 0,
          deadLettered: deadLettered + reusedIds,
        },
      });
    } catch {
      // feed is best effort
    }
  }
}
