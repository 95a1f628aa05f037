import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock/clock.ts';
import type { PolicyStore } from './acl.ts';
import { badRequest } from './api-error.ts';
import { parseDurationSeconds } from './duration.ts';
import { decodeCreateBody, parseField, sanitizePolicies } from './token-request.ts';
import { calculateTtl } from './token-ttl.ts';

/**
 * In-memory token store of the Vault dev server: the semantics of Vault's token auth method
 * (vault/token_store.go + the expiration manager), minus storage, namespaces, roles and batch tokens.
 * All time comes from the injected Clock; expired tokens are revoked (with their children) lazily,
 * by {@link TokenStore.sweep}, which the server calls before every request. Reading a create request
 * is token-request.ts, lifetimes token-ttl.ts.
 */

export interface TokenEntry {
  id: string;
  accessor: string;
  parentId: string | undefined;
  policies: string[];
  meta: Record<string, string> | null;
  displayName: string;
  /** Uses left; 0 = unlimited. */
  numUses: number;
  path: string;
  creationTimeMs: number;
  /** The token's TTL at creation (te.TTL in Vault), seconds; 0 = never expires. */
  creationTtlS: number;
  explicitMaxTtlS: number;
  periodS: number;
  renewable: boolean;
  /** TTL of the current lease, used as the default for the next renewal. */
  leaseTtlS: number;
  expireAtMs: number | undefined;
  lastRenewalMs: number | undefined;
  children: Set<string>;
}

export interface AuthBlock {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  token_type: 'service';
  orphan: boolean;
  mfa_requirement: null;
  num_uses: number;
}

export interface StoreResult {
  auth?: AuthBlock;
  data?: Record<string, unknown>;
  warnings?: string[];
}

export interface CreateContext {
  /** The calling token (becomes the parent unless the token is an orphan). */
  caller: TokenEntry;
  /** Request path relative to /v1, e.g. `auth/token/create`. */
  path: string;
  /** Whether the caller has `sudo` on the path (root always has). */
  sudo: boolean;
  /** The `create-orphan` endpoint. */
  orphanEndpoint: boolean;
}

export class TokenStore {
  private readonly byId = new Map<string, TokenEntry>();
  private readonly byAccessor = new Map<string, string>();

  constructor(
    private readonly clock: Clock,
    private readonly policies: PolicyStore,
  ) {}

  /** Adds the root token (`vault server -dev` style: never expires, orphan, policy `root`). */
  addRootToken(id: string): TokenEntry {
    const now = this.clock.now();
    const te: TokenEntry = {
      id,
      accessor: randomId(24),
      parentId: undefined,
      policies: ['root'],
      meta: null,
      displayName: 'root',
      numUses: 0,
      path: 'auth/token/root',
      creationTimeMs: now,
      creationTtlS: 0,
      explicitMaxTtlS: 0,
      periodS: 0,
      renewable: false,
      leaseTtlS: 0,
      expireAtMs: undefined,
      lastRenewalMs: undefined,
      children: new Set(),
    };
    this.insert(te);
    return te;
  }

  /** Number of live tokens (root included). */
  size(): number {
    return this.byId.size;
  }

  /** Revokes (with children) every token whose lease has run out. */
  sweep(): void {
    const now = this.clock.now();
    for (const te of [...this.byId.values()]) {
      if (te.expireAtMs !== undefined && te.expireAtMs <= now && this.byId.has(te.id)) this.revokeTree(te.id);
    }
  }

  get(id: string): TokenEntry | undefined {
    return this.byId.get(id);
  }

  getByAccessor(accessor: string): TokenEntry | undefined {
    const id = this.byAccessor.get(accessor);
    return id === undefined ? undefined : this.byId.get(id);
  }

  accessors(): string[] {
    return [...this.byAccessor.keys()];
  }

  /** Counts one use of a limited-use token; revokes it after its last use. */
  consumeUse(te: TokenEntry): void {
    if (te.numUses <= 0) return;
    te.numUses -= 1;
    if (te.numUses === 0) te.numUses = -1; // revocation pending: revoked once the request completes
  }

  /** Revokes tokens whose last use was this request. */
  finishUse(te: TokenEntry): void {
    if (te.numUses === -1 && this.byId.has(te.id)) this.revokeTree(te.id);
  }

