import { z } from 'zod';
import { ScalarSchema } from '../pipeline/schema.ts';
import { RunGovernanceSchema } from './governance.ts';
import { SerializedErrorSchema } from './system.ts';
import { TierSchema } from './agent.ts';

export const RunStatusSchema = z.enum(['pending', 'running', 'succeeded', 'failed', 'cancelled']);
export const StageStatusSchema = z.enum([
  'pending',
  'dispatched',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
]);

export const StageStateSchema = z.object({
  stageId: z.string(),
  status: StageStatusSchema,
  attempt: z.number().int().nonnegative(),
  agentId: z.string().optional(),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
  error: SerializedErrorSchema.optional(),
  output: z.unknown().optional(),
});

export const RunStateSchema = z.object({
  runId: z.string(),
  pipeline: z.string(),
  status: RunStatusSchema,
  parentRunId: z.string().optional(),
  /**
   * The run's tier: the effective tier it was admitted at (its stages, children, diagnostic and token
   * policies), or for a child run its own stages'. The gateway redacts stage outputs for keys below it.
   */
  tier: TierSchema.optional(),
  params: z.record(z.string(), ScalarSchema),
  createdAt: z.number(),
  finishedAt: z.number().optional(),
  stages: z.array(StageStateSchema),
  error: SerializedErrorSchema.optional(),
});

/** Pipeline runs: submit, follow, cancel (subject `gov.svc.orchestrator`). */
export const runMessages = {
  /**
   * Submit a run. Exactly one of `yaml` (the pipeline file's text) or `file` (a path the
   * orchestrator can read). Reply at once: run.accepted.v1 with the run id, or GOV_ERR_PIPELINE_INVALID.
   */
  'run.request.v1': z.object({
    yaml: z.string().optional(),
    file: z.string().optional(),
    params: z.record(z.string(), ScalarSchema).default({}),
    /** Set when a stage starts a child pipeline (its PIPELINE_ID). */
    parentRunId: z.string().optional(),
    requestedBy: z.string().optional(),
    /**
     * The tier of whoever asked, as the gateway verified it (its API key's tier). The orchestrator
     * refuses the run when its effective tier (protocols/pipeline/effective-tier.ts) is above it.
     * Absent: a system requester (the CLI, the budget monitor, a parent run), admitted as T2.
     */
    callerTier: TierSchema.optional(),
  }),
  'run.accepted.v1': z.object({ runId: z.string(), pipeline: z.string(), stages: z.array(z.string()) }),
  'run.cancel.v1': z.object({ runId: z.string(), reason: z.string().optional() }),
  'run.get.v1': z.object({ runId: z.string() }),
  'run.list.v1': z.object({
    status: RunStatusSchema.optional(),
    limit: z.number().int().positive().max(1000).default(50),
  }),
  'run.state.v1': RunStateSchema,
  'run.states.v1': z.object({ runs: z.array(RunStateSchema) }),
  /** Feed/audit event of a run's progress (`gov.obs.run.<runId>`). */
  'run.event.v1': z.object({
    runId: z.string(),
    event: z.enum([
      'run-accepted',
      'run-started',
      'stage-dispatched',
      'stage-accepted',
      'stage-progress',
      'stage-succeeded',
      'stage-failed',
      'stage-retrying',
      'stage-skipped',
      'stage-timed-out',
      'run-succeeded',
      'run-failed',
      'run-cancelled',
      'run-resumed',
    ]),
    stageId: z.string().optional(),
    attempt: z.number().int().optional(),
    agentId: z.string().optional(),
    fraction: z.number().optional(),
    error: SerializedErrorSchema.optional(),
    parentRunId: z.string().optional(),
    /** Filled on `run-accepted`: what the governance actors need (token, tiers, error budget). */
    governance: RunGovernanceSchema.optional(),
    /** On `run-accepted`: SHA-256 (hex) of the pipeline file's text, as submitted. */
    pipelineSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    /** On `stage-succeeded`: SHA-256 (hex) of the task output's canonical JSON (evidence packages list it). */
    outputDigest: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  }),
} as const;
