import { z } from 'zod';
import { TierSchema } from './agent.ts';

/**
 * The HTTP gateway's audit record (`gov.audit.api`): one per state-changing API call made with a
 * valid key, whatever its outcome. Names the key, never carries it.
 */
export const apiMessages = {
  'api.call.v1': z.object({
    method: z.string().min(1),
    /** The route pattern (`/api/pipelines`), never the raw URL with its query. */
    route: z.string().min(1),
    /** HTTP status answered. */
    status: z.number().int(),
    /** Name of the API key used (from the key configuration). */
    keyName: z.string().min(1),
    tier: TierSchema,
    /** The run the call was about, when it named or created one. */
    runId: z.string().optional(),
    requestId: z.string().min(1),
    durationMs: z.number().nonnegative(),
    /** The error code when the call failed. */
    errorCode: z.string().optional(),
  }),
} as const;
