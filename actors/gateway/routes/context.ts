/**
 * `/api/checkpoints`, `/api/status`, `/api/memory`: context management over HTTP (docs/context.md).
 * Tiers: T0 reads; T1 takes checkpoints, updates work status and writes memory; T2 restores and
 * deletes. Writes go to `gov.ctx.<kind>.<key tier>.<this gateway>`: the actor checks the tier again,
 * from the subject (which the broker lets this gateway publish only under its own name).
 */
import { z } from 'zod';
import { ACTOR_KIND, catalog } from '../../../protocols/index.ts';
import { WorkPhaseSchema, WorkTargetKindSchema } from '../../../protocols/messages/context.ts';
import { askService, relayService } from '../bus-call.ts';
import { defineRoute } from '../route-def.ts';
import { IdSchema, RunIdSchema } from '../schemas.ts';

const ShaSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 id: 64 lowercase hex digits');
const TagSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/);

export const listCheckpointsRoute = defineRoute({
  method: 'GET',
  url: '/api/checkpoints',
  operationId: 'listCheckpoints',
  summary: 'The checkpoint timeline, with what changed between checkpoints',
  description: 'Asks the checkpoint actor (checkpoint.list.v1 → checkpoint.timeline.v1), oldest first.',
  tag: 'context',
  auth: 'T0',
  query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) }),
  responses: { 200: { description: 'The timeline', schema: catalog['checkpoint.timeline.v1'] } },
  errors: [503, 504],
  handle: ({ deps, query }) =>
    relayService(deps, ACTOR_KIND.checkpoint, { type: 'checkpoint.list.v1', body: { limit: query.limit } }, [
      'checkpoint.timeline.v1',
    ]),
});

export const getCheckpointRoute = defineRoute({
  method: 'GET',
  url: '/api/checkpoints/:id',
  operationId: 'getCheckpoint',
  summary: 'One checkpoint (`latest` for the newest)',
  description: 'Asks the checkpoint actor (checkpoint.get.v1 → checkpoint.v1).',
  tag: 'context',
  auth: 'T0',
  params: z.object({ id: IdSchema.describe('Checkpoint id, or `latest`') }),
  responses: { 200: { description: 'The checkpoint', schema: catalog['checkpoint.v1'] } },
  errors: [404, 503, 504],
  handle: ({ deps, params }) =>
    relayService(
      deps,
      ACTOR_KIND.checkpoint,
      { type: 'checkpoint.get.v1', body: params.id === 'latest' ? {} : { id: params.id } },
      ['checkpoint.v1'],
    ),
});

export const takeCheckpointRoute = defineRoute({
  method: 'POST',
  url: '/api/checkpoints',
  operationId: 'takeCheckpoint',
  summary: 'Take a checkpoint now',
  description: 'Asks the checkpoint actor to gather one over the bus (checkpoint.take.v1 → checkpoint.v1).',
  tag: 'context',
  auth: 'T1',
  audit: true,
  body: z.strictObject({ notes: z.string().max(10_000).optional() }),
  responses: { 201: { description: 'The checkpoint taken', schema: catalog['checkpoint.v1'] } },
  errors: [503, 504],
  async handle({ deps, body, caller }) {
    const reply = await askService(
      deps,
      ACTOR_KIND.checkpoint,
      { type: 'checkpoint.take.v1', body: { ...(body.notes ? { notes: body.notes } : {}) } },
      ['checkpoint.v1'],
      caller!.tier,
    );
    return { status: 201, body: reply.body };
  },
});

