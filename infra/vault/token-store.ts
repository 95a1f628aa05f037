import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { PolicyStore } from './acl.ts';
import { DurationParseError, formatDuration, parseDurationSeconds } from './duration.ts';

/**
 * In-memory token store of the Vault dev server: the semantics of Vault's token auth method
 * (vault/token_store.go + the expiration manager), minus storage, namespaces, roles and batch tokens.
 * All time comes from the injected Clock; expired tokens are revoked (with their children) lazily,
 * by {@link TokenStore.sweep}, which the server calls before every request.
 */

/** Vault's default `max_lease_ttl` and `default_lease_ttl` (768 h = 32 days). */
export const SYSTEM_MAX_TTL_S = 768 * 3600;
export const SYSTEM_DEFAULT_TTL_S = 768 * 3600;

/** A failure Vault answers with `{"errors":[...]}` and this status. */
export class VaultApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; ') || `status ${status}`);
  }
}

const badRequest = (message: string) => new VaultApiError(400, [message]);

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

interface TtlInput {
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

/** Vault's policyutil.SanitizePolicies: trimmed, lower-case, de-duplicated, sorted; `root` alone wins. */
export function sanitizePolicies(policies: readonly string[], addDefault: boolean): string[] {
  const cleaned = policies.map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (cleaned.includes('root')) return ['root'];
  if (addDefault && !cleaned.includes('default')) cleaned.push('default');
  return [...new Set(cleaned)].sort();
}

interface CreateInput {
  id: string;
  policies: string[];
  meta: Record<string, string> | null;
  noParent: boolean;
  noDefaultPolicy: boolean;
  renewable: boolean;
  ttl: unknown;
  explicitMaxTtl: unknown;
  period: unknown;
  displayName: string;
  numUses: number;
  type: string;
}

/** Weak decoding like Vault's mapstructure.WeakDecode; wrong shapes are 400s. */
function decodeCreateBody(body: Record<string, unknown>): CreateInput {
  const fail = (msg: string): never => {
    throw badRequest(`Error decoding request: ${msg}`);
  };
  const str = (key: string): string => {
    const v = body[key];
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return fail(`'${key}' expected type 'string', got unconvertible type '${typeOf(v)}'`);
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = body[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return v !== 0;
    if (typeof v === 'string') {
      if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
      if (['0', 'f', 'F', 'false', 'FALSE', 'False', ''].includes(v)) return false;
    }
    return fail(`cannot parse '${key}' as bool`);
  };
  const int = (key: string): number => {
    const v = body[key];
    if (v === undefined || v === null || v === '') return 0;
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) return Number.parseInt(v, 10);
    return fail(`cannot parse '${key}' as int`);
  };
  const duration = (key: string): unknown => {
    const v = body[key];
    if (v === undefined || v === null || typeof v === 'string' || typeof v === 'number') return v;
    return fail(`'${key}' expected type 'string', got unconvertible type '${typeOf(v)}'`);
  };

  let policies: string[] = [];
  const rawPolicies = body.policies;
  if (Array.isArray(rawPolicies)) {
    policies = rawPolicies.map((p) =>
      typeof p === 'string' ? p : fail(`'policies' expected a list of strings`),
    );
  } else if (typeof rawPolicies === 'string') {
    policies = rawPolicies.split(',');
  } else if (rawPolicies !== undefined && rawPolicies !== null) {
    fail(`'policies': source data must be an array or slice, got ${typeOf(rawPolicies)}`);
  }

  let meta: Record<string, string> | null = null;
  const rawMeta = body.meta ?? body.metadata;
  if (rawMeta !== undefined && rawMeta !== null) {
    if (typeof rawMeta !== 'object' || Array.isArray(rawMeta))
      fail(`'meta' expected a map, got '${typeOf(rawMeta)}'`);
    meta = {};
    for (const [k, v] of Object.entries(rawMeta as Record<string, unknown>)) {
      if (typeof v === 'string') meta[k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') meta[k] = String(v);
      else if (v === null) meta[k] = '';
      else fail(`'meta[${k}]' expected type 'string', got unconvertible type '${typeOf(v)}'`);
    }
  }

  return {
    id: str('id'),
    policies,
    meta,
    noParent: bool('no_parent', false),
    noDefaultPolicy: bool('no_default_policy', false),
    renewable: bool('renewable', true),
    ttl: body.ttl !== undefined && body.ttl !== null && body.ttl !== '' ? duration('ttl') : duration('lease'),
    explicitMaxTtl: duration('explicit_max_ttl'),
    period: duration('period'),
    displayName: str('display_name'),
    numUses: int('num_uses'),
    type: str('type'),
  };
}

function parseField(value: unknown, _field: string): number {
  try {
    return parseDurationSeconds(value);
  } catch (err) {
    if (err instanceof DurationParseError) throw badRequest(err.message);
    throw err;
  }
}

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return 'slice';
  if (v === null) return 'nil';
  if (typeof v === 'object') return 'map';
  return typeof v;
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
