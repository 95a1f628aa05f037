/**
 * `/api/pipelines`: start runs and follow them (the orchestrator's run.* protocol).
 */
import { z } from 'zod';
import { catalog } from '../../../protocols/index.ts';
import { ForbiddenError, TierForbiddenError } from '../../../protocols/index.ts';
import { assertAdmissible, parsePipeline } from '../../../protocols/pipeline/index.ts';
import { DEFAULT_MAX_PIPELINE_BYTES, ScalarSchema } from '../../../protocols/pipeline/index.ts';
import type { Caller } from '../auth.ts';
import { requireTier } from '../auth.ts';
import { askService } from '../bus-call.ts';
import { redactRunFor } from '../run-access.ts';
import { defineRoute } from '../route-def.ts';
import { IdSchema } from '../schemas.ts';
import { RunAcceptedSchema, requestRun } from './run-request.ts';

const RunRequestSchema = z
  .strictObject({
    yaml: z
      .string()
      .min(1)
      .max(DEFAULT_MAX_PIPELINE_BYTES)
      .optional()
      .describe("The pipeline file's text (at most DEFAULT_MAX_PIPELINE_BYTES characters)"),
    file: z
      .string()
      .min(1)
      .max(1_024)
      .optional()
      .describe('A pipeline file the orchestrator can read (T2 keys only)'),
    params: z.record(z.string(), ScalarSchema).default({}).describe('Run parameters'),
  })
  .refine((b) => (b.yaml === undefined) !== (b.file === undefined), {
    message: 'give exactly one of yaml or file',
    path: ['yaml'],
  });

/**
 * A key may start a pipeline only if it may do everything the run can reach: the effective tier
 * (protocols/pipeline/effective-tier.ts) of its stages, the templates they name, the diagnostic and the
 * token policies. Here only what the text itself holds is checked (child files live on the
 * orchestrator's side); the orchestrator repeats the whole check with the files, given the key's tier
 * (`callerTier`). A `file` is read on the orchestrator's side, so naming one takes a T2 key. Text that
 * does not parse is left to the orchestrator, which answers with every diagnostic.
 */
export async function checkRunTier(caller: Caller, body: { yaml?: string; file?: string }): Promise<void> {
  if (body.file !== undefined) {
    requireTier(caller, 'T2', 'starting a pipeline from a server-side file');
    return;
  }
  const parsed = parsePipeline(body.yaml ?? '');
  if (!parsed.ok) return;
  try {
    await assertAdmissible(parsed.pipeline, caller.tier, async () => undefined, `key ${caller.name}`);
  } catch (err) {
    if (err instanceof TierForbiddenError)
      throw new ForbiddenError(err.message, { details: { ...err.details, keyName: caller.name } });
    throw err;
  }
}

export const startRunRoute = defineRoute({
  method: 'POST',
  url: '/api/pipelines',
  operationId: 'startRun',
  summary: 'Start a pipeline run',
  description:
    'Sends run.request.v1 to the orchestrator; 202 with the run id once it is accepted, 400 with file:line:column diagnostics when the pipeline is invalid. ' +
    'The key must be at least the tier of every stage of the pipeline (403 otherwise); `file` needs a T2 key.',
  tag: 'pipelines',
  auth: 'T1',
  audit: true,
  body: RunRequestSchema,
  responses: { 202: { description: 'Accepted', schema: RunAcceptedSchema } },
  errors: [503, 504],
  async handle({ deps, body, caller }) {
    await checkRunTier(caller!, body);
    return requestRun(deps, {
      yaml: body.yaml,
      file: body.file,
      params: body.params,
      requestedBy: `api:${caller!.name}`,
      callerTier: caller!.tier,
    });
  },
});

export const getRunRoute = defineRoute({
  method: 'GET',
  url: '/api/pipelines/:id',
  operationId: 'getRun',
  summary: "A run's state",
  description:
    'Asks the orchestrator (run.get.v1 → run.state.v1): status, tier, stages, errors. ' +
    "A key below the run's tier gets every stage output (and error details) redacted.",
  tag: 'pipelines',
  auth: 'T0',
  params: z.object({ id: IdSchema.describe('Run id') }),
  responses: { 200: { description: 'The run', schema: catalog['run.state.v1'] } },
  errors: [404, 503, 504],
  async handle({ deps, params, caller }) {
    const reply = await askService(
      deps,
      deps.settings.services.orchestrator,
      { type: 'run.get.v1', body: { runId: params.id } },
      ['run.state.v1'],
    );
    return { status: 200, body: redactRunFor(caller!, reply.body) };
  },
});

export const listRunsRoute = defineRoute({
  method: 'GET',
  url: '/api/pipelines',
  operationId: 'listRuns',
  summary: 'Recent runs',
  description:
    "Asks the orchestrator (run.list.v1 → run.states.v1), newest first; outputs redacted below each run's tier.",
  tag: 'pipelines',
  auth: 'T0',
  query: z.object({
    status: z.enum(['pending', 'running', 'succeeded', 'failed', 'cancelled', 'contained']).optional(),
    limit: z.coerce.number().int().positive().max(1000).default(50),
  }),
  responses: { 200: { description: 'The runs', schema: catalog['run.states.v1'] } },
  errors: [503, 504],
  async handle({ deps, query, caller }) {
    const reply = await askService(
      deps,
      deps.settings.services.orchestrator,
      { type: 'run.list.v1', body: { status: query.status, limit: query.limit } },
      ['run.states.v1'],
    );
    return { status: 200, body: { runs: reply.body.runs.map((r) => redactRunFor(caller!, r)) } };
  },
});

export const pipelinesRoutes = [startRunRoute, listRunsRoute, getRunRoute];
