import { z } from 'zod';
import { TierSchema } from './agent.ts';
import { SerializedErrorSchema } from './system.ts';

/**
 * Governance: run tokens (Vault), error budgets, policy violations and handoff reports.
 * See docs/governance.md. Only `agent.credentials.v1` ever carries a secret (a Vault token); every
 * other message names tokens by their accessor.
 */

/** The run token settings a run declares (the pipeline's `token:` block, see protocols/pipeline/schema.ts). */
export const GovernanceTokenSchema = z.object({
  ttlMs: z.number().int().positive(),
  renewEveryMs: z.number().int().positive(),
  maxTtlMs: z.number().int().positive().optional(),
  policies: z.array(z.string().min(1)).optional(),
});

/** A pipeline's error budget as resolved (protocols/pipeline/model.ts `ErrorBudget`). */
export const PipelineErrorBudgetSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('count'),
    maxErrors: z.number().int().nonnegative(),
    windowMs: z.number().int().positive(),
    warn: z.number().gt(0).max(1).optional(),
    breach: z.number().gt(0).max(1).optional(),
    diagnostic: z.string().min(1).optional(),
  }),
  z.object({
    kind: z.literal('slo'),
    slo: z.number().gt(0).lt(1),
    periodMs: z.number().int().positive(),
    burnWindowMs: z.number().int().positive().optional(),
    warnBurnRate: z.number().positive().optional(),
    breachBurnRate: z.number().positive().optional(),
    warn: z.number().gt(0).max(1).optional(),
    breach: z.number().gt(0).max(1).optional(),
    diagnostic: z.string().min(1).optional(),
  }),
]);

/**
 * What governance needs to know about a run; the orchestrator fills it on the `run-accepted`
 * event of `run.event.v1`.
 */
export const RunGovernanceSchema = z.object({
  /** The pipeline's name (token metadata, handoff reports). */
  pipeline: z.string().optional(),
  /** Tiers used by the run's stages; the run token's policies derive from them. */
  tiers: z.array(TierSchema),
  /** Tier each stage requires, by stage id; scopes the agent child tokens (default: the lowest tier of the run). */
  stageTiers: z.record(z.string(), TierSchema).optional(),
  token: GovernanceTokenSchema,
  errorBudget: PipelineErrorBudgetSchema.optional(),
  /** Diagnostic pipeline spawned on a breach (overrides `errorBudget.diagnostic`). */
  diagnostic: z.string().optional(),
});

export const TokenStateNameSchema = z.enum(['live', 'revoked', 'at-max-ttl', 'expired']);

export const TokenActionSchema = z.enum([
  'issued',
  'child-issued',
  'renewed',
  'renewal-failed',
  'max-ttl-reached',
  'revoked',
  'revoke-failed',
  'agents-suspended',
  'violation-accepted',
  'violation-refused',
]);

const ChildTokenSchema = z.object({
  agentId: z.string(),
  stageId: z.string().optional(),
  accessor: z.string(),
  tier: TierSchema,
  issuedAt: z.number(),
  /** False when issued after the run token's secret was lost (restart): revoked explicitly, not by cascade. */
  descendant: z.boolean(),
});

const BudgetWindowSchema = z.object({
  windowMs: z.number(),
  errors: z.number().int(),
  total: z.number().int(),
  burnRate: z.number(),
});

const HandoffErrorSchema = z.object({
  at: z.number(),
  source: z.string(),
  code: z.string().optional(),
  message: z.string().optional(),
  stageId: z.string().optional(),
  agentId: z.string().optional(),
  /** Set when the error came from a child run and was counted against this one. */
  childRunId: z.string().optional(),
});

