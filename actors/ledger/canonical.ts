/**
 * Canonical encoding of audit events.
 *
 * The leaf of the Merkle tree is the canonical encoding of the WHOLE event, so no field lives
 * outside the hash. The encoding is the RFC 8785 (JCS) subset for JSON values: object keys sorted
 * by UTF-16 code units, no whitespace, ECMAScript number formatting, JSON string escaping, UTF-8.
 * Anything that is not plain JSON (undefined, NaN, Infinity, bigint, Date, Map, class instances,
 * lone surrogates) is rejected rather than silently dropped, so encode → decode is the identity.
 */
import { DecodeError, InvalidMessageError } from '../../protocols/vocabulary/index.ts';

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
  /**
   * The authenticated sender: the principal the broker let publish on the event's audit subject
   * (gov.audit.<category>.<principal>), set by the ledger writer from the subject, never from the body.
   * Absent when the subject named no principal (a publisher from before provenance, or no auth).
   */
  sender?: string;
  data: JsonObject;
}

const EVENT_KEYS = new Set(['id', 'ts', 'type', 'actor', 'run', 'agent', 'sender', 'data']);
const MAX_DEPTH = 64;

/** String.prototype.isWellFormed (ES2024, in Node ≥ 20): false when the string holds a lone surrogate. */
const wellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

/** The path of the value being visited, as a stack of keys and indexes: a string is built only for an error. */
type PathStack = (string | number)[];

function pathText(root: string, segs: PathStack, upTo = segs.length): string {
  let p = root;
  for (let i = 0; i < upTo; i++) {
    const s = segs[i]!;
    p += typeof s === 'number' ? `[${s}]` : `.${s}`;
  }
  return p;
}

/** Canonical JSON text of a JSON value (RFC 8785 subset). Throws InvalidMessageError naming the bad path. */
export function canonicalJson(value: unknown): string {
  return write(value, [], false);
}

/** Canonical JSON as UTF-8 bytes. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

interface KeyInfo {
  /** `"key":` */
  member: string;
  wellFormed: boolean;
  secret: boolean;
}

/** Key names repeat across events: each is quoted and judged once (bounded, like the secret verdicts). */
const keyInfos = new Map<string, KeyInfo>();

function keyInfo(key: string): KeyInfo {
  let k = keyInfos.get(key);
  if (k === undefined) {
    const ok = wellFormed(key);
    k = { member: ok ? `${JSON.stringify(key)}:` : '', wellFormed: ok, secret: ok && isSecretKey(key) };
    if (keyInfos.size >= MAX_REMEMBERED_KEYS) keyInfos.clear();
    keyInfos.set(key, k);
  }
  return k;
}

/**
 * One walk that writes the canonical text and, with `guard`, refuses secrets on the way (key names
 * and credential-looking strings), so an event is scanned once.
 */
function write(v: unknown, segs: PathStack, guard: boolean): string {
  if (segs.length > MAX_DEPTH) throw invalid(pathText('$', segs), `nested deeper than ${MAX_DEPTH} levels`);
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      if (!wellFormed(v))
        throw invalid(pathText('$', segs), 'string holds a lone surrogate (not valid UTF-8)');
      if (guard) {
        const kind = secretValueKind(v);
        if (kind) throw secret(pathText('$', segs), `value looks like a ${kind}`);
      }
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw invalid(pathText('$', segs), `${v} is not a JSON number`);
      // ECMAScript Number::toString, as RFC 8785 §3.2.2.3 requires; -0 becomes 0.
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out += ',';
          const item: unknown = v[i];
          segs.push(i);
          if (item === undefined) throw invalid(pathText('$', segs), 'undefined is not JSON');
          out += write(item, segs, guard);
          segs.pop();
        }
        return `${out}]`;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null)
        throw invalid(pathText('$', segs), 'not a plain object');
      const obj = v as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 prescribes.
      const keys = Object.keys(obj).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const item = obj[key];
        segs.push(key);
        if (item === undefined)
          throw invalid(pathText('$', segs), 'undefined is not JSON (omit the key instead)');
        const k = keyInfo(key);
        if (!k.wellFormed)
          throw invalid(pathText('$', segs), 'string holds a lone surrogate (not valid UTF-8)');
        // A key naming a secret holds one only as text: `token: {ttlMs}` is a setting, not a token.
        if (guard && k.secret && typeof item === 'string') throw secretKey(pathText('$', segs), key);
        if (i > 0) out += ',';
        out += k.member + write(item, segs, guard);
        segs.pop();
      }
      return `${out}}`;
    }
    default:
      throw invalid(pathText('$', segs), `${typeof v} is not JSON`);
  }
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

/**
 * Credentials found inside strings, whatever their key and wherever in the string (a token quoted in an
 * error message is as much a leak as a token field). `maybe` is a cheap necessary condition of the
 * pattern, so most strings never reach a regex. Every pattern is global: {@link redactSecrets} replaces
 * each occurrence.
 */
