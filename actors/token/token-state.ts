/** What the token authority answers to token.status.v1: a run's token and its children, from the store. */
import { type BodyOf, NotFoundError } from '../../protocols/index.ts';
import type { TokenStore } from './token-store.ts';

export async function tokenState(
  store: TokenStore,
  now: number,
  runIdOrUndefined: string | undefined,
  accessor: string | undefined,
): Promise<BodyOf<'token.state.v1'>> {
  const runId = runIdOrUndefined ?? (accessor ? await store.runIdOf(accessor) : undefined);
  const run = runId ? await store.getRun(runId) : undefined;
  if (!run || !runId)
    throw new NotFoundError(
      `no token known for ${runIdOrUndefined ? `run ${runIdOrUndefined}` : `accessor ${accessor}`}`,
    );
  const state = run.state === 'live' && run.expiresAt <= now ? 'expired' : run.state;
  const children = await store.children(runId);
  return {
    runId,
    pipeline: run.pipeline,
    accessor: run.accessor || undefined,
    state,
    policies: run.policies,
    issuedAt: run.issuedAt,
    expiresAt: run.expiresAt,
    maxExpiresAt: run.maxExpiresAt,
    renewals: run.renewals,
    lastRenewedAt: run.lastRenewedAt,
    revokedAt: run.revokedAt,
    revokedReason: run.revokedReason,
    children: children.map((c) => ({
      agentId: c.agentId,
      stageId: c.stageId,
      accessor: c.accessor,
      tier: c.tier,
      issuedAt: c.issuedAt,
      descendant: c.descendant,
    })),
  };
}