/** The recovery brief written when a run's error budget is exhausted (docs/governance.md). */
export const HandoffReportSchema = z.object({
  reportId: z.string(),
  runId: z.string(),
  pipeline: z.string().optional(),
  parentRunId: z.string().optional(),
  createdAt: z.number(),
  reason: z.string(),
  failing: z.object({
    stageId: z.string().optional(),
    agentId: z.string().optional(),
    childRunId: z.string().optional(),
  }),
  budget: z.object({
    kind: z.enum(['count', 'slo']),
    verdict: z.enum(['ok', 'warn', 'breach']),
    breachedAt: z.number().optional(),
    windows: z.array(BudgetWindowSchema),
  }),
  errors: z.object({
    total: z.number().int(),
    byCode: z.record(z.string(), z.number().int()),
    timeline: z.array(HandoffErrorSchema),
  }),
  token: z.object({
    accessor: z.string().optional(),
    revoked: z.boolean(),
    revokedAt: z.number().optional(),
    reason: z.string().optional(),
    suspendedAgents: z.array(z.string()),
    error: SerializedErrorSchema.optional(),
  }),
  diagnostic: z.object({
    pipeline: z.string(),
    runId: z.string().optional(),
    error: SerializedErrorSchema.optional(),
  }),
  ledger: z.object({
    stream: z.string(),
    subjects: z.array(z.string()),
    fromSeq: z.number().int().optional(),
    toSeq: z.number().int().optional(),
    fromTs: z.number().optional(),
    toTs: z.number(),
    runIds: z.array(z.string()),
  }),
  nextSteps: z.array(z.string()),
});

const HandoffSummarySchema = z.object({
  reportId: z.string(),
  runId: z.string(),
  createdAt: z.number(),
  reason: z.string(),
});

