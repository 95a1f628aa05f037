/**
 * `/api/pipeline/*`: what a running pipeline (or the tool driving it) does about its own run —
 * its token's lifecycle and its error budget.
 */
import { z } from 'zod';
import { catalog } from '../../../protocols/index.ts';
import { NotFoundError } from '../../../protocols/index.ts';
import { errorsSubject } from '../../../protocols/index.ts';
import { askService, relayService } from '../bus-call.ts';
import { defineRoute } from '../route-def.ts';
import { requireRunAccess } from '../run-access.ts';
import { RunIdSchema } from '../schemas.ts';

const TokenRequestSchema = z.strictObject({
  runId: RunIdSchema,
  action: z
    .enum(['issue', 'renew'])
    .default('issue')
    .describe('`issue` the run token (idempotent per run) or `renew` it now'),
  pipeline: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe('Pipeline name, recorded with a newly issued token'),
  parentRunId: RunIdSchema.optional().describe('The run that started this one'),
});

const TokenResponseSchema = z
  .object({
    runId: z.string(),
    action: z.enum(['issue', 'renew']),
    accessor: z
      .string()
      .describe('Vault accessor of the run token (the token itself only ever goes to agents)'),
    ttlMs: z.number().describe('Milliseconds until the token expires unless renewed'),
    expiresAt: z.number(),
    policies: z.array(z.string()).optional(),
    maxExpiresAt: z.number().optional(),
    created: z.boolean().optional().describe('issue: false when the run already had a token'),
    renewals: z.number().int().optional(),
    atMaxTtl: z.boolean().optional().describe('renew: true when the token reached its max TTL'),
  })
  .describe('A run token, by accessor');

export const tokenRoute = defineRoute({
  method: 'POST',
  url: '/api/pipeline/token',
  operationId: 'issueOrRenewRunToken',
  summary: "Issue or renew a run's Vault token",
  description:
    '`issue` asks the token authority (token.issue.v1); `renew` asks the token renewer (token.renew.v1). ' +
    'The answer names the token by accessor with its TTL: the token itself is never returned over HTTP, only delivered to agents.',
  tag: 'pipeline',
  auth: 'T2',
  audit: true,
  body: TokenRequestSchema,
  responses: { 200: { description: 'The token, by accessor', schema: TokenResponseSchema } },
  errors: [404, 503, 504],
  async handle({ deps, body }) {
    const now = deps.clock.now();
    if (body.action === 'issue') {
      const reply = await askService(
        deps,
        deps.settings.services.tokenAuthority,
        {
          type: 'token.issue.v1',
          body: { runId: body.runId, pipeline: body.pipeline, parentRunId: body.parentRunId },
        },
        ['token.issued.v1'],
      );
      const t = reply.body;
      return {
        status: 200,
        body: {
          runId: t.runId,
          action: 'issue',
          accessor: t.accessor,
          ttlMs: Math.max(0, t.expiresAt - now),
          expiresAt: t.expiresAt,
          maxExpiresAt: t.maxExpiresAt,
          policies: t.policies,
          created: t.created,
        },
      };
    }
    const reply = await askService(
      deps,
      deps.settings.services.tokenRenewer,
      { type: 'token.renew.v1', body: { runId: body.runId } },
      ['token.renewed.v1'],
    );
    const r = reply.body.runs.find((x) => x.runId === body.runId);
    if (!r)
      throw new NotFoundError(`run ${body.runId} has no live token to renew`, {
        details: { runId: body.runId },
      });
    return {
      status: 200,
      body: {
        runId: r.runId,
        action: 'renew',
        accessor: r.accessor,
        ttlMs: Math.max(0, r.expiresAt - now),
        expiresAt: r.expiresAt,
        renewals: r.renewals,
        atMaxTtl: r.atMaxTtl,
      },
    };
  },
});

const ErrorReportSchema = z.strictObject({
  runId: RunIdSchema,
  outcome: z
    .enum(['error', 'success'])
    .describe('An error counts against the budget; a success counts toward the total (SLO budgets)'),
  source: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe('What reports it; recorded as `api:<key name>:<source>`'),
  code: z.string().min(1).max(128).optional(),
  message: z.string().max(2_000).optional(),
  stageId: z.string().min(1).max(256).optional(),
  agentId: z.string().min(1).max(128).optional(),
  parentRunId: RunIdSchema.optional(),
});

const ErrorReportAcceptedSchema = z.object({
  accepted: z.literal(true),
  runId: z.string(),
  subject: z.string(),
  source: z.string(),
});

export const reportErrorRoute = defineRoute({
  method: 'POST',
  url: '/api/pipeline/errors',
  operationId: 'reportOutcome',
  summary: "Report an error or a success against a run's error budget",
  description:
    "Publishes budget.report.v1 on the run's errors subject (`gov.errors.<runId>`), where the budget monitor counts it. " +
    'Fire and forget: 202 once published. The source is prefixed with the key name so reports cannot impersonate an agent. ' +
    "A key below T2 may report only about a run the orchestrator knows (404 otherwise) whose tier is at most the key's (403 otherwise).",
  tag: 'pipeline',
  auth: 'T1',
  audit: true,
  body: ErrorReportSchema,
  responses: { 202: { description: 'Published', schema: ErrorReportAcceptedSchema } },
  errors: [404, 503, 504],
  async handle({ deps, body, caller }) {
    await requireRunAccess(deps, caller!, body.runId, 'reporting an outcome');
    const source = `api:${caller!.name}${body.source ? `:${body.source}` : ''}`;
    const subject = errorsSubject(body.runId);
    deps.bus.tell(subject, {
      type: 'budget.report.v1',
      run: body.runId,
      body: {
        runId: body.runId,
        source,
        outcome: body.outcome,
        code: body.code,
        message: body.message,
        stageId: body.stageId,
        agentId: body.agentId,
        parentRunId: body.parentRunId,
      },
    });
    await deps.bus.flush();
    return { status: 202, body: { accepted: true, runId: body.runId, subject, source } };
  },
});

/** Passed through as the budget monitor answers it. */
const BudgetStateSchema = catalog['budget.state.v1'];

export const budgetStatusRoute = defineRoute({
  method: 'GET',
  url: '/api/pipeline/errors',
  operationId: 'getBudgetState',
  summary: "A run's error budget now",
  description: 'Asks the budget monitor (budget.status.v1 → budget.state.v1). Counts nothing.',
  tag: 'pipeline',
  auth: 'T0',
  query: z.object({ runId: RunIdSchema }),
  responses: { 200: { description: 'The budget', schema: BudgetStateSchema } },
  errors: [404, 503, 504],
  async handle({ deps, query }) {
    return relayService(
      deps,
      deps.settings.services.budgetMonitor,
      { type: 'budget.status.v1', body: { runId: query.runId } },
      ['budget.state.v1'],
    );
  },
});

export const pipelineRoutes = [tokenRoute, reportErrorRoute, budgetStatusRoute];
