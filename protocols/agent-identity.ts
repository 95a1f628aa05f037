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
import { ForbiddenError } from './vocabulary/errors.ts';
import type { BodyOf } from './catalog.ts';
import { AgentStateSchema } from './messages/agent.ts';
import { agentPrincipalName } from './permissions.ts';

export { agentPrincipalName };
import {
  auditSenderOf,
  auditSubject,
  heartbeatSenderOf,
  registrationSenderOf,
  isSubjectToken,
  resultsSenderOf,
} from './subjects.ts';
import { isTier, type Tier, tierAtLeast } from './vocabulary/tiers.ts';

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

/**
 * The tier an agent's heartbeat or lifecycle transition may be believed at: the tier it states, never
 * above its credential's — the tier of its last registration, which the broker checked
 * (`gov.agents.register.<tier>.<id>`). A lower statement is believed (a demotion takes effect at once);
 * a higher one is not (a promotion takes effect with a credential of the new tier). An agent whose
 * registration the receiver has not heard yet (it restarted) is believed at T0 until it re-registers,
 * which agents do every few seconds (docs/protocol.md).
 */
export function boundedTier(claimed: Tier, credential: Tier | undefined): Tier {
  if (credential === undefined) return 'T0';
  return tierAtLeast(credential, claimed) ? claimed : credential;
}

/** What an `identity.refused.v1` says: the verified sender, what the body claimed instead, and why. */
export type IdentityRefusal = BodyOf<'identity.refused.v1'>;

/**
 * The agent a progress report or result comes from: the one its subject names
 * (`gov.results.<kind>.<agentId>`, where only that agent's credential may publish). ForbiddenError when
 * the subject is no agent-results subject or the body names another agent.
 */
export function verifiedReportSender(
  subject: string,
  body: { agentId: string; runId?: string },
  messageType: string,
): string {
  const sender = resultsSenderOf(subject);
  if (sender && sender.agentId === body.agentId) return sender.agentId;
  throw new ForbiddenError(
    `${messageType} on ${subject} speaks for agent ${body.agentId}: an agent reports only as itself`,
    {
      details: {
        subject,
        messageType,
        sender: sender?.agentId ?? null,
        claimed: { agentId: body.agentId },
        ...(body.runId ? { runId: body.runId } : {}),
      },
    },
  );
}

/**
 * Where agent `agentId` appends its audit events: `gov.audit.agent.agent-<agentId>`, under its principal
 * name, the only agent audit subject its credential may publish on; the ledger records that name as
 * the entry's verified `sender`.
 */
export function agentAuditSubject(agentId: string): string {
  return auditSubject('agent', agentPrincipalName(agentId));
}

/**
 * An agent's audit event (`gov.audit.agent.agent-<agentId>`) whose body names another agent: the
 * refusal to record instead of it, else undefined. Events on other audit subjects are not judged here.
 */
export function forgedAgentAudit(
  subject: string,
  env: { type: string; body: unknown; run?: string },
  receiver: string,
): IdentityRefusal | undefined {
  if (!subject.startsWith(`${auditSubject('agent')}.`)) return undefined;
  const sender = auditSenderOf(subject);
  const claimed = (env.body as { agentId?: unknown } | null)?.agentId;
  const claimedName =
    typeof claimed === 'string' && isSubjectToken(claimed) ? agentPrincipalName(claimed) : '';
  if (sender !== undefined && (claimed === undefined || claimedName === sender)) return undefined;
  return {
    sender: sender ?? 'unknown',
    subject,
    messageType: env.type,
    claimed: { agentId: claimed ?? null },
    receiver,
    reason: `an audit event on ${subject} speaks for agent ${String(claimed)}: recorded as refused, not as its`,
    ...(env.run ? { runId: env.run } : {}),
  };
}

/** The `identity.refused.v1` body for a ForbiddenError of {@link verifiedReportSender}. */
export function refusedReport(error: ForbiddenError, receiver: string): IdentityRefusal {
  const d = (error.details ?? {}) as {
    subject?: string;
    messageType?: string;
    sender?: string | null;
    claimed?: Record<string, unknown>;
    runId?: string;
  };
  return {
    sender: d.sender ?? 'unknown',
    subject: d.subject ?? '',
    messageType: d.messageType ?? '',
    claimed: d.claimed ?? {},
    receiver,
    reason: error.message,
    ...(d.runId ? { runId: d.runId } : {}),
  };
}

/**
 * The tier an agent's user JWT lets it register at (its `gov.agents.register.<tier>.<id>` grant), else
 * undefined: the credential, not the agent's own idea of its tier, says where it may register.
 */
export function registrationTierOf(jwt: string | undefined, agentId: string): Tier | undefined {
  if (!jwt) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as {
      nats?: { pub?: { allow?: string[] } };
    };
    for (const s of claims.nats?.pub?.allow ?? []) {
      const sender = registrationSenderOf(s);
      if (sender && sender.agentId === agentId && isTier(sender.tier)) return sender.tier;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
