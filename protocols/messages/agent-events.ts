import { z } from 'zod';
import { TierSchema } from './agent.ts';
import { SerializedErrorSchema } from './system.ts';

const agentId = z.string().min(1);

/**
 * What a governed agent reports about itself besides the agent protocol (docs/agents.md):
 * lifecycle transitions and command outcomes on the feed `gov.obs.agent.<agentId>`, policy violations
 * on `gov.obs.violation.<agentId>`; each is also appended to the AUDIT stream (`gov.audit.agent`).
 */
export const agentEventMessages = {
  /**
   * A lifecycle transition (state and/or tier changed). `event` is the lifecycle event
   * (BOOTSTRAP, ASSIGN_TASK, PROMOTE…) or RESTORE when a restarted agent resumed its persisted state.
   */
  'agent.transition.v1': z.object({
    agentId,
    from: z.string(),
    to: z.string(),
    event: z.string(),
    tier: TierSchema,
    fromTier: TierSchema.optional(),
    team: z.string().optional(),
    role: z.string().optional(),
    restarts: z.number().int().nonnegative().optional(),
    reason: z.string().optional(),
  }),
  /** A policy violation: a task beyond the agent's tier was refused (`task-tier`), or a QUARANTINE (`policy`). */
  'agent.violation.v1': z.object({
    agentId,
    kind: z.enum(['task-tier', 'policy']),
    tier: TierSchema,
    reason: z.string(),
    taskId: z.string().optional(),
    taskKind: z.string().optional(),
    requiredTier: TierSchema.optional(),
    runId: z.string().optional(),
    stageId: z.string().optional(),
  }),
  /**
   * A message whose body spoke for someone other than the sender the broker verified (the subject it
   * was let publish on): not applied, published on the feed (`gov.obs.forgery.<sender>`) and audited
   * (`gov.audit.forgery`) by the receiver that refused it. `sender` is the verified agent or principal,
   * `claimed` what the body said (another agent id, a higher tier), `messageType` what was refused.
   */
  'identity.refused.v1': z.object({
    sender: z.string().min(1),
    subject: z.string(),
    messageType: z.string(),
    claimed: z.record(z.string(), z.unknown()),
    receiver: z.string(),
    reason: z.string(),
    runId: z.string().optional(),
  }),
  /** Every agent.command.v1, applied or refused, with who sent it (audited). */
  'agent.command.outcome.v1': z.object({
    agentId,
    command: z.string(),
    by: z.string(),
    byTier: TierSchema,
    reason: z.string().optional(),
    outcome: z.enum(['applied', 'refused']),
    error: SerializedErrorSchema.optional(),
    fromState: z.string(),
    toState: z.string(),
    fromTier: TierSchema,
    toTier: TierSchema,
  }),
  /**
   * Internal to one agent: fed back into its own mailbox (ctx.self) so task completion and bootstrap
   * retries are serialized with everything else. Carries a per-incarnation nonce; the same type
   * arriving from the bus is refused and dead-lettered.
   */
  'agent.internal.v1': z.discriminatedUnion('event', [
    z.object({ event: z.literal('task-finished'), nonce: z.string(), taskId: z.string() }),
    z.object({ event: z.literal('retry-bootstrap'), nonce: z.string() }),
  ]),
} as const;