  create(body: Record<string, unknown>, ctx: CreateContext): StoreResult {
    const parent = ctx.caller;
    if (parent.numUses !== 0) throw badRequest('restricted use token cannot generate child tokens');
    const input = decodeCreateBody(body);
    const warnings: string[] = [];

    if (input.type === 'batch') throw badRequest('batch tokens are not supported by the dev server');
    if (input.type !== '' && input.type !== 'service') throw badRequest("invalid 'token_type' value");
    if (input.numUses < 0) throw badRequest('number of uses cannot be negative');

    let displayName = 'token';
    if (input.displayName !== '') {
      displayName = `token-${input.displayName}`.replace(/[^a-zA-Z0-9-]/g, '-').replace(/-$/, '');
    }

    let id: string | undefined;
    if (input.id !== '') {
      if (!ctx.sudo) throw badRequest('root or sudo privileges required to specify token id');
      if (input.id.includes('.')) throw badRequest('token IDs can not contain a period');
      if (this.byId.has(input.id)) throw badRequest('cannot create a token with a duplicate ID');
      id = input.id;
    }

    // Policies (Vault: handleCreateCommon, no role).
    let requested = input.policies;
    let addDefault = false;
    if (requested.length === 0) {
      requested = sanitizePolicies(parent.policies, false);
    } else if (!ctx.sudo) {
      const sub = sanitizePolicies(requested, false);
      const sup = sanitizePolicies(parent.policies, false);
      if (!sub.every((p) => sup.includes(p))) throw badRequest('child policies must be subset of parent');
      addDefault = !input.noDefaultPolicy && parent.policies.includes('default');
    } else {
      addDefault = !input.noDefaultPolicy;
    }
    let policies = sanitizePolicies(requested, addDefault);
    if (input.noDefaultPolicy) policies = policies.filter((p) => p !== 'default');
    if (policies.includes('root') && !parent.policies.includes('root')) {
      throw badRequest('root tokens may not be created without parent token being root');
    }

    // Parent.
    let orphan = ctx.orphanEndpoint;
    if (input.noParent) {
      if (!ctx.sudo) throw badRequest('root or sudo privileges required to create orphan token');
      orphan = true;
    }

    const explicitMaxTtlS = parseField(input.explicitMaxTtl, 'explicit_max_ttl');
    if (explicitMaxTtlS < 0) throw badRequest('explicit_max_ttl must be positive');
    const periodS = parseField(input.period, 'period');
    if (periodS < 0) throw badRequest('period must be positive');
    if (periodS > 0 && !ctx.sudo)
      throw badRequest('root or sudo privileges required to create periodic token');
    let ttlS = parseField(input.ttl, 'ttl');
    if (ttlS < 0) throw badRequest('ttl must be positive');

    const now = this.clock.now();
    if (periodS > 0 || ttlS > 0 || !policies.includes('root')) {
      const calc = calculateTtl({
        nowMs: now,
        startMs: now,
        incrementS: 0,
        backendTtlS: ttlS,
        periodS,
        explicitMaxTtlS,
      });
      warnings.push(...calc.warnings);
      ttlS = calc.ttlS;
    }
    if (ttlS === 0 && explicitMaxTtlS > 0) ttlS = explicitMaxTtlS;
    let renewable = input.renewable;
    if (ttlS === 0) {
      if (parent.creationTtlS !== 0)
        throw badRequest('expiring root tokens cannot create non-expiring root tokens');
      renewable = false;
    }

    const te: TokenEntry = {
      id: id ?? `hvs.${randomId(24)}`,
      accessor: randomId(24),
      parentId: orphan ? undefined : parent.id,
      policies,
      meta: input.meta,
      displayName,
      numUses: input.numUses,
      path: ctx.path,
      creationTimeMs: now,
      creationTtlS: ttlS,
      explicitMaxTtlS,
      periodS,
      renewable,
      leaseTtlS: ttlS,
      expireAtMs: ttlS > 0 ? now + ttlS * 1000 : undefined,
      lastRenewalMs: undefined,
      children: new Set(),
    };
    this.insert(te);
    for (const p of policies) if (!this.policies.has(p)) warnings.push(`Policy "${p}" does not exist`);
    return { auth: authBlock(te, te.id), warnings };
  }

