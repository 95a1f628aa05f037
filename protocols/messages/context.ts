import { z } from 'zod';
import { TIERS } from '../vocabulary/tiers.ts';
import { AgentStateSchema } from './agent.ts';
import { ledgerMessages } from './ledger.ts';
import { RunStateSchema } from './run.ts';
import { supervisorMessages } from './supervisor.ts';

const SupervisorTreeSchema = supervisorMessages['supervisor.tree.v1'];
const LedgerCheckpointSchema = ledgerMessages['ledger.checkpoint.v1'];
/** Bytes on the wire: UTF-8 text as is, anything else base64 (the feed and HTTP are JSON). */
const EncodingSchema = z.enum(['utf8', 'base64']);

const TierSchema = z.enum(TIERS);
const ms = z.number().int().nonnegative();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 id: 64 lowercase hex digits');
const tag = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'a tag: 1-64 letters, digits, _ . : -');

/** The extractive summary of a memory blob, computed once on write (docs/context.md). */
export const MemorySummarySchema = z.object({
  bytes: z.number().int().nonnegative(),
  lines: z.number().int().nonnegative(),
  blankLines: z.number().int().nonnegative(),
  format: z.enum(['json', 'jsonl', 'log', 'text', 'binary']),
  head: z.array(z.string()),
  tail: z.array(z.string()),
  /** Lines that look like errors (logs and text), at most the summary's cap. */
  errorLines: z.array(z.object({ line: z.number().int().positive(), text: z.string() })),
  errorCount: z.number().int().nonnegative(),
  /** Top-level keys of a JSON object (or of the first JSONL record). */
  jsonKeys: z.array(z.string()).optional(),
});

/** What the memory keeps about a blob besides its bytes. */
export const MemoryEntrySchema = z.object({
  /** sha256 of the content, hex: the same bytes are one entry. */
  id: sha256,
  size: z.number().int().nonnegative(),
  contentType: z.string(),
  tags: z.array(z.string()),
  runId: z.string().optional(),
  agentId: z.string().optional(),
  /** Who stored it: the sender's actor address (the verified bus identity once the bus is zero-trust). */
  author: z.string(),
  createdAt: ms,
  summary: MemorySummarySchema,
});

/** A tracked work target (a directory, a repository, a service). */
export const WorkPhaseSchema = z.enum(['not-started', 'in-progress', 'blocked', 'review', 'complete']);
export const WorkTargetKindSchema = z.enum(['directory', 'repository', 'service']);
export const WorkTargetSchema = z.object({
  target: z.string(),
  kind: WorkTargetKindSchema,
  phase: WorkPhaseSchema,
  task: z.string().optional(),
  progress: z.number().int().min(0).max(100),
  owner: z.string().optional(),
  runId: z.string().optional(),
  updatedBy: z.string(),
  updatedAt: ms,
  staleAfterMs: ms,
  /** What the last sweep found (empty: fine). */
  flags: z.array(z.enum(['missing', 'stale', 'owner-gone'])),
  sweptAt: ms.optional(),
});

/**
 * Why a checkpoint was taken: on an operator's demand, on the schedule, before a restore, or before an
 * operator control that cannot be undone (run cancel, budget reset, token revoke; actors/control).
 */
export const CHECKPOINT_REASONS = ['operator', 'schedule', 'before-restore', 'before-control'] as const;

const SourceOutcomeSchema = z.object({ ok: z.boolean(), error: z.string().optional(), ms: ms });

