/**
 * What the token authority asks Vault for and what it stores, as pure functions of a run's
 * governance and the clock: the run token's request and record, a stage attempt's child token request
 * and record, and the tombstone of a run revoked before it had a token.
 */
import type { Tier } from '../../protocols/index.ts';
import { toVaultSeconds } from './renewal-schedule.ts';
import type { IssueInput } from './token-authority-types.ts';
import {
  DEFAULT_RUN_TOKEN_MAX_TTL_MS,
  DEFAULT_RUN_TOKEN_RENEW_EVERY_MS,
  DEFAULT_RUN_TOKEN_TTL_MS,
} from './token-options.ts';
import { childPolicies, childTier, runPolicies } from './token-policy.ts';
import type { ChildTokenRecord, RunTokenRecord } from './token-store.ts';
import type { CreateTokenOptions, IssuedToken } from './vault-client.ts';

/** A run token to create: the Vault request and the lifetimes its record keeps. */
export interface RunTokenPlan {
  request: CreateTokenOptions;
  pipeline: string | undefined;
  tiers: Tier[];
  ttlMs: number;
  maxTtlMs: number;
  renewEveryMs: number;
}

/** The run token for `input`: its policies from the run's tiers, TTLs from its governance (else defaults). */
export function runTokenPlan(input: IssueInput): RunTokenPlan {
  const g = input.governance;
  const tiers: Tier[] = g?.tiers ?? [];
  const ttlMs = g?.token.ttlMs ?? DEFAULT_RUN_TOKEN_TTL_MS;
  const maxTtlMs = Math.max(ttlMs, g?.token.maxTtlMs ?? DEFAULT_RUN_TOKEN_MAX_TTL_MS);
  const renewEveryMs = g?.token.renewEveryMs ?? DEFAULT_RUN_TOKEN_RENEW_EVERY_MS;
  const pipeline = input.pipeline ?? g?.pipeline;
  const meta: Record<string, string> = { run_id: input.runId, pipeline: pipeline ?? 'unknown' };
  if (input.parentRunId) meta.parent_run_id = input.parentRunId;
  return {
    request: {
      policies: runPolicies(tiers, g?.token.policies ?? []),
      ttl: toVaultSeconds(ttlMs),
      explicitMaxTtl: toVaultSeconds(maxTtlMs),
      renewable: true,
      meta,
      displayName: `run-${input.runId}`.slice(0, 100),
    },
    pipeline,
    tiers,
    ttlMs,
    maxTtlMs,
    renewEveryMs,
  };
}

/** The live record of a run token Vault just issued at `now`. */
export function runTokenRecord(
  input: IssueInput,
  plan: RunTokenPlan,
  token: IssuedToken,
  now: number,
): RunTokenRecord {
  return {
    runId: input.runId,
    pipeline: plan.pipeline,
    parentRunId: input.parentRunId,
    accessor: token.accessor,
    policies: token.policies,
    tiers: plan.tiers,
    stageTiers: input.governance?.stageTiers,
    state: 'live',
    issuedAt: now,
    expiresAt: now + token.leaseDurationS * 1000,
    maxExpiresAt: now + toVaultSeconds(plan.maxTtlMs) * 1000,
    ttlMs: plan.ttlMs,
    renewEveryMs: plan.renewEveryMs,
    maxTtlMs: plan.maxTtlMs,
    renewals: 0,
  };
}

/** A stage attempt's child token: its tier (the stage's, else the run's), and the Vault request. */
export interface ChildTokenPlan {
  tier: Tier;
  request: CreateTokenOptions;
}

/** The child token of `agentId`'s attempt at `stageId`, living no longer than its run's token. */
export function childTokenPlan(
  runId: string,
  run: RunTokenRecord,
  agentId: string,
  stageId: string | undefined,
  now: number,
): ChildTokenPlan {
  const tier = childTier(run.tiers, run.stageTiers, stageId);
  const left = Math.max(1_000, run.maxExpiresAt - now);
  return {
    tier,
    request: {
      policies: childPolicies(tier, run.tiers),
      ttl: toVaultSeconds(Math.min(run.ttlMs, left)),
      explicitMaxTtl: toVaultSeconds(left),
      renewable: true,
      meta: {
        run_id: runId,
        pipeline: run.pipeline ?? 'unknown',
        agent_id: agentId,
        stage_id: stageId ?? '',
      },
      displayName: `agent-${agentId}`.slice(0, 100),
    },
  };
}

/** The record of a child token Vault just issued at `now`; `descendant` when made by the run token. */
export function childTokenRecord(
  child: IssuedToken,
  at: { agentId: string; stageId: string | undefined; attempt: number | undefined },
  tier: Tier,
  now: number,
  descendant: boolean,
): ChildTokenRecord {
  return {
    agentId: at.agentId,
    stageId: at.stageId,
    attempt: at.attempt,
    accessor: child.accessor,
    tier,
    policies: child.policies,
    issuedAt: now,
    expiresAt: now + child.leaseDurationS * 1000,
    descendant,
  };
}

/** A run revoked before any token: its tombstone makes a late run-accepted issue nothing. */
export function revokedTombstone(runId: string, reason: string, now: number): RunTokenRecord {
  return {
    runId,
    accessor: '',
    policies: [],
    tiers: [],
    state: 'revoked',
    issuedAt: now,
    expiresAt: now,
    maxExpiresAt: now,
    ttlMs: 0,
    renewEveryMs: 0,
    maxTtlMs: 0,
    renewals: 0,
    revokedAt: now,
    revokedReason: reason,
  };
}
