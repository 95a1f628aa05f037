/**
 * Token lifetimes in the Vault dev server, as Vault's framework.CalculateTTL computes them: period,
 * increment, backend default and explicit max TTL, capped by the system max (768 h).
 */
import { badRequest } from './api-error.ts';
import { formatDuration } from './duration.ts';

/** Vault's default `max_lease_ttl` and `default_lease_ttl` (768 h = 32 days). */
export const SYSTEM_MAX_TTL_S = 768 * 3600;
export const SYSTEM_DEFAULT_TTL_S = 768 * 3600;

export interface TtlInput {
  nowMs: number;
  startMs: number;
  incrementS: number;
  backendTtlS: number;
  periodS: number;
  explicitMaxTtlS: number;
}

/** Vault's framework.CalculateTTL (no backend max TTL; the system max is 768 h). */
export function calculateTtl(i: TtlInput): { ttlS: number; expireAtMs: number; warnings: string[] } {
  const warnings: string[] = [];
  let maxTtlS = SYSTEM_MAX_TTL_S;
  if (i.explicitMaxTtlS > 0 && i.explicitMaxTtlS < maxTtlS) maxTtlS = i.explicitMaxTtlS;
  let ttlS: number;
  let maxValidMs: number | undefined;
  if (i.periodS > 0) {
    ttlS = i.periodS;
    if (ttlS > maxTtlS) {
      warnings.push(
        `period of "${formatDuration(ttlS)}" exceeded the effective max_ttl of "${formatDuration(maxTtlS)}"; period value is capped accordingly`,
      );
      ttlS = maxTtlS;
    }
    if (i.explicitMaxTtlS > 0) maxValidMs = i.startMs + i.explicitMaxTtlS * 1000;
  } else {
    ttlS = i.incrementS > 0 ? i.incrementS : i.backendTtlS > 0 ? i.backendTtlS : SYSTEM_DEFAULT_TTL_S;
    maxValidMs = i.startMs + maxTtlS * 1000;
  }
  let expireAtMs = i.nowMs + ttlS * 1000;
  if (maxValidMs !== undefined) {
    const leftMs = maxValidMs - i.nowMs;
    if (leftMs <= 0) throw badRequest('past the max TTL, cannot renew');
    if (leftMs < ttlS * 1000) {
      const cappedS = Math.floor(leftMs / 1000);
      warnings.push(
        `TTL of "${formatDuration(ttlS)}" exceeded the effective max_ttl of "${formatDuration(cappedS)}"; TTL value is capped accordingly`,
      );
      ttlS = cappedS;
      expireAtMs = maxValidMs;
    }
  }
  return { ttlS, expireAtMs, warnings };
}
