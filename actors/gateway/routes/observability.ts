/**
 * `/api/observability/*`: handoff reports, policy violations, and diagnostic runs.
 */
import { z } from 'zod';
import { catalog } from '../../../protocols/index.ts';
import { DEFAULT_MAX_PIPELINE_BYTES, ScalarSchema } from '../../../protocols/pipeline/index.ts';
import { askService, relayService } from '../bus-call.ts';
import { defineRoute } from '../route-def.ts';
import { RunAcceptedSchema, requestRun } from './run-request.ts';
import { IdSchema, RunIdSchema } from '../schemas.ts';

const HandoffQuerySchema = z
  .object({
    runId: RunIdSchema.optional().describe('List the handoff reports of this run'),
    reportId: IdSchema.optional().describe('Get this handoff report'),
  })
  .refine((q) => (q.runId === undefined) !== (q.reportId === undefined), {
    message: 'give exactly one of runId or reportId',
    path: ['runId'],
  });

export const handoffGetRoute = defineRoute({
  method: 'GET',
  url: '/api/observability/handoff',
  operationId: 'getHandoff',
  summary: 'Handoff reports: one by id, or the list of a run',
  description:
    "With `reportId`: the full report (handoff.get.v1 → handoff.report.v1). With `runId`: the run's report summaries " +
    '(handoff.list.v1 → handoff.reports.v1). Asks the handoff service.',
  tag: 'observability',
  auth: 'T0',
  query: HandoffQuerySchema,
  responses: {
    200: {
      description: '`{report}` for a reportId, `{runId, reports}` for a runId',
      schema: z.union([catalog['handoff.report.v1'], catalog['handoff.reports.v1']]),
    },
  },
  errors: [404, 503, 504],
  async handle({ deps, query }) {
    if (query.reportId !== undefined) {
      const reply = await askService(
        deps,
        deps.settings.services.handoff,
        { type: 'handoff.get.v1', body: { reportId: query.reportId } },
        ['handoff.report.v1'],
      );
      return { status: 200, body: reply.body, runId: reply.body.report.runId };
    }
    return relayService(
      deps,
      deps.settings.services.handoff,
      { type: 'handoff.list.v1', body: { runId: query.runId! } },
      ['handoff.reports.v1'],
    );
  },
});

const ViolationSchema = z.strictObject({
  runId: RunIdSchema,
  policy: z.string().min(1).max(256).describe('The policy broken'),
  description: z.string().min(1).max(4_000),
  agentId: IdSchema.optional().describe('The offending agent, when known'),
  evidence: z.record(z.string(), z.unknown()).optional(),
});

export const handoffPostRoute = defineRoute({
  method: 'POST',
  url: '/api/observability/handoff',
  operationId: 'reportViolation',
  summary: "Report a policy violation: revoke the run's token and suspend its agents",
  description:
    "Sends violation.report.v1 to the token authority, which revokes the run token (and every child token) and suspends the run's agents. " +
    "Only T2 keys may call it; the gateway forwards the report under its own address with `reporterTier` = the key's tier and " +
    '`evidence.reportedBy` = `api:<key name>`, so the token authority must list the gateway in its `reporterAllowlist`. ' +
    'Handoff reports themselves are written by the budget monitor when a budget is exhausted; they are read with GET.',
  tag: 'observability',
  auth: 'T2',
  audit: true,
  body: ViolationSchema,
  responses: {
    200: {
      description: 'The revocation (`revoked: false` when the token was already gone)',
      schema: catalog['token.revoked.v1'],
    },
  },
  errors: [404, 503, 504],
  async handle({ deps, body, caller }) {
    return relayService(
      deps,
      deps.settings.services.tokenAuthority,
      {
        type: 'violation.report.v1',
        run: body.runId,
        body: {
          runId: body.runId,
          agentId: body.agentId,
          reporterTier: caller!.tier,
          policy: body.policy,
          description: body.description,
          evidence: { ...(body.evidence ?? {}), reportedBy: `api:${caller!.name}` },
        },
      },
      ['token.revoked.v1'],
    );
  },
});

const DiagnosticSchema = z
  .strictObject({
    runId: RunIdSchema.describe('The run to diagnose: the diagnostic run is its child (parentRunId)'),
    file: z
      .string()
      .min(1)
      .max(1_024)
      .optional()
      .describe("A pipeline file the orchestrator can read (default: the gateway's diagnosticFile)"),
    yaml: z
      .string()
      .min(1)
      .max(DEFAULT_MAX_PIPELINE_BYTES)
      .optional()
      .describe('The diagnostic pipeline text instead of a file'),
    params: z.record(z.string(), ScalarSchema).default({}),
  })
  .refine((b) => b.file === undefined || b.yaml === undefined, {
    message: 'give file or yaml, not both',
    path: ['yaml'],
  });

export const diagnosticRoute = defineRoute({
  method: 'POST',
  url: '/api/observability/diagnostic',
  operationId: 'spawnDiagnostic',
  summary: 'Spawn a diagnostic pipeline for a run',
  description:
    'Sends run.request.v1 with `parentRunId` to the orchestrator. 202 with the new run id; follow it at /api/pipelines/{id}. ' +
    "With neither `file` nor `yaml`, runs the gateway's diagnosticFile with `failedRunId` = `runId` (as the budget monitor does).",
  tag: 'observability',
  auth: 'T2',
  audit: true,
  body: DiagnosticSchema,
  responses: { 202: { description: 'Accepted', schema: RunAcceptedSchema } },
  errors: [503, 504],
  async handle({ deps, body, caller }) {
    const source =
      body.yaml !== undefined ? { yaml: body.yaml } : { file: body.file ?? deps.settings.diagnosticFile };
    // The default diagnostic pipeline takes the diagnosed run as `failedRunId`, as when the budget monitor spawns it.
    const params =
      body.yaml === undefined && body.file === undefined
        ? { failedRunId: body.runId, ...body.params }
        : body.params;
    return requestRun(deps, {
      ...source,
      params,
      parentRunId: body.runId,
      requestedBy: `api:${caller!.name}`,
    });
  },
});

export const observabilityRoutes = [handoffGetRoute, handoffPostRoute, diagnosticRoute];
