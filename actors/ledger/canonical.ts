/**
 * Canonical encoding of audit events.
 *
 * The leaf of the Merkle tree is the canonical encoding of the WHOLE event, so no field lives
 * outside the hash. The encoding is the RFC 8785 (JCS) subset for JSON values: object keys sorted
 * by UTF-16 code units, no whitespace, ECMAScript number formatting, JSON string escaping, UTF-8.
 * Anything that is not plain JSON (undefined, NaN, Infinity, bigint, Date, Map, class instances,
 * lone surrogates) is rejected rather than silently dropped, so encode → decode is the identity.
 */
import { DecodeError, InvalidMessageError } from '../../protocols/errors.ts';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** One audit event. `id` is unique across the ledger (appends are idempotent by it). */
export interface AuditEvent {
  id: string;
  /** Milliseconds since the epoch. */
  ts: number;
  type: string;
  actor: string;
  run?: string;
  agent?: string;
  data: JsonObject;
}

const EVENT_KEYS = new Set(['id', 'ts', 'type', 'actor', 'run', 'agent', 'data']);
const MAX_DEPTH = 64;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Canonical JSON text of a JSON value (RFC 8785 subset). Throws InvalidMessageError naming the bad path. */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, '$', 0, out);
  return out.join('');
}

/** Canonical JSON as UTF-8 bytes. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

function write(v: unknown, path: string, depth: number, out: string[]): void {
  if (depth > MAX_DEPTH) throw invalid(path, `nested deeper than ${MAX_DEPTH} levels`);
  if (v === null) {
    out.push('null');
    return;
  }
  switch (typeof v) {
    case 'string':
      checkString(v, path);
      out.push(JSON.stringify(v));
      return;
    case 'number':
      if (!Number.isFinite(v)) throw invalid(path, `${v} is not a JSON number`);
      // ECMAScript Number::toString, as RFC 8785 §3.2.2.3 requires; -0 becomes 0.
      out.push(JSON.stringify(v));
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'object': {
      if (Array.isArray(v)) {
        out.push('[');
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out.push(',');
          const item: unknown = v[i];
          if (item === undefined) throw invalid(`${path}[${i}]`, 'undefined is not JSON');
          write(item, `${path}[${i}]`, depth + 1, out);
        }
        out.push(']');
        return;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw invalid(path, 'not a plain object');
      const obj = v as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 prescribes.
      const keys = Object.keys(obj).sort();
      out.push('{');
      keys.forEach((key, i) => {
        const child = `${path}.${key}`;
        const item = obj[key];
        if (item === undefined) throw invalid(child, 'undefined is not JSON (omit the key instead)');
        checkString(key, child);
        if (i > 0) out.push(',');
        out.push(JSON.stringify(key), ':');
        write(item, child, depth + 1, out);
      });
      out.push('}');
      return;
    }
    default:
      throw invalid(path, `${typeof v} is not JSON`);
  }
}

function checkString(s: string, path: string): void {
  if (LONE_SURROGATE.test(s)) throw invalid(path, 'string holds a lone surrogate (not valid UTF-8)');
}

function invalid(path: string, reason: string): InstanceType<typeof InvalidMessageError> {
  return new InvalidMessageError(`audit event ${path}: ${reason}`, { details: { path, reason } });
}

// ---------------------------------------------------------------------------------------------
// Secret guard

/** Key names (case-, dash- and underscore-insensitive) that must never reach the ledger. */
export const SECRET_KEY_NAMES: readonly string[] = [
  'token',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'seed',
  'nkeyseed',
  'clienttoken',
  'privatekey',
  'apikey',
  'secretid',
];
/** A key ending in one of these is a secret too (accessToken, clientSecret, dbPassword). */
const SECRET_KEY_SUFFIXES = ['token', 'secret', 'password'];