/** A checkpoint: what an operator needs to resume, gathered from the owning actors over the bus. */
export const CheckpointSchema = z.object({
  id: z.string(),
  /** Format version of this document. */
  version: z.literal(1),
  /** Position in the timeline (1, 2, …). */
  seq: z.number().int().positive(),
  createdAt: ms,
  takenBy: z.string(),
  reason: z.enum(CHECKPOINT_REASONS),
  notes: z.string().optional(),
  /** Per source: whether it answered (a checkpoint is kept even when one is down, and says so). */
  sources: z.record(z.string(), SourceOutcomeSchema),
  runs: z.array(RunStateSchema),
  agents: z.array(AgentStateSchema),
  budgets: z.array(
    z.object({ runId: z.string(), verdict: z.string(), breached: z.boolean(), kind: z.string() }),
  ),
  /** Live token accessors per run (never the tokens). */
  tokens: z.array(
    z.object({
      runId: z.string(),
      accessor: z.string().optional(),
      state: z.string(),
      expiresAt: ms.optional(),
    }),
  ),
  tree: SupervisorTreeSchema.optional(),
  ledger: LedgerCheckpointSchema.optional(),
  work: z.array(WorkTargetSchema),
  memory: z.array(MemoryEntrySchema),
});

export const CheckpointSummarySchema = z.object({
  id: z.string(),
  seq: z.number().int().positive(),
  createdAt: ms,
  reason: z.string(),
  notes: z.string().optional(),
  runs: z.number().int(),
  agents: z.number().int(),
  work: z.number().int(),
  ledgerSize: z.number().int().optional(),
  /** What changed since the previous checkpoint, one line each. */
  changes: z.array(z.string()),
});

/**
 * Context management (docs/context.md): external memory (`gov.svc.memory`), work status
 * (`gov.svc.work-status`) and checkpoints (`gov.svc.checkpoint`). Writes, deletes and restores are taken
 * only on `gov.ctx.<kind>.<tier>.<principal>`, where the broker vouches for tier and principal
 * (protocols/subjects.ts `contextSubject`). `byTier` (and a restore's `by`) are still accepted from
 * senders of before and ignored: a body cannot raise a tier or name an author.
 */
