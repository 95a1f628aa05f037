/**
 * Persistence of run records in a JetStream KV bucket (one key per run id, JSON values, file
 * storage, one revision of history). The bucket is declared idempotently, so every orchestrator
 * process (and `agov runs` reading it directly) can call `openRunStore` at start.
 *
 * Writes of one run are serialized and coalesced: `save(run)` resolves once a write holding that
 * state (or a later one) is stored, so the caller can persist before acting without queueing one
 * write per change.
 */
import { StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { DEFAULT_RUNS_BUCKET } from './options.ts';
import { isTerminalRun, type RunRecord } from './run-machine.ts';

interface Pending {
  latest: RunRecord;
  waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

export class RunStore {
  private readonly writing = new Set<string>();
  private readonly pending = new Map<string, Pending>();

  private constructor(readonly kv: KV) {}

  static async open(nc: NatsConnection, bucket = DEFAULT_RUNS_BUCKET): Promise<RunStore> {
    // Kvm.create opens the bucket when it exists with the same settings, so it is safe from every process.
    const kv = await new Kvm(nc).create(bucket, { history: 1, storage: StorageType.File });
    return new RunStore(kv);
  }

  /** Stores the run; resolves once this state (or a newer one of the same run) is durable. */
  save(run: RunRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      const p = this.pending.get(run.runId);
      if (p) {
        p.latest = run;
        p.waiters.push({ resolve, reject });
      } else {
        this.pending.set(run.runId, { latest: run, waiters: [{ resolve, reject }] });
      }
      // Start on the next microtask, so every change made in this turn (a result and the dispatch it
      // unblocks) goes out in one write.
      if (!this.writing.has(run.runId)) {
        this.writing.add(run.runId);
        queueMicrotask(() => void this.flush(run.runId));
      }
    });
  }

  private async flush(runId: string): Promise<void> {
    try {
      for (;;) {
        const p = this.pending.get(runId);
        if (!p) break;
        this.pending.delete(runId);
        try {
          await this.kv.put(runId, JSON.stringify(p.latest));
          for (const w of p.waiters) w.resolve();
        } catch (err) {
          for (const w of p.waiters) w.reject(err);
        }
      }
    } finally {
      this.writing.delete(runId);
    }
  }

  /**
   * Hands a run over to `owner` when it is still owned by `from` (compare-and-set on the KV
   * revision, so of two orchestrators adopting the same orphan only one wins). Returns the run as
   * adopted, or undefined when someone else changed it first.
   */
  async claim(runId: string, from: string, owner: string): Promise<RunRecord | undefined> {
    const e = await this.kv.get(runId);
    if (e?.operation !== 'PUT' || e.length === 0) return undefined;
    const run = e.json<RunRecord>();
    if (run.owner !== from) return undefined;
    const adopted = { ...run, owner };
    try {
      await this.kv.update(runId, JSON.stringify(adopted), e.revision);
    } catch {
      return undefined;
    }
    return adopted;
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const e = await this.kv.get(runId);
    if (e?.operation !== 'PUT' || e.length === 0) return undefined;
    return e.json<RunRecord>();
  }

  /** Every stored run (terminal ones included). */
  async all(): Promise<RunRecord[]> {
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) keys.push(k);
    const runs = await Promise.all(keys.map((k) => this.get(k)));
    return runs.filter((r): r is RunRecord => r !== undefined);
  }

  /** Runs not finished yet. */
  async active(): Promise<RunRecord[]> {
    return (await this.all()).filter((r) => !isTerminalRun(r.status));
  }
}
