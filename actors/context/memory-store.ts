/**
 * The external memory's storage: blobs in a JetStream object store (name = sha256 of the content, so
 * the same bytes are stored once), and one JSON entry per blob in a KV bucket (metadata and summary),
 * so listing and summaries never read a blob.
 */
import { createHash } from 'node:crypto';
import { StorageType } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import type { z } from 'zod';
import type { Bus } from '../../bus/index.ts';
import { MemoryNotFoundError, MemoryTooLargeError } from '../../protocols/vocabulary/errors.ts';
import type { MemoryEntrySchema } from '../../protocols/messages/context.ts';
import { MEMORY_INDEX_BUCKET, MEMORY_OBJECT_BUCKET } from './context-options.ts';
import { summarize } from './memory-summary.ts';

export type MemoryEntry = z.output<typeof MemoryEntrySchema>;

export interface MemoryLimits {
  maxBlobBytes: number;
  maxTotalBytes: number;
}

export interface PutInput {
  bytes: Uint8Array;
  contentType: string;
  tags: string[];
  runId?: string;
  agentId?: string;
  author: string;
  now: number;
}

export interface MemoryStats {
  count: number;
  bytes: number;
  byTag: Record<string, { count: number; bytes: number }>;
  byRun: Record<string, { count: number; bytes: number }>;
  oldestAt?: number;
  newestAt?: number;
}

const ID_RE = /^[0-9a-f]{64}$/;

export function contentId(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Pure: counts and bytes of `entries`, overall, by tag and by run. */
export function memoryStats(entries: readonly MemoryEntry[]): MemoryStats {
  const out: MemoryStats = { count: 0, bytes: 0, byTag: {}, byRun: {} };
  const add = (m: Record<string, { count: number; bytes: number }>, k: string, size: number) => {
    const c = m[k] ?? { count: 0, bytes: 0 };
    m[k] = c;
    c.count++;
    c.bytes += size;
  };
  for (const e of entries) {
    out.count++;
    out.bytes += e.size;
    for (const t of e.tags) add(out.byTag, t, e.size);
    if (e.runId) add(out.byRun, e.runId, e.size);
    out.oldestAt = Math.min(out.oldestAt ?? e.createdAt, e.createdAt);
    out.newestAt = Math.max(out.newestAt ?? e.createdAt, e.createdAt);
  }
  return out;
}

export class MemoryStore {
  private totalBytes = 0;

  private constructor(
    readonly objects: ObjectStore,
    readonly index: KV,
    readonly limits: MemoryLimits,
  ) {}

  static async open(bus: Bus, limits: MemoryLimits): Promise<MemoryStore> {
    const objects = await bus.objectStore(MEMORY_OBJECT_BUCKET, {
      storage: StorageType.File,
      description: 'agent-governance external memory: blobs by sha256',
    });
    const index = await bus.keyValue(MEMORY_INDEX_BUCKET, { history: 1, storage: StorageType.File });
    const store = new MemoryStore(objects, index, limits);
    store.totalBytes = (await store.entries()).reduce((n, e) => n + e.size, 0);
    return store;
  }

  /** Stores a blob (once per content) and its entry; a blob stored again keeps its first entry and gains tags. */
  async put(input: PutInput): Promise<{ entry: MemoryEntry; created: boolean }> {
    const size = input.bytes.length;
    if (size > this.limits.maxBlobBytes)
      throw new MemoryTooLargeError(
        `blob of ${size} bytes exceeds maxBlobBytes ${this.limits.maxBlobBytes}`,
        {
          details: { size, maxBlobBytes: this.limits.maxBlobBytes },
        },
      );
    const id = contentId(input.bytes);
    const existing = await this.entry(id);
    if (existing) {
      const tags = [...new Set([...existing.tags, ...input.tags])];
      if (tags.length === existing.tags.length) return { entry: existing, created: false };
      const entry = { ...existing, tags };
      await this.index.put(id, JSON.stringify(entry));
      return { entry, created: false };
    }
    if (this.totalBytes + size > this.limits.maxTotalBytes)
      throw new MemoryTooLargeError(
        `storing ${size} bytes would exceed maxTotalBytes ${this.limits.maxTotalBytes} (${this.totalBytes} used)`,
        { details: { size, used: this.totalBytes, maxTotalBytes: this.limits.maxTotalBytes } },
      );
    await this.objects.putBlob({ name: id }, input.bytes);
    const entry: MemoryEntry = {
      id,
      size,
      contentType: input.contentType,
      tags: [...new Set(input.tags)],
      ...(input.runId ? { runId: input.runId } : {}),
      ...(input.agentId ? { agentId: input.agentId } : {}),
      author: input.author,
      createdAt: input.now,
      summary: summarize(input.bytes),
    };
    await this.index.put(id, JSON.stringify(entry));
    this.totalBytes += size;
    return { entry, created: true };
  }

  async entry(id: string): Promise<MemoryEntry | undefined> {
    if (!ID_RE.test(id)) return undefined;
    const e = await this.index.get(id);
    if (e?.operation !== 'PUT' || e.value.length === 0) return undefined;
    return JSON.parse(e.string()) as MemoryEntry;
  }

  async require(id: string): Promise<MemoryEntry> {
    const entry = await this.entry(id);
    if (!entry)
      throw new MemoryNotFoundError(`no memory blob ${JSON.stringify(id.slice(0, 80))}`, {
        details: { id: id.slice(0, 80) },
      });
    return entry;
  }

  async get(id: string): Promise<{ entry: MemoryEntry; bytes: Uint8Array }> {
    const entry = await this.require(id);
    const bytes = await this.objects.getBlob(id);
    if (!bytes)
      throw new MemoryNotFoundError(`memory blob ${id} has an entry but no content`, { details: { id } });
    return { entry, bytes };
  }

  /** Every entry (reads the index only). */
  async entries(): Promise<MemoryEntry[]> {
    const out: MemoryEntry[] = [];
    const keys = await this.index.keys();
    for await (const k of keys) {
      const e = await this.entry(k);
      if (e) out.push(e);
    }
    return out;
  }

  /** Newest first, filtered. */
  async list(filter: {
    limit: number;
    tag?: string;
    runId?: string;
  }): Promise<{ entries: MemoryEntry[]; total: number }> {
    const all = (await this.entries())
      .filter(
        (e) =>
          (filter.tag === undefined || e.tags.includes(filter.tag)) &&
          (filter.runId === undefined || e.runId === filter.runId),
      )
      .sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
    return { entries: all.slice(0, filter.limit), total: all.length };
  }

  async delete(id: string): Promise<MemoryEntry> {
    const entry = await this.require(id);
    await this.objects.delete(id);
    await this.index.delete(id);
    this.totalBytes = Math.max(0, this.totalBytes - entry.size);
    return entry;
  }

  /** Deletes the blobs created before `olderThan`; returns them. */
  async expire(olderThan: number): Promise<MemoryEntry[]> {
    const gone: MemoryEntry[] = [];
    for (const e of await this.entries()) {
      if (e.createdAt >= olderThan) continue;
      await this.delete(e.id);
      gone.push(e);
    }
    return gone;
  }
}
