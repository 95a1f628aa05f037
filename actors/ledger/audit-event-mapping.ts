/**
 * Envelope → AuditEvent, the one mapping between the AUDIT stream and the ledger.
 *
 *   id     = envelope id (the stream's Nats-Msg-Id: a retried publish is one entry)
 *   ts     = envelope ts;  type = envelope type;  actor = envelope from
 *   run    = envelope run, else a string `runId` in the body
 *   agent  = a string `agentId` (else `agent`) in the body, when it names one
 *   data   = the body (JSON: object properties that are undefined are left out, as JSON.stringify does)
 *   sender = the principal named by the message's subject (gov.audit.<category>.<principal>), given by
 *            the writer: authenticated by the broker, unlike `actor` (the envelope's claim)
 *
 * Secrets never enter the ledger. With policy `strip` (default) a key that names a secret and holds
 * text is removed (a key named `token` holding settings, `{ttlMs}`, is kept: a secret is a value, not
 * a name), and every credential inside a string is replaced by `[redacted]`; the JSON paths of what was
 * removed are listed in `data._redacted`, so the entry says that something was there. Tokens are
 * referenced by accessor (`accessor`, `tokenAccessor` pass). With policy `refuse` the envelope is
 * rejected with InvalidMessageError naming the path (never the value), and the writer dead-letters it.
 */
import type { AnyEnvelope } from '../../protocols/index.ts';
import { InvalidMessageError } from '../../protocols/index.ts';
import {
  type AuditEvent,
  type JsonObject,
  type JsonValue,
  assertNoSecrets,
  isSecretKey,
  redactSecrets,
} from './canonical.ts';
import type { SecretPolicy } from './ledger-writer-options.ts';

/** Placeholder for a credential-looking string value. */
export const REDACTED = '[redacted]';
/** Key in `data` listing the JSON paths stripped from the body. */
export const REDACTED_KEY = '_redacted';

export interface MappingOptions {
  secrets?: SecretPolicy;
  /** The authenticated sender (from the subject the message arrived on; see auditSenderOf). */
  sender?: string;
}

const MAX_DEPTH = 64;

/**
 * Maps an audited envelope to the ledger event. Throws InvalidMessageError when the body cannot be
 * represented (not JSON) or, with policy `refuse`, holds a secret.
 */
export function auditEventFromEnvelope(env: AnyEnvelope, options: MappingOptions = {}): AuditEvent {
  const policy = options.secrets ?? 'strip';
  const rawBody: unknown = env.body;
  const isObject = rawBody !== null && typeof rawBody === 'object' && !Array.isArray(rawBody);
  if (policy === 'refuse') assertNoSecrets(rawBody, '$.data');
  const redacted: string[] = [];
  const body = toJson(
    isObject ? rawBody : { value: rawBody },
    '$.data',
    0,
    policy === 'strip' ? redacted : undefined,
  ) as JsonObject;
  if (redacted.length > 0) body[REDACTED_KEY] = redacted;

  const event: AuditEvent = { id: env.id, ts: env.ts, type: env.type, actor: env.from, data: body };
  const run = env.run ?? stringField(body, 'runId');
  if (run !== undefined) event.run = run;
  const agent = stringField(body, 'agentId') ?? stringField(body, 'agent');
  if (agent !== undefined) event.agent = agent;
  if (options.sender !== undefined) event.sender = options.sender;
  return event;
}

function stringField(o: JsonObject, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * A JSON copy of `v`: undefined object properties dropped; with `redacted` given, secret keys
 * removed and secret-looking strings replaced (paths pushed to `redacted`).
 */
function toJson(v: unknown, path: string, depth: number, redacted: string[] | undefined): JsonValue {
  if (depth > MAX_DEPTH)
    throw new InvalidMessageError(`audit event ${path}: nested deeper than ${MAX_DEPTH} levels`);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    if (!redacted) return v;
    const clean = redactSecrets(v, REDACTED);
    if (clean !== v) redacted.push(path);
    return clean;
  }
  if (Array.isArray(v))
    return v.map((item, i) => toJson(item === undefined ? null : item, `${path}[${i}]`, depth + 1, redacted));
  if (typeof v === 'object') {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidMessageError(`audit event ${path}: not a plain object`, { details: { path } });
    }
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
      if (item === undefined) continue;
      const child = `${path}.${key}`;
      if (redacted && typeof item === 'string' && isSecretKey(key)) {
        redacted.push(child);
        continue;
      }
      out[key] = toJson(item, child, depth + 1, redacted);
    }
    return out;
  }
  throw new InvalidMessageError(`audit event ${path}: ${typeof v} is not JSON`, { details: { path } });
}
