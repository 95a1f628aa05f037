/**
 * How the Vault dev server reads a token create request: the body weakly decoded as Vault's
 * mapstructure does (wrong shapes are 400s), durations parsed, policies sanitized.
 */
import { badRequest } from './api-error.ts';
import { DurationParseError, parseDurationSeconds } from './duration.ts';

/** Vault's policyutil.SanitizePolicies: trimmed, lower-case, de-duplicated, sorted; `root` alone wins. */
export function sanitizePolicies(policies: readonly string[], addDefault: boolean): string[] {
  const cleaned = policies.map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (cleaned.includes('root')) return ['root'];
  if (addDefault && !cleaned.includes('default')) cleaned.push('default');
  return [...new Set(cleaned)].sort();
}

export interface CreateInput {
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
export function decodeCreateBody(body: Record<string, unknown>): CreateInput {
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

export function parseField(value: unknown, _field: string): number {
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
