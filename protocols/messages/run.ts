import { z } from 'zod';
import { ScalarSchema } from '../pipeline/schema.ts';
import { RunGovernanceSchema } from './governance.ts';
import { SerializedErrorSchema } from './system.ts';
import { TierSchema } from './agent.ts';
import { RUN_STATUSES, STAGE_STATUSES } from '../vocabulary/run-status.ts';

/** Longest `run.request.v1` may ask admission to wait for an eligible agent (`waitForAgentMs`). */
export const MAX_ADMISSION_WAIT_MS = 10_000;

/** `contained`: stopped by governance (error budget breached, policy violation), see docs/governance.md. */
export const RunStatusSchema = z.enum(RUN_STATUSES);
export const StageStatusSchema = z.enum(STAGE_STATUSES);

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
  /** Set while an operator holds the run (run.pause.v1): nothing new is dispatched until run.resume.v1. */
  paused: z.object({ at: z.number(), by: z.string().optional(), reason: z.string().optional() }).optional(),
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
    /**
     * Admission refuses a run with a stage no registered live agent can serve (GOV_ERR_NO_ELIGIBLE_AGENT).
     * With this bound it waits up to that long for such an agent instead, then refuses. At most
     * {@link MAX_ADMISSION_WAIT_MS}: the waiting instance takes no other message meanwhile.
     */
    waitForAgentMs: z.number().int().positive().max(MAX_ADMISSION_WAIT_MS).optional(),
    /** `diagnostic`: spawned by the budget monitor on a breach; dispatched ahead of other runs. */
    purpose: z.enum(['diagnostic']).optional(),
  }),
  'run.accepted.v1': z.object({ runId: z.string(), pipeline: z.string(), stages: z.array(z.string()) }),
  /** `by`: who asked (the verified operator, when it comes through the control actor). */
  'run.cancel.v1': z.object({ runId: z.string(), reason: z.string().optional(), by: z.string().optional() }),
  /** Operator control: dispatch no new stage of the run until run.resume.v1 (in-flight tasks finish). Reply run.state.v1. */
  'run.pause.v1': z.object({ runId: z.string(), reason: z.string().optional(), by: z.string().optional() }),
  /** Operator control: dispatch a paused run's stages again. Reply run.state.v1. */
  'run.resume.v1': z.object({ runId: z.string(), reason: z.string().optional(), by: z.string().optional() }),
  /**
   * Stop a run at once because governance says so (`gov.contain.<runId>`, which only the budget monitor
   * and the token authority may publish): no further dispatch or retry, in-flight tasks cancelled, later
   * results rejected; the run ends `contained`. Reply (when asked): run.state.v1 from the run's owner.
   */
  'run.contain.v1': z.object({
    runId: z.string().min(1),
    cause: z.enum(['budget-exhausted', 'policy-violation']),
    reason: z.string().min(1).max(500),
    /** The agents the evidence points at (quarantined by the sender), for the record. */
    agentIds: z.array(z.string()).optional(),
  }),
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
      'run-contained',
      'stage-result-rejected',
    ]),
    stageId: z.string().optional(),
    attempt: z.number().int().optional(),
    agentId: z.string().optional(),
    fraction: z.number().optional(),
    /**
     * On stage-dispatched / stage-accepted of an agent that asked for JSON deliveries (its `encoding`):
     * `json`, so the token authority sends it credentials and commands as JSON too.
     */
    agentEncoding: z.enum(['msgpack', 'json']).optional(),
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
    /** On `run-contained`: why (budget-exhausted, policy-violation). */
    cause: z.string().optional(),
  }),
} as const;
