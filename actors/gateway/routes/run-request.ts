/** Starting a run over HTTP, shared by `POST /api/pipelines` and `POST /api/observability/diagnostic`. */
import { z } from 'zod';
import type { BodyIn } from '../../../protocols/index.ts';
import { askService } from '../bus-call.ts';
import type { GatewayDeps, RouteResult } from '../route-def.ts';

/** The 202 answer of a started run. */
export const RunAcceptedSchema = z.object({
  runId: z.string(),
  pipeline: z.string(),
  stages: z.array(z.string()),
  parentRunId: z.string().optional(),
  location: z.string().describe('Where to follow the run'),
});

/**
 * Asks the orchestrator to start a run (run.request.v1 → run.accepted.v1) and answers 202 with the
 * run's location. A child run (`parentRunId`) is sent as about its parent, and audited as such.
 */
export async function requestRun(deps: GatewayDeps, body: BodyIn<'run.request.v1'>): Promise<RouteResult> {
  const { parentRunId } = body;
  const reply = await askService(
    deps,
    deps.settings.services.orchestrator,
    parentRunId === undefined
      ? { type: 'run.request.v1', body }
      : { type: 'run.request.v1', run: parentRunId, body },
    ['run.accepted.v1'],
  );
  const { runId, pipeline, stages } = reply.body;
  const location = `/api/pipelines/${encodeURIComponent(runId)}`;
  return {
    status: 202,
    headers: { location },
    body:
      parentRunId === undefined
        ? { runId, pipeline, stages, location }
        : { runId, pipeline, stages, parentRunId, location },
    runId: parentRunId ?? runId,
  };
}