export const restoreCheckpointRoute = defineRoute({
  method: 'POST',
  url: '/api/checkpoints/:id/restore',
  operationId: 'restoreCheckpoint',
  summary: 'Re-apply what is safe from a checkpoint (agent tiers and quarantines)',
  description:
    'checkpoint.restore.v1 → checkpoint.restored.v1. A checkpoint is taken first; each agent command is sent with tier T2 ' +
    'and the restore is audited. `dryRun` only plans.',
  tag: 'context',
  auth: 'T2',
  audit: true,
  params: z.object({ id: IdSchema.describe('Checkpoint id, or `latest`') }),
  body: z.strictObject({ dryRun: z.boolean().default(false) }),
  responses: { 200: { description: 'What was done', schema: catalog['checkpoint.restored.v1'] } },
  errors: [404, 503, 504],
  handle: ({ deps, params, body, caller }) =>
    relayService(
      deps,
      ACTOR_KIND.checkpoint,
      {
        type: 'checkpoint.restore.v1',
        body: {
          ...(params.id === 'latest' ? {} : { id: params.id }),
          dryRun: body.dryRun,
        },
      },
      ['checkpoint.restored.v1'],
      caller!.tier,
    ),
});

export const statusDashboardRoute = defineRoute({
  method: 'GET',
  url: '/api/status',
  operationId: 'statusDashboard',
  summary: 'Work status: every target with its phase and progress, and the overall percentage',
  description: 'status.query.v1 → status.dashboard.v1 from the work-status actor.',
  tag: 'context',
  auth: 'T0',
  responses: { 200: { description: 'The dashboard', schema: catalog['status.dashboard.v1'] } },
  errors: [503, 504],
  handle: ({ deps }) =>
    relayService(deps, ACTOR_KIND.workStatus, { type: 'status.query.v1', body: {} }, ['status.dashboard.v1']),
});

export const statusUpdateRoute = defineRoute({
  method: 'POST',
  url: '/api/status',
  operationId: 'statusUpdate',
  summary: 'Update (or create) a work target',
  description: 'status.update.v1 → status.target.v1. A malformed target is GOV_ERR_INVALID_TARGET (400).',
  tag: 'context',
  auth: 'T1',
  audit: true,
  body: z.strictObject({
    target: z.string().min(1).max(512),
    kind: WorkTargetKindSchema.optional(),
    phase: WorkPhaseSchema.optional(),
    task: z.string().max(500).optional(),
    progress: z.number().int().min(0).max(100).optional(),
    owner: IdSchema.optional(),
    runId: RunIdSchema.optional(),
  }),
  responses: { 200: { description: 'The target now', schema: catalog['status.target.v1'] } },
  errors: [503, 504],
  handle: ({ deps, body, caller }) =>
    relayService(
      deps,
      ACTOR_KIND.workStatus,
      { type: 'status.update.v1', body },
      ['status.target.v1'],
      caller!.tier,
    ),
});

export const statusSweepRoute = defineRoute({
  method: 'POST',
  url: '/api/status/sweep',
  operationId: 'statusSweep',
  summary: 'Check every target (path exists, staleness, owner alive) and store the flags',
  description: 'status.sweep.v1 → status.dashboard.v1.',
  tag: 'context',
  auth: 'T1',
  audit: true,
  responses: {
    200: { description: 'The dashboard after the sweep', schema: catalog['status.dashboard.v1'] },
  },
  errors: [503, 504],
  handle: ({ deps }) =>
    relayService(deps, ACTOR_KIND.workStatus, { type: 'status.sweep.v1', body: {} }, ['status.dashboard.v1']),
});

export const listMemoryRoute = defineRoute({
  method: 'GET',
  url: '/api/memory',
  operationId: 'listMemory',
  summary: 'Memory entries, newest first (metadata and summaries, no content)',
  description: 'memory.list.v1 → memory.entries.v1.',
  tag: 'context',
  auth: 'T0',
  query: z.object({
    limit: z.coerce.number().int().min(1).max(1000).default(20),
    tag: TagSchema.optional(),
    runId: RunIdSchema.optional(),
  }),
  responses: { 200: { description: 'The entries', schema: catalog['memory.entries.v1'] } },
  errors: [503, 504],
  handle: ({ deps, query }) =>
    relayService(deps, ACTOR_KIND.memory, { type: 'memory.list.v1', body: query }, ['memory.entries.v1']),
});

