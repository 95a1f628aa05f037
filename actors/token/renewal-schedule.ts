/**
 * When to renew a run token, and by how much (pure). See docs/governance.md, "Renewal".
 *
 * A token issued at `issuedAt` with explicit max TTL `maxTtlMs` can never outlive
 * `maxExpiresAt = issuedAt + maxTtlMs`. Each renewal asks for `ttlMs` more; once `now + ttlMs`
 * reaches `maxExpiresAt` the renewal is capped, it is the last one, and the token is "at max TTL".
 */
export interface RenewalState {
  ttlMs: number;
  renewEveryMs: number;
  maxExpiresAt: number;
  nextRenewAt: number;
}

export type RenewalDecision =
  | { action: 'wait'; untilMs: number }
  | { action: 'renew'; incrementMs: number; last: boolean }
  | { action: 'at-max' };

export function decideRenewal(state: RenewalState, now: number): RenewalDecision {
  if (now < state.nextRenewAt) return { action: 'wait', untilMs: state.nextRenewAt };
  const left = state.maxExpiresAt - now;
  if (left < 1_000) return { action: 'at-max' };
  const incrementMs = Math.min(state.ttlMs, left);
  return { action: 'renew', incrementMs, last: now + state.ttlMs >= state.maxExpiresAt };
}

/** When to renew next after a successful renewal at `now`. */
export function nextRenewalAt(renewEveryMs: number, now: number): number {
  return now + renewEveryMs;
}

/** When to retry after a failed renewal: `retryMs` later, but before the token expires when possible. */
export function retryAt(now: number, retryMs: number, expiresAt: number): number {
  const beforeExpiry = expiresAt - 1_000;
  return beforeExpiry > now ? Math.min(now + retryMs, beforeExpiry) : now + retryMs;
}

/** Vault durations are whole seconds: ms → s, at least 1. */
export function toVaultSeconds(ms: number): number {
  return Math.max(1, Math.floor(ms / 1000));
}
