/**
 * Response wrapping for the Vault dev server (Vault's `sys/wrapping/*` and the `X-Vault-Wrap-TTL`
 * header): instead of an answer, the caller gets a single-use wrapping token with a short TTL, and
 * whoever holds that token unwraps the answer exactly once. The system hands child tokens to agents
 * this way, so the bus never carries a usable Vault token: a wrapping token already unwrapped by its
 * agent, or expired, is worth nothing to whoever else read it.
 *
 * Shapes follow Vault 1.15: `wrap_info { token, accessor, ttl, creation_time, creation_path,
 * wrapped_accessor? }`; unwrap returns the original response; lookup returns `creation_path`,
 * `creation_time`, `creation_ttl`; an unknown, used or expired wrapping token is a 400
 * `wrapping token is not valid or does not exist`. Deviation: wrapping tokens live beside the token
 * store rather than in it (they cannot be looked up with auth/token/lookup; Vault's can).
 */
import type { Clock } from '../clock/clock.ts';
import { parseDurationSeconds } from './duration.ts';
import { VaultApiError } from './api-error.ts';
import { randomId, type StoreResult } from './token-store.ts';

/** Vault's default TTL for `sys/wrapping/wrap` when no `X-Vault-Wrap-TTL` is given. */
export const DEFAULT_WRAP_TTL_S = 300;
/** Vault's cap on a wrapping TTL (the system max lease TTL would apply; 24 h is far beyond any use here). */
export const MAX_WRAP_TTL_S = 24 * 3600;

export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}

interface Wrapped {
  info: WrapInfo;
  response: StoreResult;
  createdAtMs: number;
  expireAtMs: number;
}

const INVALID = 'wrapping token is not valid or does not exist';

export class WrappingStore {
  private readonly byToken = new Map<string, Wrapped>();

  constructor(private readonly clock: Clock) {}

  /** Parses an `X-Vault-Wrap-TTL` value (seconds or a duration string); 400 when out of range. */
  static ttlSeconds(header: string): number {
    let ttl: number;
    try {
      ttl = parseDurationSeconds(/^\d+$/.test(header) ? Number(header) : header);
    } catch {
      throw new VaultApiError(400, [`error parsing wrap TTL of ${header}`]);
    }
    if (ttl <= 0) throw new VaultApiError(400, ['wrap ttl must be greater than 0']);
    if (ttl > MAX_WRAP_TTL_S)
      throw new VaultApiError(400, ['request wrap ttl exceeds the maximum allowed wrapping ttl']);
    return ttl;
  }

  wrap(response: StoreResult, creationPath: string, ttlS: number): WrapInfo {
    this.sweep();
    const now = this.clock.now();
    const info: WrapInfo = {
      token: `hvs.${randomId(24)}`,
      accessor: randomId(24),
      ttl: ttlS,
      creation_time: new Date(now).toISOString(),
      creation_path: creationPath,
      ...(response.auth ? { wrapped_accessor: response.auth.accessor } : {}),
    };
    this.byToken.set(info.token, { info, response, createdAtMs: now, expireAtMs: now + ttlS * 1000 });
    return info;
  }

  /** The wrapped response, once: the wrapping token is gone afterwards. */
  unwrap(token: string): StoreResult {
    this.sweep();
    const w = this.byToken.get(token);
    if (!w) throw new VaultApiError(400, [INVALID]);
    this.byToken.delete(token);
    return w.response;
  }

  lookup(token: string): StoreResult {
    this.sweep();
    const w = this.byToken.get(token);
    if (!w) throw new VaultApiError(400, [INVALID]);
    return {
      data: {
        creation_path: w.info.creation_path,
        creation_time: w.info.creation_time,
        creation_ttl: w.info.ttl,
      },
    };
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [token, w] of this.byToken) if (w.expireAtMs <= now) this.byToken.delete(token);
  }
}