const SECRET_PATTERNS: readonly { name: string; re: RegExp; maybe: (s: string) => boolean }[] = [
  { name: 'Vault token', re: /hv[sbr]\.[A-Za-z0-9_-]{20,}/g, maybe: (s) => s.includes('hv') },
  { name: 'Vault token', re: /^[sbr]\.[A-Za-z0-9]{24}$/g, maybe: (s) => s.length === 26 },
  {
    name: 'NATS nkey seed',
    re: /(?<![A-Z2-7])S[A-Z][A-Z2-7]{56}(?![A-Z2-7])/g,
    maybe: (s) => s.length >= 58,
  },
  {
    name: 'private key',
    re: /-----BEGIN [A-Z ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----|[\s\S]*)/g,
    maybe: (s) => s.includes('-----BEGIN '),
  },
  {
    name: 'JWT',
    re: /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g,
    maybe: (s) => s.includes('eyJ'),
  },
];

/** What kind of credential a string holds (anywhere in it), or undefined. */
export function secretValueKind(s: string): string | undefined {
  if (s.length < 10) return undefined; // shorter than the shortest pattern (a JWT)
  for (const p of SECRET_PATTERNS) {
    if (!p.maybe(s)) continue;
    p.re.lastIndex = 0;
    if (p.re.test(s)) return p.name;
  }
  return undefined;
}

/** The string with every credential in it replaced by `replacement`; the same string when it holds none. */
export function redactSecrets(s: string, replacement = '[redacted]'): string {
  if (s.length < 10) return s;
  let out = s;
  for (const p of SECRET_PATTERNS) {
    if (p.maybe(out)) out = out.replace(p.re, replacement);
  }
  return out;
}

/** Verdicts of {@link isSecretKey} by key name: key names repeat, so each is judged once (bounded). */
const secretKeyVerdicts = new Map<string, boolean>();
const MAX_REMEMBERED_KEYS = 10_000;

/** True when a key name denotes a credential. Tokens are referenced by accessor (`tokenAccessor` is fine). */
export function isSecretKey(key: string): boolean {
  let verdict = secretKeyVerdicts.get(key);
  if (verdict === undefined) {
    const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
    verdict = SECRET_KEY_NAMES.includes(k) || SECRET_KEY_SUFFIXES.some((s) => k.endsWith(s));
    if (secretKeyVerdicts.size >= MAX_REMEMBERED_KEYS) secretKeyVerdicts.clear();
    secretKeyVerdicts.set(key, verdict);
  }
  return verdict;
}

/**
 * Throws InvalidMessageError if any key or string value anywhere in `value` looks like a secret.
 * The error names the path, never the value.
 */
export function assertNoSecrets(value: unknown, path = '$'): void {
  scanSecrets(value, path, []);
}

function scanSecrets(value: unknown, root: string, segs: PathStack): void {
  if (typeof value === 'string') {
    const kind = secretValueKind(value);
    if (kind) throw secret(pathText(root, segs), `value looks like a ${kind}`);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      segs.push(i);
      scanSecrets(value[i], root, segs);
      segs.pop();
    }
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    segs.push(key);
    if (isSecretKey(key) && typeof obj[key] === 'string') throw secretKey(pathText(root, segs), key);
    scanSecrets(obj[key], root, segs);
    segs.pop();
  }
}

function secretKey(path: string, key: string): InstanceType<typeof InvalidMessageError> {
  return secret(path, `key "${key}" names a secret (log the token accessor instead)`);
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
  if (typeof o.ts !== 'number' || !Number.isSafeInteger(o.ts) || o.ts < 0)
    return 'ts must be a non-negative integer (ms)';
  if (typeof o.type !== 'string' || o.type.length === 0) return 'type must be a non-empty string';
  if (typeof o.actor !== 'string' || o.actor.length === 0) return 'actor must be a non-empty string';
  for (const k of ['run', 'agent', 'sender'] as const) {
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
  if (e.sender !== undefined) o.sender = e.sender;
  return o;
}

/**
 * Canonical text of an event: the ledger entry. Validates the shape and rejects secrets in the same
 * walk that writes the text.
 * @throws InvalidMessageError
 */
export function encodeEventText(e: AuditEvent): string {
  const problem = eventShapeProblem(e);
  if (problem) throw new InvalidMessageError(`audit event: ${problem}`, { details: { reason: problem } });
  return write(plainEvent(e), [], true);
}

/**
 * Canonical bytes of an event: the ledger entry. Validates the shape, rejects secrets.
 * @throws InvalidMessageError
 */
export function encodeEvent(e: AuditEvent): Buffer {
  return Buffer.from(encodeEventText(e), 'utf8');
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
