import nodeVault from 'node-vault';
import { type Clock, systemClock } from '../../infra/index.ts';
import { VaultError } from '../../protocols/index.ts';
import { TokenMemory } from './token-memory.ts';
import {
  DEFAULT_VAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_VAULT_TOKEN_MEMORY_ENTRIES,
} from './vault-client-options.ts';
import { type CallSubject, mapVaultError } from './vault-error-mapping.ts';

/**
 * A thin typed wrapper over node-vault for Vault's token auth method.
 *
 * - Every call names its token explicitly in `X-Vault-Token`; node-vault's habit of replacing its
 *   own `client.token` with the `client_token` of create/renew answers (`tokenSource` commands) is undone.
 * - Failures become GovErrors (vault-error-mapping.ts, docs/vault.md): network trouble and 5xx/429
 *   are retryable VaultErrors; a token Vault no longer knows is a TokenRevokedError or
 *   TokenExpiredError (Vault does not say which; the client decides from what it remembers,
 *   token-memory.ts).
 * - Tokens never appear in error messages, details or causes, only accessors. The client keeps no
 *   plain tokens: it remembers a SHA-256 of each token it issued, to find the accessor of a self call.
 */

/** Seconds, or a Vault duration string ("2h", "30m", "7200s"). */
export type VaultDuration = number | string;

export interface VaultTokenClientOptions {
  /** Vault address, e.g. `http://127.0.0.1:8200` (VAULT_ADDR). */
  addr: string;
  /** The token the client acts with (creates tokens, uses accessor endpoints). */
  token: string;
  /** Decides whether a vanished token expired; defaults to the system clock. */
  clock?: Clock;
  requestTimeoutMs?: number;
  /** How many issued tokens to remember for error classification. */
  memoryEntries?: number;
}

export interface CreateTokenOptions {
  policies: string[];
  ttl: VaultDuration;
  /** Hard cap on the token's life, renewals included. */
  explicitMaxTtl?: VaultDuration;
  /** Default true. */
  renewable?: boolean;
  meta?: Record<string, string>;
  displayName?: string;
  /** Create the token as a child of this token (it calls Vault); revoking the parent revokes the child. */
  parentToken?: string;
  /** An orphan token (`no_parent`; the calling token must be root or have sudo). */
  noParent?: boolean;
  noDefaultPolicy?: boolean;
  /** Maximum uses; 0 (default) = unlimited. */
  numUses?: number;
}

export interface IssuedToken {
  /** The secret. Hand it to its holder; never log it. */
  token: string;
  accessor: string;
  leaseDurationS: number;
  policies: string[];
  renewable: boolean;
  orphan: boolean;
  warnings: string[];
}

export interface TokenInfo {
  accessor: string;
  policies: string[];
  /** Seconds left; 0 for tokens that never expire. */
  ttlS: number;
  creationTtlS: number;
  explicitMaxTtlS: number;
  /** RFC 3339, or null for tokens that never expire. */
  expireTime: string | null;
  issueTime: string | undefined;
  /** Unix seconds. */
  creationTime: number;
  renewable: boolean;
  orphan: boolean;
  meta: Record<string, string>;
  displayName: string;
  numUses: number;
  path: string;
  type: string;
  periodS: number | undefined;
}

export interface RenewedToken {
  accessor: string;
  leaseDurationS: number;
  renewable: boolean;
  policies: string[];
  /** Vault's warnings, e.g. that the TTL was capped by the explicit max TTL. */
  warnings: string[];
}

interface VaultAuthBody {
  client_token?: string;
  accessor?: string;
  policies?: string[] | null;
  lease_duration?: number;
  renewable?: boolean;
  orphan?: boolean;
}

interface VaultResponseBody {
  auth?: VaultAuthBody | null;
  data?: Record<string, unknown> | null;
  warnings?: string[] | null;
}

export class VaultTokenClient {
  private readonly vault: nodeVault.client;
  private readonly token: string;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly memory: TokenMemory;

  constructor(options: VaultTokenClientOptions) {
    this.token = options.token;
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_VAULT_REQUEST_TIMEOUT_MS;
    this.memory = new TokenMemory(this.clock, options.memoryEntries ?? DEFAULT_VAULT_TOKEN_MEMORY_ENTRIES);
    this.vault = nodeVault({ endpoint: options.addr, token: options.token, apiVersion: 'v1' });
  }