export const memoryStatsRoute = defineRoute({
  method: 'GET',
  url: '/api/memory/stats',
  operationId: 'memoryStats',
  summary: 'Memory counts and bytes, overall, by tag and by run',
  description: 'memory.stats.v1 → memory.stats.result.v1.',
  tag: 'context',
  auth: 'T0',
  responses: { 200: { description: 'The stats', schema: catalog['memory.stats.result.v1'] } },
  errors: [503, 504],
  handle: ({ deps }) =>
    relayService(deps, ACTOR_KIND.memory, { type: 'memory.stats.v1', body: {} }, ['memory.stats.result.v1']),
});

export const getMemoryRoute = defineRoute({
  method: 'GET',
  url: '/api/memory/:id',
  operationId: 'getMemory',
  summary: 'One blob: its entry and content, or only the summary',
  description: 'memory.get.v1 → memory.content.v1 (content as UTF-8 text, or base64 for binary).',
  tag: 'context',
  auth: 'T0',
  params: z.object({ id: ShaSchema }),
  query: z.object({ summary: z.enum(['true', 'false']).default('false') }),
  responses: { 200: { description: 'The blob', schema: catalog['memory.content.v1'] } },
  errors: [404, 503, 504],
  handle: ({ deps, params, query }) =>
    relayService(
      deps,
      ACTOR_KIND.memory,
      { type: 'memory.get.v1', body: { id: params.id, summaryOnly: query.summary === 'true' } },
      ['memory.content.v1'],
    ),
});

export const putMemoryRoute = defineRoute({
  method: 'POST',
  url: '/api/memory',
  operationId: 'putMemory',
  summary: 'Store a blob (content-addressed: the same bytes are one entry)',
  description:
    "memory.put.v1 → memory.entry.v1, with the extractive summary computed on write. Larger than the memory's " +
    'maxBlobBytes is GOV_ERR_MEMORY_TOO_LARGE (413).',
  tag: 'context',
  auth: 'T1',
  audit: true,
  body: z.strictObject({
    content: z.string(),
    encoding: z.enum(['utf8', 'base64']).default('utf8'),
    contentType: z.string().min(1).max(200).optional(),
    tags: z.array(TagSchema).max(32).default([]),
    runId: RunIdSchema.optional(),
  }),
  responses: { 201: { description: 'The entry', schema: catalog['memory.entry.v1'] } },
  errors: [413, 503, 504],
  async handle({ deps, body, caller }) {
    const reply = await askService(
      deps,
      ACTOR_KIND.memory,
      { type: 'memory.put.v1', body },
      ['memory.entry.v1'],
      caller!.tier,
    );
    return { status: 201, body: reply.body, ...(body.runId ? { runId: body.runId } : {}) };
  },
});

export const deleteMemoryRoute = defineRoute({
  method: 'POST',
  url: '/api/memory/:id/delete',
  operationId: 'deleteMemory',
  summary: 'Delete a blob and its entry',
  description: 'memory.delete.v1 (T2).',
  tag: 'context',
  auth: 'T2',
  audit: true,
  params: z.object({ id: ShaSchema }),
  responses: { 200: { description: 'Deleted', schema: catalog['ack.v1'] } },
  errors: [404, 503, 504],
  handle: ({ deps, params, caller }) =>
    relayService(
      deps,
      ACTOR_KIND.memory,
      { type: 'memory.delete.v1', body: { id: params.id } },
      ['ack.v1'],
      caller!.tier,
    ),
});

export const contextRoutes = [
  listCheckpointsRoute,
  getCheckpointRoute,
  takeCheckpointRoute,
  restoreCheckpointRoute,
  statusDashboardRoute,
  statusUpdateRoute,
  statusSweepRoute,
  listMemoryRoute,
  memoryStatsRoute,
  getMemoryRoute,
  putMemoryRoute,
  deleteMemoryRoute,
];