  /** Lookup data as Vault returns it (`id` is blanked by the accessor endpoint, not here). */
  lookupData(te: TokenEntry): Record<string, unknown> {
    const now = this.clock.now();
    const data: Record<string, unknown> = {
      accessor: te.accessor,
      creation_time: Math.floor(te.creationTimeMs / 1000),
      creation_ttl: te.creationTtlS,
      display_name: te.displayName,
      entity_id: '',
      expire_time: te.expireAtMs === undefined ? null : new Date(te.expireAtMs).toISOString(),
      explicit_max_ttl: te.explicitMaxTtlS,
      id: te.id,
      issue_time: new Date(te.creationTimeMs).toISOString(),
      meta: te.meta,
      num_uses: Math.max(0, te.numUses),
      orphan: te.parentId === undefined,
      path: te.path,
      policies: [...te.policies],
      renewable: te.expireAtMs !== undefined && te.renewable,
      ttl: te.expireAtMs === undefined ? 0 : Math.max(0, Math.floor((te.expireAtMs - now) / 1000)),
      type: 'service',
    };
    if (te.periodS > 0) data.period = te.periodS;
    if (te.lastRenewalMs !== undefined) {
      data.last_renewal_time = Math.floor(te.lastRenewalMs / 1000);
      data.last_renewal = new Date(te.lastRenewalMs).toISOString();
    }
    return data;
  }

  /** Renews `te`'s lease (Vault: ExpirationManager.RenewToken + CalculateTTL). */
  renew(te: TokenEntry, rawIncrement: unknown, clientToken: string): StoreResult {
    let incrementS: number;
    try {
      incrementS = parseDurationSeconds(rawIncrement);
    } catch (err) {
      throw badRequest(
        `error converting input ${JSON.stringify(rawIncrement)} for field "increment": ${(err as Error).message}`,
      );
    }
    if (incrementS < 0) throw badRequest('increment must be positive');
    const now = this.clock.now();
    if (te.expireAtMs === undefined) throw badRequest('lease is not renewable');
    if (te.expireAtMs <= now) throw badRequest('lease expired');
    if (!te.renewable) throw badRequest('lease is not renewable');
    const calc = calculateTtl({
      nowMs: now,
      startMs: te.creationTimeMs,
      incrementS,
      backendTtlS: te.leaseTtlS,
      periodS: te.periodS,
      explicitMaxTtlS: te.explicitMaxTtlS,
    });
    te.leaseTtlS = calc.ttlS;
    te.expireAtMs = calc.expireAtMs;
    te.lastRenewalMs = now;
    return { auth: authBlock(te, clientToken), warnings: calc.warnings };
  }

  /** Revokes `id` and, recursively, every token created under it. */
  revokeTree(id: string): void {
    const te = this.byId.get(id);
    if (!te) return;
    for (const child of [...te.children]) this.revokeTree(child);
    this.remove(te);
  }

  /** Revokes `id` only; its children become orphans. */
  revokeOrphan(id: string): void {
    const te = this.byId.get(id);
    if (!te) return;
    for (const childId of te.children) {
      const child = this.byId.get(childId);
      if (child) child.parentId = undefined;
    }
    te.children.clear();
    this.remove(te);
  }

  private insert(te: TokenEntry): void {
    this.byId.set(te.id, te);
    this.byAccessor.set(te.accessor, te.id);
    if (te.parentId !== undefined) this.byId.get(te.parentId)?.children.add(te.id);
  }

  private remove(te: TokenEntry): void {
    this.byId.delete(te.id);
    this.byAccessor.delete(te.accessor);
    if (te.parentId !== undefined) this.byId.get(te.parentId)?.children.delete(te.id);
  }
}

export function authBlock(te: TokenEntry, clientToken: string): AuthBlock {
  return {
    client_token: clientToken,
    accessor: te.accessor,
    policies: [...te.policies],
    token_policies: [...te.policies],
    metadata: te.meta,
    lease_duration: te.expireAtMs === undefined ? 0 : te.leaseTtlS,
    renewable: te.expireAtMs !== undefined && te.renewable,
    entity_id: '',
    token_type: 'service',
    orphan: te.parentId === undefined,
    mfa_requirement: null,
    num_uses: Math.max(0, te.numUses),
  };
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A random base62 string (Vault's token and accessor alphabet). */
export function randomId(length: number): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  for (let i = 0; out.length < length && i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (b < 248) out += BASE62[b % 62];
  }
  while (out.length < length) out += BASE62[randomBytes(1)[0]! % 62];
  return out;
}
