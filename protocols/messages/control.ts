import { z } from 'zod';
import { TierSchema } from './agent.ts';

/**
 * Operator controls (docs/protocol.md, "Operator controls"). Sent on `gov.ctl.<tier>.<principal>`
 * (protocols/subjects.ts `controlSubject`): the broker lets a principal publish there only with its
 * own name and the tier its credential grants (protocols/permissions.ts), so the control actor takes
 * the caller's tier and identity from the subject, never from the body.
 */
const id = z.string().min(1).max(128);
const reason = z.string().max(1024).optional();
/** The API key a gateway verified; recorded only when the sender is a gateway. */
const onBehalfOf = z.string().min(1).max(64).optional();

export const AGENT_CONTROLS = ['suspend', 'resume', 'release', 'promote', 'demote', 'drain'] as const;
export const RUN_CONTROLS = ['cancel', 'pause', 'resume'] as const;
export const BUDGET_CONTROLS = ['show', 'reset'] as const;
export const TOKEN_CONTROLS = ['revoke'] as const;

export const ControlTargetSchema = z.enum(['agent', 'run', 'budget', 'token']);

export const ControlCommandSchema = z.discriminatedUnion('on', [
  z.object({ on: z.literal('agent'), id, command: z.enum(AGENT_CONTROLS), reason, onBehalfOf }),
  z.object({ on: z.literal('run'), id, command: z.enum(RUN_CONTROLS), reason, onBehalfOf }),
  z.object({ on: z.literal('budget'), id, command: z.enum(BUDGET_CONTROLS), reason, onBehalfOf }),
  z.object({ on: z.literal('token'), id, command: z.enum(TOKEN_CONTROLS), reason, onBehalfOf }),
]);

export const controlMessages = {
  /**
   * An operator control, to the control actor on `gov.ctl.<tier>.<principal>`. Reply:
   * control.result.v1, or a typed error (GOV_ERR_TIER_FORBIDDEN, GOV_ERR_NOT_FOUND, …).
   */
  'control.command.v1': ControlCommandSchema,
  /** What a control did: the verified actor and tier, and the answer of the service that applied it. */
  'control.result.v1': z.object({
    on: ControlTargetSchema,
    id: z.string(),
    command: z.string(),
    /** The verified caller: the principal of the subject, `/key-name` added for a gateway. */
    actor: z.string(),
    tier: TierSchema,
    outcome: z.enum(['applied', 'refused']),
    /** The applying service's reply body (agent state, run state, budget state, revocation). */
    detail: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    /**
     * A control that cannot be undone: the checkpoint taken just before it was applied (`before-control`),
     * or why there is none (no checkpoint actor answered in time; the control was applied anyway).
     */
    checkpoint: z.object({ id: z.string().optional(), missing: z.string().optional() }).optional(),
  }),
} as const;