  /** Creates a token (a child of `parentToken` if given, else of the client's own token). */
  async createToken(options: CreateTokenOptions): Promise<IssuedToken> {
    const caller = options.parentToken ?? this.token;
    const parentAccessor =
      options.parentToken === undefined ? undefined : this.memory.accessorOf(options.parentToken);
    const args: Record<string, unknown> = {
      policies: options.policies,
      ttl: durationArg(options.ttl),
      renewable: options.renewable ?? true,
    };
    if (options.explicitMaxTtl !== undefined) args.explicit_max_ttl = durationArg(options.explicitMaxTtl);
    if (options.meta !== undefined) args.meta = options.meta;
    if (options.displayName !== undefined) args.display_name = options.displayName;
    if (options.noParent) args.no_parent = true;
    if (options.noDefaultPolicy) args.no_default_policy = true;
    if (options.numUses !== undefined) args.num_uses = options.numUses;
    const sentAt = this.clock.now();
    const body = await this.call(
      () => this.vault.tokenCreate({ ...args, requestOptions: this.requestOptions(caller) }),
      {
        operation: 'createToken',
        accessor: parentAccessor,
        gone: options.parentToken ? 'parent-forbidden' : 'none',
        secrets: [caller],
      },
    );
    const auth = body.auth;
    if (!auth?.client_token || !auth.accessor) {
      throw new VaultError('Vault answered token create without a token', {
        retryable: false,
        details: { operation: 'createToken' },
      });
    }
    const leaseDurationS = auth.lease_duration ?? 0;
    const orphan = auth.orphan ?? options.noParent ?? false;
    this.memory.remember(auth.accessor, auth.client_token, {
      expiresAtMs: leaseDurationS > 0 ? sentAt + leaseDurationS * 1000 : undefined,
      parent: orphan ? undefined : parentAccessor,
    });
    return {
      token: auth.client_token,
      accessor: auth.accessor,
      leaseDurationS,
      policies: auth.policies ?? [],
      renewable: auth.renewable ?? false,
      orphan,
      warnings: body.warnings ?? [],
    };
  }

  /** Creates a token as a child of `parentToken`: revoking (or expiry of) the parent revokes it too. */
  createChildToken(
    parentToken: string,
    options: Omit<CreateTokenOptions, 'parentToken' | 'noParent'>,
  ): Promise<IssuedToken> {
    return this.createToken({ ...options, parentToken });
  }

  async lookupAccessor(accessor: string): Promise<TokenInfo> {
    requireAccessor(accessor);
    const sentAt = this.clock.now();
    const body = await this.call(
      () => this.vault.tokenLookupAccessor({ accessor, requestOptions: this.requestOptions(this.token) }),
      {
        operation: 'lookupAccessor',
        accessor,
        gone: 'invalid-accessor',
        secrets: [this.token],
      },
    );
    return this.toInfo(body, sentAt);
  }

  /** Renews by accessor (node-vault has no helper: generic write to auth/token/renew-accessor). */
  async renewAccessor(accessor: string, increment?: VaultDuration): Promise<RenewedToken> {
    requireAccessor(accessor);
    const data: Record<string, unknown> = { accessor };
    if (increment !== undefined) data.increment = durationArg(increment);
    const sentAt = this.clock.now();
    const body = await this.call(
      () => this.vault.write('auth/token/renew-accessor', data, this.requestOptions(this.token)),
      {
        operation: 'renewAccessor',
        accessor,
        gone: 'invalid-accessor',
        secrets: [this.token],
      },
    );
    return this.toRenewed(body, sentAt, accessor);
  }

  /**
   * Revokes the token behind `accessor` and all its children. Resolves true when a live token was
   * revoked, false when Vault found none (already revoked or expired): revoking is idempotent.
   */
  async revokeAccessor(accessor: string): Promise<boolean> {
    requireAccessor(accessor);
    const body = await this.call(
      () => this.vault.tokenRevokeAccessor({ accessor, requestOptions: this.requestOptions(this.token) }),
      {
        operation: 'revokeAccessor',
        accessor,
        gone: 'none',
        secrets: [this.token],
      },
    );
    const found = !(body.warnings ?? []).some((w) => /no token found/i.test(w));
    if (found) this.memory.markRevoked(accessor);
    return found;
  }

