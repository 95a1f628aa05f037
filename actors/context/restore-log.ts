/**
 * The log of restores applied (KV bucket `agov-checkpoint-restores`, one record per restore, keyed by
 * the `before-restore` checkpoint taken for it), which is also the checkpoint actor's audit outbox:
 * the `restored` event is stored in the record of the restore that implies it (`auditIds`, `outbox`),
 * published once that put landed, and dropped from the record once the audit stream acknowledged it.
 * A SIGKILL in between leaves it in the record; `load` finds it at the next start (runtime/audit-outbox.ts).
 */
import { StorageType } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Bus } from '../../bus/bus.ts';
import type { OutboxEntry, OutboxStore } from '../runtime/audit-outbox.ts';
import { RESTORE_LOG_BUCKET } from './context-options.ts';

export interface RestoreRecord {
  /** The `before-restore` checkpoint taken for this restore. */
  id: string;
  checkpointId: string;
  by: string;
  at: number;
  actions: number;
  /** The audit events this restore implies. */
  auditIds: string[];
  /** Those not acknowledged by the audit stream when the record was written. */
  outbox: OutboxEntry[];
}

export class RestoreLog implements OutboxStore {
  /** Envelope id → the record whose outbox holds it. */
  private readonly holder = new Map<string, RestoreRecord>();

  private constructor(readonly kv: KV) {}

  static async open(bus: Bus): Promise<RestoreLog> {
    return new RestoreLog(await bus.keyValue(RESTORE_LOG_BUCKET, { history: 1, storage: StorageType.File }));
  }

  /** Stores a restore with its outbox entries (one put: the transaction). */
  async record(rec: RestoreRecord): Promise<void> {
    await this.kv.put(rec.id, JSON.stringify(rec));
    for (const e of rec.outbox) this.holder.set(e.env.id, rec);
  }

  async all(): Promise<RestoreRecord[]> {
    const out: RestoreRecord[] = [];
    for await (const k of await this.kv.keys()) {
      const e = await this.kv.get(k);
      if (e?.operation === 'PUT' && e.value.length > 0) out.push(JSON.parse(e.string()) as RestoreRecord);
    }
    return out;
  }

  async load(): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for (const rec of await this.all())
      for (const e of rec.outbox) {
        this.holder.set(e.env.id, rec);
        out.push(e);
      }
    return out;
  }

  async remove(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const rec = this.holder.get(id);
      if (!rec) continue;
      this.holder.delete(id);
      rec.outbox = rec.outbox.filter((e) => e.env.id !== id);
      await this.kv.put(rec.id, JSON.stringify(rec));
    }
  }
}
