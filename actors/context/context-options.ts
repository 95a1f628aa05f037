/**
 * Options of the context actors (memory, work-status, checkpoint): one start-argument schema per
 * kind, every default a `DEFAULT_*` constant with its unit in the name. Storage names are fixed here
 * so that every instance, the CLI and the benches agree on them.
 */
import { z } from 'zod';
import { arg } from '../runtime/start-args.ts';

/** JetStream object store holding the memory's blobs (name = sha256 of the content). */
export const MEMORY_OBJECT_BUCKET = 'agov-memory';
/** JetStream KV: one entry per blob (metadata and summary, JSON), key = the blob's id. */
export const MEMORY_INDEX_BUCKET = 'agov-memory-index';
/** JetStream KV: one entry per work target, key = base64url of the target. */
export const STATUS_BUCKET = 'agov-status';
/** JetStream KV: one entry per checkpoint (JSON), key = checkpoint id. */
export const CHECKPOINT_BUCKET = 'agov-checkpoints';
/** Restores applied, one record each with its audit event (the checkpoint actor's outbox). */
export const RESTORE_LOG_BUCKET = 'agov-checkpoint-restores';

/** Below the bus's 1 MiB payload (the blob travels in one message, base64 adds a third for binary). */
export const DEFAULT_MEMORY_MAX_BLOB_BYTES = 768 * 1024;
export const DEFAULT_MEMORY_MAX_TOTAL_BYTES = 1024 * 1024 * 1024;
/** Blobs older than this are deleted by the memory's sweep (0: kept forever). */
export const DEFAULT_MEMORY_RETENTION_MS = 30 * 24 * 3_600_000;
export const DEFAULT_MEMORY_SWEEP_MS = 3_600_000;
/** Lines of head and tail in a summary, and error lines kept. */
export const DEFAULT_SUMMARY_HEAD_LINES = 5;
export const DEFAULT_SUMMARY_TAIL_LINES = 5;
export const DEFAULT_SUMMARY_ERROR_LINES = 20;
/** A summary line longer than this is cut (with `…`). */
export const DEFAULT_SUMMARY_LINE_CHARS = 200;

/** A target not updated for this long is flagged `stale` by a sweep (unless it has its own bound). */
export const DEFAULT_STATUS_STALE_AFTER_MS = 24 * 3_600_000;
export const DEFAULT_STATUS_MAX_TARGETS = 10_000;
export const MAX_TARGET_CHARS = 512;

/** Automatic checkpoints (0: none). */
export const DEFAULT_CHECKPOINT_EVERY_MS = 15 * 60_000;
/** Checkpoints kept; the oldest beyond are pruned. */
export const DEFAULT_CHECKPOINT_KEEP = 100;
/** How long the checkpoint waits for each source's answer. */
export const DEFAULT_CHECKPOINT_SOURCE_TIMEOUT_MS = 3_000;
/** Memory entries a checkpoint lists. */
export const DEFAULT_CHECKPOINT_RECENT_MEMORY = 10;
/** Runs (newest first) a checkpoint asks the orchestrator for, per status. */
export const DEFAULT_CHECKPOINT_MAX_RUNS = 200;
/** The root supervisor whose tree a checkpoint records. */
export const DEFAULT_ROOT_SUPERVISOR_ID = 'root';

export const MemoryArgsSchema = z.strictObject({
  maxBlobBytes: arg.int(1, 16 * 1024 * 1024).default(DEFAULT_MEMORY_MAX_BLOB_BYTES),
  maxTotalBytes: arg.positive().default(DEFAULT_MEMORY_MAX_TOTAL_BYTES),
  retentionMs: arg.int(0).default(DEFAULT_MEMORY_RETENTION_MS),
  sweepMs: arg.positive().default(DEFAULT_MEMORY_SWEEP_MS),
});
export type MemoryArgs = z.output<typeof MemoryArgsSchema>;

export const WorkStatusArgsSchema = z.strictObject({
  staleAfterMs: arg.positive().default(DEFAULT_STATUS_STALE_AFTER_MS),
  maxTargets: arg.positive().default(DEFAULT_STATUS_MAX_TARGETS),
  /** Relative directory targets are resolved against this folder when a sweep checks they exist. */
  baseDir: arg.text().optional(),
  askTimeoutMs: arg.positive().default(DEFAULT_CHECKPOINT_SOURCE_TIMEOUT_MS),
});
export type WorkStatusArgs = z.output<typeof WorkStatusArgsSchema>;

export const CheckpointArgsSchema = z.strictObject({
  everyMs: arg.int(0).default(DEFAULT_CHECKPOINT_EVERY_MS),
  keep: arg.positive().default(DEFAULT_CHECKPOINT_KEEP),
  sourceTimeoutMs: arg.positive().default(DEFAULT_CHECKPOINT_SOURCE_TIMEOUT_MS),
  recentMemory: arg.int(0, 1000).default(DEFAULT_CHECKPOINT_RECENT_MEMORY),
  maxRuns: arg.int(1, 1000).default(DEFAULT_CHECKPOINT_MAX_RUNS),
  rootSupervisor: arg.text().default(DEFAULT_ROOT_SUPERVISOR_ID),
});
export type CheckpointArgs = z.output<typeof CheckpointArgsSchema>;