export const governanceMessages = {
  /** Token authority (`gov.svc.token-authority`): issue the run token (idempotent per run). */
  'token.issue.v1': z.object({
    runId: z.string().min(1),
    pipeline: z.string().optional(),
    parentRunId: z.string().optional(),
    governance: RunGovernanceSchema.optional(),
  }),
  'token.issued.v1': z.object({
    runId: z.string(),
    accessor: z.string(),
    policies: z.array(z.string()),
    expiresAt: z.number(),
    maxExpiresAt: z.number(),
    /** False when the run already had a token (nothing was issued). */
    created: z.boolean(),
  }),
  /**
   * Revoke a run's token and every child (one call). `quarantineAgents` suspends exactly those agents
   * (the ones the evidence points at); `suspendAgents` (without it) suspends every agent of the run.
   */
  'token.revoke.v1': z.object({
    runId: z.string().min(1),
    reason: z.string().min(1),
    by: z.string().optional(),
    suspendAgents: z.boolean().default(false),
    quarantineAgents: z.array(z.string().min(1)).optional(),
  }),
  'token.revoked.v1': z.object({
    runId: z.string(),
    accessor: z.string().optional(),
    /** True when this call revoked a live token; false when it was already gone. */
    revoked: z.boolean(),
    revokedAt: z.number(),
    reason: z.string(),
    suspendedAgents: z.array(z.string()),
  }),
  /** Status by run id or accessor. */
  'token.status.v1': z.object({ runId: z.string().optional(), accessor: z.string().optional() }),
  'token.state.v1': z.object({
    runId: z.string(),
    pipeline: z.string().optional(),
    accessor: z.string().optional(),
    state: TokenStateNameSchema,
    policies: z.array(z.string()),
    issuedAt: z.number().optional(),
    expiresAt: z.number().optional(),
    maxExpiresAt: z.number().optional(),
    renewals: z.number().int(),
    lastRenewedAt: z.number().optional(),
    revokedAt: z.number().optional(),
    revokedReason: z.string().optional(),
    children: z.array(ChildTokenSchema),
  }),
  /** Token renewer (`gov.svc.token-renewer`): renew now (all due tokens, or one run's). */
  'token.renew.v1': z.object({ runId: z.string().optional() }),
  'token.renewed.v1': z.object({
    runs: z.array(
      z.object({
        runId: z.string(),
        accessor: z.string(),
        expiresAt: z.number(),
        renewals: z.number().int(),
        atMaxTtl: z.boolean(),
      }),
    ),
  }),
  /** Feed (`gov.obs.token.<accessor>`) and audit (`gov.audit.token`): what happened to a token. Never the token. */
  'token.event.v1': z.object({
    runId: z.string(),
    action: TokenActionSchema,
    accessor: z.string().optional(),
    parentAccessor: z.string().optional(),
    agentId: z.string().optional(),
    agentIds: z.array(z.string()).optional(),
    childAccessors: z.array(z.string()).optional(),
    policies: z.array(z.string()).optional(),
    expiresAt: z.number().optional(),
    ttlMs: z.number().optional(),
    reason: z.string().optional(),
    by: z.string().optional(),
    error: SerializedErrorSchema.optional(),
  }),
  /**
   * Deprecated (the system sends `agent.credentials.v2`): a child token in clear. Still accepted by the
   * agent actor, for external senders written against it; never sent by the token authority.
   */
  'agent.credentials.v1': z.object({
    runId: z.string(),
    token: z.string(),
    accessor: z.string(),
    expiresAt: z.number(),
    policies: z.array(z.string()).optional(),
    stageId: z.string().optional(),
    /** The stage attempt the token is for: an agent gives it to that attempt's task only. */
    attempt: z.number().int().nonnegative().optional(),
  }),
  /**
   * Token authority → one agent's inbox, only: the agent's child token, response-wrapped in Vault
   * (docs/security.md). `wrappingToken` is single-use with a TTL of `wrapTtlS`: the agent unwraps it
   * (`sys/wrapping/unwrap` with it as `X-Vault-Token`) and gets `{ token, accessor }`. Whoever else reads
   * the message holds a used token; if they unwrap first, the agent's unwrap fails and it reports it.
   */
  'agent.credentials.v2': z.object({
    runId: z.string(),
    wrappingToken: z.string(),
    wrapTtlS: z.number().int().positive(),
    accessor: z.string(),
    expiresAt: z.number(),
    policies: z.array(z.string()).optional(),
    stageId: z.string().optional(),
    attempt: z.number().int().nonnegative().optional(),
  }),
  /** A policy violation (to `gov.svc.token-authority`); the reporter must be T2 or allowlisted. Reply: token.revoked.v1. */
  'violation.report.v1': z.object({
    runId: z.string().min(1),
    agentId: z.string().optional(),
    reporterTier: TierSchema.optional(),
    policy: z.string().min(1),
    description: z.string(),
    evidence: z.record(z.string(), z.unknown()).optional(),
  }),
  /** An outcome counted against a run's error budget, on `gov.errors.<runId>` (runId = PIPELINE_ID for tools). */
  'budget.report.v1': z.object({
    runId: z.string().min(1),
    source: z.string().min(1),
    outcome: z.enum(['error', 'success']),
    code: z.string().optional(),
    message: z.string().optional(),
    stageId: z.string().optional(),
    agentId: z.string().optional(),
    /** The run that started this one, when the reporter knows it (a child pipeline's PIPELINE_ID parent). */
    parentRunId: z.string().optional(),
  }),
  /** Feed (`gov.obs.budget.<runId>`) and audit (`gov.audit.budget`). */
  'budget.event.v1': z.object({
    runId: z.string(),
    event: z.enum([
      'warn',
      'breach',
      'agents-suspended',
      'diagnostic-spawned',
      'diagnostic-failed',
      'agents-released',
    ]),
    verdict: z.enum(['ok', 'warn', 'breach']).optional(),
    windows: z.array(BudgetWindowSchema).optional(),
    childRunId: z.string().optional(),
    agentIds: z.array(z.string()).optional(),
    diagnosticPipeline: z.string().optional(),
    diagnosticRunId: z.string().optional(),
    error: SerializedErrorSchema.optional(),
  }),
  /** Budget monitor: a run's budget now (no counting). */
  'budget.status.v1': z.object({ runId: z.string().min(1) }),
  /** Operator control: forget a run's counted outcomes (its breach latch too). Reply budget.state.v1 after. */
  'budget.reset.v1': z.object({
    runId: z.string().min(1),
    by: z.string().min(1),
    reason: z.string().optional(),
  }),
  'budget.state.v1': z.object({
    runId: z.string(),
    kind: z.enum(['count', 'slo']),
    verdict: z.enum(['ok', 'warn', 'breach']),
    breached: z.boolean(),
    breachedAt: z.number().optional(),
    windows: z.array(BudgetWindowSchema),
    parentRunId: z.string().optional(),
  }),
  /** Feed (`gov.obs.handoff.<runId>`) and audit (`gov.audit.handoff`): a handoff report was stored. */
  'handoff.ready.v1': HandoffSummarySchema.extend({
    /** SHA-256 (hex) of the report's canonical JSON: evidence packages prove the report by it. */
    reportSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    diagnosticRunId: z.string().optional(),
    tokenAccessor: z.string().optional(),
  }),
  /** `gov.svc.handoff`: one report by id, or the latest of a run. */
  'handoff.get.v1': z.object({ reportId: z.string().optional(), runId: z.string().optional() }),
  'handoff.report.v1': z.object({ report: HandoffReportSchema }),
  'handoff.list.v1': z.object({ runId: z.string().min(1) }),
  'handoff.reports.v1': z.object({ runId: z.string(), reports: z.array(HandoffSummarySchema) }),
} as const;