/** Values that look like credentials whatever their key. */
const SECRET_VALUE_PATTERNS: readonly { name: string; re: RegExp }[] = [
  { name: 'Vault token', re: /^hv[sbr]\.[A-Za-z0-9_-]{20,}$/ },
  { name: 'Vault token', re: /^[sbr]\.[A-Za-z0-9]{24}$/ },
  { name: 'NATS nkey seed', re: /^S[A-Z][A-Z2-7]{56}$/ },
  { name: 'private key', re: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { name: 'JWT', re: /^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/ },
];

/** True when a key name denotes a credential. Tokens are referenced by accessor (`tokenAccessor` is fine). */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_KEY_NAMES.includes(k) || SECRET_KEY_SUFFIXES.some((s) => k.endsWith(s));
}

/**
 * Throws InvalidMessageError if any key or string value anywhere in `value` looks like a secret.
 * The error names the path, never the value.
 */
export function assertNoSecrets(value: unknown, path = '$'): void {
  if (typeof value === 'string') {
    for (const p of SECRET_VALUE_PATTERNS) {
      if (p.re.test(value)) throw secret(path, `value looks like a ${p.name}`);
    }
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertNoSecrets(value[i], `${path}[${i}]`);
    return;
  }
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const child = `${path}.${key}`;
    if (isSecretKey(key)) throw secret(child, `key "${key}" names a secret (log the token accessor instead)`);
    assertNoSecrets(item, child);
  }
}

function secret(path: string, reason: string): InstanceType<typeof InvalidMessageError> {
  return new InvalidMessageError(`audit event ${path}: ${reason}; secrets never enter the ledger`, {
    details: { path, reason: 'secret' },
  });
}

// ---------------------------------------------------------------------------------------------
// Events

/** Checks the event shape; returns the reason it is wrong, or undefined. */
export function eventShapeProblem(e: unknown): string | undefined {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return 'event is not an object';
  const o = e as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!EVENT_KEYS.has(k)) return `unknown field "${k}" (put it in data)`;
  }
  if (typeof o.id !== 'string' || o.id.length === 0) return 'id must be a non-empty string';
  if (typeof o.ts !== 'number' || !Number.isSafeInteger(o.ts) || o.ts < 0) return 'ts must be a non-negative integer (ms)';
  if (typeof o.type !== 'string' || o.type.length === 0) return 'type must be a non-empty string';
  if (typeof o.actor !== 'string' || o.actor.length === 0) return 'actor must be a non-empty string';
  for (const k of ['run', 'agent'] as const) {
    if (k in o && o[k] !== undefined && (typeof o[k] !== 'string' || (o[k] as string).length === 0)) {
      return `${k} must be a non-empty string when present`;
    }
  }
  const data = o.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return 'data must be a JSON object';
  return undefined;
}

function plainEvent(e: AuditEvent): Record<string, unknown> {
  const o: Record<string, unknown> = { id: e.id, ts: e.ts, type: e.type, actor: e.actor, data: e.data };
  if (e.run !== undefined) o.run = e.run;
  if (e.agent !== undefined) o.agent = e.agent;
  return o;
}

/**
 * Canonical bytes of an event: the ledger entry. Validates the shape, rejects secrets.
 * @throws InvalidMessageError
 */
export function encodeEvent(e: AuditEvent): Buffer {
  const problem = eventShapeProblem(e);
  if (problem) throw new InvalidMessageError(`audit event: ${problem}`, { details: { reason: problem } });
  assertNoSecrets(e.data, '$.data');
  for (const k of ['id', 'type', 'actor', 'run', 'agent'] as const) assertNoSecrets(e[k], `$.${k}`);
  return canonicalBytes(plainEvent(e));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses stored entry bytes back into an event and checks they are canonical
 * (re-encoding gives the very same bytes).
 * @throws DecodeError
 */
export function decodeEvent(bytes: Uint8Array): AuditEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new DecodeError('ledger entry is not UTF-8 JSON', { cause: err });
  }
  const problem = eventShapeProblem(parsed);
  if (problem) throw new DecodeError(`ledger entry: ${problem}`);
  const e = parsed as AuditEvent;
  let again: Buffer;
  try {
    again = canonicalBytes(plainEvent(e));
  } catch (err) {
    throw new DecodeError('ledger entry holds a non-JSON value', { cause: err });
  }
  if (!again.equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) {
    throw new DecodeError('ledger entry is not in canonical form');
  }
  return e;
}
