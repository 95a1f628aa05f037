/**
 * Reports that speak for another agent than the one the broker let publish them (docs/security.md,
 * "Agents: identity from the subject"): never applied; each is published on the feed
 *  (`gov.obs.forgery.<sender>`) and audited (`gov.audit.forgery.<self>`) as `identity.refused.v1`, once per
 * forged report (its id is the audit stream's dedup id, so the fast path and the durable copy, or two
 * instances, record it once).
 */
import type { IdentityRefusal } from '../../protocols/agent-identity.ts';
import { auditSubject, feedToken } from '../../protocols/subjects.ts';
import type { ActorContext } from '../runtime/actor-kind.ts';

export const FORGERY_AUDIT_CATEGORY = 'forgery';

export function publishForgedReport(ctx: ActorContext, refusal: IdentityRefusal, reportId: string): void {
  ctx.bus.metrics.inc('orchestrator.reports.forged');
  ctx.log.warn('report refused: it speaks for another agent than its sender', {
    sender: refusal.sender,
    claimed: refusal.claimed,
  });
  const env = ctx.bus.wrap({
    type: 'identity.refused.v1',
    body: refusal,
    ...(refusal.runId ? { run: refusal.runId } : {}),
  });
  try {
    ctx.bus.publishFeed([FORGERY_AUDIT_CATEGORY, feedToken(refusal.sender)], env);
  } catch (err) {
    ctx.log.warn('forgery not published on the feed', { error: String(err) });
  }
  ctx.bus
    .publishDurable(auditSubject(FORGERY_AUDIT_CATEGORY, ctx.bus.principal()), env, {
      msgId: `forged-${reportId}`,
    })
    .catch((err: unknown) => ctx.log.warn('forgery not audited', { error: String(err) }));
}