export const contextMessages = {
  /** Store a blob (content-addressed). Reply memory.entry.v1. T1 and up. */
  'memory.put.v1': z.object({
    content: z.string(),
    encoding: EncodingSchema.default('utf8'),
    contentType: z.string().min(1).max(200).default('application/octet-stream'),
    tags: z.array(tag).max(32).default([]),
    runId: z.string().min(1).max(128).optional(),
    agentId: z.string().min(1).max(128).optional(),
    /** Ignored (the subject's tier counts); kept so senders of before still validate. */
    byTier: TierSchema.optional(),
  }),
  'memory.entry.v1': MemoryEntrySchema,
  /** One blob: its entry, and its bytes unless `summaryOnly`. Reply memory.content.v1. */
  'memory.get.v1': z.object({ id: z.string(), summaryOnly: z.boolean().default(false) }),
  'memory.content.v1': z.object({
    entry: MemoryEntrySchema,
    content: z.string().optional(),
    encoding: EncodingSchema.optional(),
  }),
  /** Newest first. Reply memory.entries.v1. */
  'memory.list.v1': z.object({
    limit: z.number().int().positive().max(1000).default(20),
    tag: tag.optional(),
    runId: z.string().optional(),
  }),
  'memory.entries.v1': z.object({ entries: z.array(MemoryEntrySchema), total: z.number().int() }),
  'memory.stats.v1': z.object({}),
  'memory.stats.result.v1': z.object({
    count: z.number().int(),
    bytes: z.number().int(),
    byTag: z.record(z.string(), z.object({ count: z.number().int(), bytes: z.number().int() })),
    byRun: z.record(z.string(), z.object({ count: z.number().int(), bytes: z.number().int() })),
    oldestAt: ms.optional(),
    newestAt: ms.optional(),
  }),
  /** T2 only. Reply ack.v1. */
  'memory.delete.v1': z.object({ id: z.string(), byTier: TierSchema.optional() }),
  /** Feed `gov.obs.context.memory`: a blob was stored or deleted. */
  'memory.stored.v1': z.object({
    id: sha256,
    event: z.enum(['stored', 'deleted', 'expired']),
    size: z.number().int(),
    runId: z.string().optional(),
    author: z.string(),
  }),

  /** Update (or create) a target. Reply status.target.v1. T1 and up. */
  'status.update.v1': z.object({
    target: z.string(),
    kind: WorkTargetKindSchema.optional(),
    phase: WorkPhaseSchema.optional(),
    task: z.string().max(500).optional(),
    progress: z.number().int().min(0).max(100).optional(),
    owner: z.string().max(128).optional(),
    runId: z.string().max(128).optional(),
    staleAfterMs: z.number().int().positive().optional(),
    /** Ignored (the subject's tier counts). */
    byTier: TierSchema.optional(),
  }),
  'status.target.v1': WorkTargetSchema,
  /** Every target (or one). Reply status.dashboard.v1. */
  'status.query.v1': z.object({ target: z.string().optional() }),
  'status.dashboard.v1': z.object({
    targets: z.array(WorkTargetSchema),
    /** Mean progress of every target, percent. */
    overall: z.number().min(0).max(100),
    byPhase: z.record(z.string(), z.number().int()),
  }),
  /** Check every target (path, staleness, owner) and store the flags. Reply status.dashboard.v1. */
  'status.sweep.v1': z.object({}),
  /** T2 only. Reply ack.v1. */
  'status.delete.v1': z.object({ target: z.string(), byTier: TierSchema.optional() }),
  /** Feed `gov.obs.context.status`: a target changed (update, sweep flags, delete). */
  'status.changed.v1': z.object({
    target: z.string(),
    event: z.enum(['updated', 'flagged', 'deleted']),
    phase: WorkPhaseSchema.optional(),
    progress: z.number().int().optional(),
    flags: z.array(z.string()).optional(),
    by: z.string(),
  }),

  /** Take a checkpoint now. Reply checkpoint.v1. */
  'checkpoint.take.v1': z.object({
    notes: z.string().max(10_000).optional(),
    reason: z.enum(CHECKPOINT_REASONS).default('operator'),
  }),
  'checkpoint.v1': CheckpointSchema,
  /** One checkpoint by id, or the latest. Reply checkpoint.v1. */
  'checkpoint.get.v1': z.object({ id: z.string().optional() }),
  /** Oldest first, with what changed between neighbours. Reply checkpoint.timeline.v1. */
  'checkpoint.list.v1': z.object({ limit: z.number().int().positive().max(1000).default(50) }),
  'checkpoint.timeline.v1': z.object({ checkpoints: z.array(CheckpointSummarySchema) }),
  /** Re-apply what is safe to re-apply from a checkpoint (T2). Reply checkpoint.restored.v1. */
  'checkpoint.restore.v1': z.object({
    id: z.string().optional(),
    /** Ignored: tier and restorer are the subject's (`gov.ctx.checkpoint.<tier>.<principal>`). */
    byTier: TierSchema.optional(),
    by: z.string().min(1).optional(),
    dryRun: z.boolean().default(false),
  }),
  'checkpoint.restored.v1': z.object({
    checkpointId: z.string(),
    /** The checkpoint taken just before applying (absent on a dry run). */
    before: z.string().optional(),
    actions: z.array(
      z.object({
        kind: z.enum(['agent-tier', 'agent-quarantine', 'agent-suspend', 'run-pause']),
        target: z.string(),
        command: z.string(),
        outcome: z.enum(['applied', 'planned', 'failed', 'skipped']),
        detail: z.string().optional(),
      }),
    ),
    /** What a checkpoint holds but is not re-applied, and why. */
    notRestored: z.array(z.string()),
  }),
  /** Feed `gov.obs.context.checkpoint` and audit `gov.audit.context`: taken or restored. */
  'checkpoint.event.v1': z.object({
    checkpointId: z.string(),
    event: z.enum(['taken', 'restored', 'pruned']),
    seq: z.number().int().optional(),
    reason: z.string().optional(),
    by: z.string(),
    actions: z.number().int().optional(),
  }),
} as const;