  /** Looks up the calling token itself (needs only the `default` policy). */
  async lookupSelf(token: string): Promise<TokenInfo> {
    const sentAt = this.clock.now();
    const body = await this.call(
      () => this.vault.tokenLookupSelf({ requestOptions: this.requestOptions(token) }),
      {
        operation: 'lookupSelf',
        accessor: this.memory.accessorOf(token),
        gone: 'self-forbidden',
        secrets: [token],
      },
    );
    return this.toInfo(body, sentAt);
  }

  /** Renews the calling token itself. */
  async renewSelf(token: string, increment?: VaultDuration): Promise<RenewedToken> {
    const args: Record<string, unknown> = { requestOptions: this.requestOptions(token) };
    if (increment !== undefined) args.increment = durationArg(increment);
    const sentAt = this.clock.now();
    const accessor = this.memory.accessorOf(token);
    const body = await this.call(() => this.vault.tokenRenewSelf(args), {
      operation: 'renewSelf',
      accessor,
      gone: 'self-forbidden',
      secrets: [token],
    });
    return this.toRenewed(body, sentAt, accessor);
  }

  /** Revokes the calling token and its children. */
  async revokeSelf(token: string): Promise<void> {
    const accessor = this.memory.accessorOf(token);
    // Generic write: node-vault's tokenRevokeSelf has no schema and would post its arguments as the body.
    await this.call(() => this.vault.write('auth/token/revoke-self', {}, this.requestOptions(token)), {
      operation: 'revokeSelf',
      accessor,
      gone: 'self-forbidden',
      secrets: [token],
    });
    if (accessor !== undefined) this.memory.markRevoked(accessor);
  }

  // --- internals -----------------------------------------------------------------------------

  private requestOptions(token: string): Record<string, unknown> {
    return { headers: { 'X-Vault-Token': token }, timeout: this.timeoutMs };
  }

  private async call(fn: () => Promise<unknown>, subject: CallSubject): Promise<VaultResponseBody> {
    try {
      const body = await fn();
      return (typeof body === 'object' && body !== null ? body : {}) as VaultResponseBody;
    } catch (err) {
      throw mapVaultError(err, subject, this.memory);
    } finally {
      // node-vault's create/renew helpers overwrite client.token with the answer's client_token.
      this.vault.token = this.token;
    }
  }

  private toInfo(body: VaultResponseBody, sentAt: number): TokenInfo {
    const d = body.data ?? {};
    const num = (k: string) => (typeof d[k] === 'number' ? (d[k] as number) : 0);
    const accessor = String(d.accessor ?? '');
    const ttlS = num('ttl');
    this.memory.noteTtl(accessor, sentAt, ttlS);
    return {
      accessor,
      policies: Array.isArray(d.policies) ? (d.policies as string[]) : [],
      ttlS,
      creationTtlS: num('creation_ttl'),
      explicitMaxTtlS: num('explicit_max_ttl'),
      expireTime: typeof d.expire_time === 'string' ? d.expire_time : null,
      issueTime: typeof d.issue_time === 'string' ? d.issue_time : undefined,
      creationTime: num('creation_time'),
      renewable: d.renewable === true,
      orphan: d.orphan === true,
      meta: (d.meta ?? {}) as Record<string, string>,
      displayName: String(d.display_name ?? ''),
      numUses: num('num_uses'),
      path: String(d.path ?? ''),
      type: String(d.type ?? 'service'),
      periodS: typeof d.period === 'number' ? d.period : undefined,
    };
  }

  private toRenewed(
    body: VaultResponseBody,
    sentAt: number,
    knownAccessor: string | undefined,
  ): RenewedToken {
    const auth = body.auth ?? {};
    const accessor = auth.accessor ?? knownAccessor ?? '';
    const leaseDurationS = auth.lease_duration ?? 0;
    this.memory.noteTtl(accessor, sentAt, leaseDurationS);
    return {
      accessor,
      leaseDurationS,
      renewable: auth.renewable ?? false,
      policies: auth.policies ?? [],
      warnings: body.warnings ?? [],
    };
  }
}

/** node-vault's schema wants durations as strings; plain numbers are seconds. */
function durationArg(d: VaultDuration): string {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0)
      throw new VaultError('duration must be a non-negative number of seconds', {
        retryable: false,
        details: { value: d },
      });
    return `${Math.trunc(d)}s`;
  }
  return d;
}

function requireAccessor(accessor: string): void {
  if (typeof accessor !== 'string' || accessor === '') {
    throw new VaultError('an accessor is required', { retryable: false, details: { operation: 'accessor' } });
  }
}
