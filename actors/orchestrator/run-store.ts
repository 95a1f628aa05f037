/**
 * Persistence of run records in a JetStream KV bucket (one key per run id, JSON values, file
 * storage, one revision of history). The bucket is declared idempotently, so every orchestrator
 * process opens it with `RunStore.open` at start (and so does `agov runs` when no system runs: it then
 * reads the stored runs of the data directory).
 *
 * Writes of one run are serialized and coalesced: `save(run)` resolves once a write holding that
 * state (or a later one) is stored, so the caller can persist before acting without queueing one
 * write per change. With a JsPublisher (the orchestrator's) a write is a plain JetStream publish to
 * the key's subject with its ack tracked there (what `kv.put` does, without a request per write);
 * the pipeline, which never changes during a run, is serialized once per pipeline object.
 */
import { StorageType } from '@nats-io/jetstream';
import { Bucket, type KV } from '@nats-io/kv';
import type { Bus, JsPublisher } from '../../bus/index.ts';
import { DEFAULT_RUN_MARKER_PURGE_AGE_MS, DEFAULT_RUNS_BUCKET } from './options.ts';
import { isTerminalRun, type RunRecord } from './run-machine.ts';

const encoder = new TextEncoder();
const pipelineJson = new WeakMap<object, string>();

/** The stored form of a run: JSON, the (shared, immutable) pipeline serialized once. */
export function serializeRun(run: RunRecord): string {
  let p = pipelineJson.get(run.pipeline);
  if (p === undefined) {
    p = JSON.stringify(run.pipeline);
    pipelineJson.set(run.pipeline, p);
  }
  const { pipeline: _, ...rest } = run;
  return `{"pipeline":${p},${JSON.stringify(rest).slice(1)}`;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  onSent?: () => void;
}

interface Pending {
  latest: RunRecord;
  waiters: Waiter[];
}

export class RunStore {
  private readonly writing = new Map<string, Promise<void>>();
  /** Writes queued and not started yet → what starts them (see save / sendNow). */
  private readonly starters = new Map<string, () => void>();
  private readonly pending = new Map<string, Pending>();

  private constructor(
    readonly kv: KV,
    private readonly publisher: JsPublisher | undefined,
  ) {}

  /** Opens (declaring it when missing) the bucket; writes go through `publisher` when given, else `kv.put`. */
  static async open(bus: Bus, bucket = DEFAULT_RUNS_BUCKET, publisher?: JsPublisher): Promise<RunStore> {
    const kv = await bus.keyValue(bucket, { history: 1, storage: StorageType.File });
    return new RunStore(kv, kv instanceof Bucket ? publisher : undefined);
  }

  private write(run: RunRecord): Promise<unknown> {
    const json = serializeRun(run);
    if (!this.publisher) return this.kv.put(run.runId, json);
    const kv = this.kv as Bucket;
    return this.publisher.publish(kv.subjectForKey(kv.encodeKey(run.runId), true), encoder.encode(json));
  }

  /**
   * Stores the run; resolves once this state (or a newer one of the same run) is durable.
   *
   * `onSent` is called once the write holding this state has been handed to the connection (it is
   * in the connection's outgoing buffer, not yet flushed): whatever the caller publishes from it
   * leaves in the same socket write, behind the state write, and nats-server handles one connection's
   * messages in order. (Without a JsPublisher, when the write is acknowledged.)
   */
  save(run: RunRecord, onSent?: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const w: Waiter = onSent ? { resolve, reject, onSent } : { resolve, reject };
      const p = this.pending.get(run.runId);
      if (p) {
        p.latest = run;
        p.waiters.push(w);
      } else {
        this.pending.set(run.runId, { latest: run, waiters: [w] });
      }
      // Start on the next microtask (or at `sendNow`), so every change made in this turn (a result
      // and the dispatch it unblocks) goes out in one write.
      if (!this.writing.has(run.runId)) {
        let finished!: () => void;
        this.writing.set(
          run.runId,
          new Promise<void>((r) => {
            finished = r;
          }),
        );
        // flush runs synchronously up to its first await: the write and its onSent happen in sendNow.
        this.starters.set(run.runId, () => void this.flush(run.runId).then(finished));
        queueMicrotask(() => this.sendNow(run.runId));
      }
    });
  }

  /**
   * Starts the write of the run's queued changes now, if it has not started: for a caller that has
   * made every change of this turn and wants the write (and what `onSent` publishes) to leave before
   * other queued work, e.g. before replies that came in with the result it just handled.
   */
  sendNow(runId: string): void {
    const start = this.starters.get(runId);
    if (!start) return;
    this.starters.delete(runId);
    start();
  }

  /** Resolves once no write is in flight or queued. */
  async settled(): Promise<void> {
    while (this.writing.size > 0) await Promise.all([...this.writing.values()]);
  }

  private async flush(runId: string): Promise<void> {
    try {
      for (;;) {
        const p = this.pending.get(runId);
        if (!p) break;
        this.pending.delete(runId);
        try {
          const acked = this.write(p.latest);
          if (this.publisher) for (const w of p.waiters) w.onSent?.();
          await acked;
          if (!this.publisher) for (const w of p.waiters) w.onSent?.();
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

  /**
   * Removes a finished run's record (see run-retention.ts): only when the stored record is finished
   * with an empty outbox, and only that revision (compare-and-set), so nothing live is ever removed.
   */
  async remove(runId: string): Promise<void> {
    const e = await this.kv.get(runId);
    if (e?.operation !== 'PUT' || e.length === 0) return;
    const run = e.json<RunRecord>();
    if (!isTerminalRun(run.status) || (run.outbox?.length ?? 0) > 0) return;
    try {
      await this.kv.delete(runId, { previousSeq: e.revision });
    } catch {
      // Changed meanwhile (a newer write, or another instance removed it first): nothing to do.
    }
  }

  /** Drops the delete markers that removals left (older than `olderMs`). */
  async purgeMarkers(olderMs = DEFAULT_RUN_MARKER_PURGE_AGE_MS): Promise<void> {
    if (this.kv instanceof Bucket) await this.kv.purgeDeletes(olderMs);
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
