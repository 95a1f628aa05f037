/**
 * The versioned envelope around every bus message.
 *
 * ```
 * { sv: 1, type: 'demo.echo.v1', id, ts, from, corr?, cause?, run?, body }
 * ```
 * - `sv` schema version of the envelope itself;
 * - `type` the versioned message type (discriminant of the catalogue union);
 * - `id` unique message id (also the JetStream `Nats-Msg-Id` for deduplication);
 * - `ts` sender's clock, ms since epoch; `from` sender address (actor subject or client name);
 * - `corr` correlation id (the conversation), `cause` id of the message that caused this one;
 * - `run` optional pipeline run id.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  type BodyIn,
  type BodyOf,
  catalog,
  isMessageType,
  MESSAGE_TYPES,
  type MessageType,
} from './catalog.ts';
import { InvalidMessageError } from './vocabulary/errors.ts';

export const ENVELOPE_SCHEMA_VERSION = 1 as const;

const envelopeBase = {
  sv: z.literal(ENVELOPE_SCHEMA_VERSION),
  id: z.string().min(1).max(128),
  ts: z.number().int().nonnegative(),
  from: z.string().min(1).max(256),
  corr: z.string().max(128).optional(),
  cause: z.string().max(128).optional(),
  run: z.string().max(128).optional(),
};
const EnvelopeHeader = z.object({ ...envelopeBase, type: z.string() }).passthrough();

export type EnvelopeMeta = {
  sv: typeof ENVELOPE_SCHEMA_VERSION;
  id: string;
  ts: number;
  from: string;
  corr?: string;
  cause?: string;
  run?: string;
};

/** A validated envelope; narrowing on `type` narrows `body`. */
export type Envelope<T extends MessageType = MessageType> = {
  [K in T]: EnvelopeMeta & { type: K; body: BodyOf<K> };
}[T];

/** Any envelope, for code that only moves bytes (codecs, dead letters). */
export type AnyEnvelope = EnvelopeMeta & { type: MessageType; body: unknown };

/**
 * A fresh envelope id: an RFC 9562 UUIDv7 — 48-bit Unix ms, then (RFC 9562 §6.2, method 1) a 12-bit
 * counter of ids made in that ms, then 62 random bits drawn per process (drawn again whenever the
 * counter wraps). Time-ordered ids keep every index keyed by id (the ledger's event-id uniqueness
 * index, above all) append-mostly: a random v4 id dirties a random B-tree page per message, which
 * costs the ledger writer about as much as everything else it writes. Unique within a process by
 * (ms, counter, draw) and across processes by the 62 random bits.
 *
 * Made for every message on the bus, so it is string concatenation of parts formatted ahead: about
 * the cost of `randomUUID()`; formatting the time and slicing a random UUID each time cost 10×
 * as much and took 15 % off the bus bench's tell throughput.
 */
export function newEnvelopeId(nowMs: number = Date.now()): string {
  const ms = Math.max(0, Math.floor(nowMs));
  const id = idState;
  if (ms !== id.ms) {
    const t = ms.toString(16).padStart(12, '0').slice(-12);
    id.prefix = `${t.slice(0, 8)}-${t.slice(8)}-7`;
    id.ms = ms;
    id.counter = 0;
  }
  if (id.counter === 4096) {
    id.suffix = randomSuffix();
    id.counter = 0;
  }
  return id.prefix + HEX3[id.counter++] + id.suffix;
}

/** `-yxxx-xxxxxxxxxxxx`: 62 random bits behind the RFC 9562 variant bits (10). */
function randomSuffix(): string {
  const b = randomBytes(8);
  b[0] = (b[0]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `-${h.slice(0, 4)}-${h.slice(4)}`;
}

const HEX3 = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, '0'));
const idState = { ms: -1, prefix: '', counter: 0, suffix: randomSuffix() };

/** What a sender provides; the bus fills in the rest of the envelope. */
export type OutMessage<T extends MessageType = MessageType> = {
  [K in T]: { type: K; body: BodyIn<K>; run?: string; corr?: string; cause?: string; id?: string };
}[T];

/** Builds a full envelope. */
export function envelope<T extends MessageType>(
  msg: OutMessage<T>,
  meta: { from: string; ts: number; id?: string; corr?: string; cause?: string; run?: string },
): Envelope<T> {
  const env: Record<string, unknown> = {
    sv: ENVELOPE_SCHEMA_VERSION,
    type: msg.type,
    id: msg.id ?? meta.id ?? newEnvelopeId(),
    ts: meta.ts,
    from: meta.from,
    body: msg.body,
  };
  const corr = msg.corr ?? meta.corr;
  const cause = msg.cause ?? meta.cause;
  const run = msg.run ?? meta.run;
  if (corr !== undefined) env.corr = corr;
  if (cause !== undefined) env.cause = cause;
  if (run !== undefined) env.run = run;
  return env as Envelope<T>;
}

/**
 * Validates an untrusted decoded value as an envelope of a catalogued type.
 * Throws InvalidMessageError naming the first problems (path: message).
 */
export function validateEnvelope(value: unknown): Envelope {
  const head = EnvelopeHeader.safeParse(value);
  if (!head.success) throw new InvalidMessageError(`invalid envelope: ${describeIssues(head.error)}`);
  const type = head.data.type;
  if (!isMessageType(type)) {
    throw new InvalidMessageError(`unknown message type ${JSON.stringify(type)}`, { details: { type } });
  }
  const body = catalog[type].safeParse((value as { body?: unknown }).body);
  if (!body.success) {
    throw new InvalidMessageError(`invalid ${type} body: ${describeIssues(body.error, 'body')}`, {
      details: { type },
    });
  }
  const { sv, id, ts, from, corr, cause, run } = head.data;
  return envelope({ type, body: body.data } as OutMessage, { from, ts, id, corr, cause, run }) as Envelope & {
    sv: typeof sv;
  };
}

function describeIssues(error: z.ZodError, prefix?: string): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** The catalogue as one discriminated union, for JSON Schema generation and documentation. */
export function envelopeUnionSchema() {
  const members = MESSAGE_TYPES.map((t) =>
    z.object({ ...envelopeBase, type: z.literal(t), body: catalog[t] }),
  );
  return z.discriminatedUnion('type', members as unknown as [z.ZodObject, ...z.ZodObject[]]);
}

/** JSON Schema (draft 2020-12) of every envelope on the bus. */
export function envelopeJsonSchema(): unknown {
  return z.toJSONSchema(envelopeUnionSchema(), { unrepresentable: 'any', io: 'input' });
}
