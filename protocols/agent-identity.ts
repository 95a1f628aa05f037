/**
 * Who an agent is, from the subject the broker let it publish on (docs/security.md): an agent may
 * publish heartbeats only on `gov.sys.hb.agent.<its id>` and registrations only on
 * `gov.agents.register.<its credential's tier>.<its id>`. Receivers (orchestrators, the agent
 * directory) take the id from there, and a registration's tier; a body naming another agent is a
 * forgery and is refused (dead letter, `gov.obs.dlq.GOV_ERR_FORBIDDEN`). Open (docs/security.md,
 * Status): heartbeats and lifecycle transitions still carry a tier the agent states, because an
 * in-process promotion does not yet come with a new credential.
 */
import type { z } from 'zod';
import { ForbiddenError } from './errors.ts';
import type { BodyOf } from './catalog.ts';
import { AgentStateSchema } from './messages/agent.ts';
import { heartbeatSenderOf, registrationSenderOf } from './subjects.ts';
import { isTier } from './tiers.ts';

type AgentState = z.output<typeof AgentStateSchema>;

/** A registration as the credential says it: the tier from the subject; ForbiddenError for another agent. */
export function verifiedRegistration(subject: string, body: BodyOf<'agent.register.v1'>): AgentState {
  const sender = registrationSenderOf(subject);
  if (!sender || !isTier(sender.tier) || sender.agentId !== body.agentId)
    throw new ForbiddenError(
      `agent.register.v1 for ${body.agentId} on ${subject}: an agent registers only as itself`,
      { details: { subject, claimedAgentId: body.agentId, claimedTier: body.tier } },
    );
  return { ...body, tier: sender.tier };
}

/**
 * A heartbeat's agent status, if any, once its body is checked against the subject: undefined for a
 * heartbeat without an agent status; ForbiddenError when the body names another actor or agent.
 */
export function verifiedHeartbeatStatus(
  subject: string,
  body: BodyOf<'actor.heartbeat.v1'>,
): AgentState | undefined {
  const sender = heartbeatSenderOf(subject);
  const status = body.status === undefined ? undefined : AgentStateSchema.safeParse(body.status);
  const named = status?.success ? status.data.agentId : body.actorId;
  if (!sender || sender.id !== body.actorId || sender.kind !== body.kind || named !== sender.id)
    throw new ForbiddenError(`a heartbeat on ${subject} speaks for ${body.kind}/${named}: refused`, {
      details: { subject, claimedActorId: body.actorId, claimedAgentId: named },
    });
  return status?.success ? status.data : undefined;
}
