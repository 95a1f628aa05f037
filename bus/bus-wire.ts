/**
 * The bus's small pieces of wire handling (bus.ts is the door): the typed errors a failed ask, reply or
 * publish becomes, what a dead letter says about bytes it keeps or withholds, and NATS headers.
 */
import {
  errors as natsErrors,
  headers as natsHeaders,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/transport-node';
import { type BodyOf, SECRET_MESSAGE_TYPES } from '../protocols/catalog.ts';
import { decodeRaw, detectFormat } from '../protocols/codec.ts';
import {
  BusClosedError,
  type GovError,
  NoRespondersError,
  PayloadTooLargeError,
  type SerializedError,
  TimeoutError,
  toGovError,
  UnknownSubjectError,
} from '../protocols/vocabulary/errors.ts';
import { isKnownSubject } from '../protocols/subjects.ts';
import { DEFAULT_DEAD_LETTER_MAX_BYTES } from './bus-options.ts';

export const EMPTY = new Uint8Array(0);

/** What a killed bus answers: a promise that never settles, so its awaiter never resumes. */
export function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/**
 * Turns a killed actor's own connection into a void: nats.js objects it still holds (a JetStream
 * message it has yet to ack, a KV handle) publish and request through the connection object itself.
 */
export function silence(nc: NatsConnection): void {
  const c = nc as unknown as Record<'publish' | 'request' | 'flush', unknown>;
  c.publish = () => undefined;
  c.request = never;
  c.flush = never;
}

/** The typed error a failed ask of `busName` to `subject` becomes. */
export function requestError(err: unknown, subject: string, timeoutMs: number, busName: string): GovError {
  // The reply inbox rejects with our own NoRespondersError / TimeoutError / BusClosedError; only a
  // publish on a closed connection throws nats.js's error.
  if (err instanceof NoRespondersError) {
    if (!isKnownSubject(subject)) {
      return new UnknownSubjectError(`${subject} is not a subject of the protocol (see docs/protocol.md)`, {
        cause: err,
        details: { subject },
      });
    }
    return new NoRespondersError(`no actor is listening on ${subject}`, {
      cause: err,
      details: { subject },
    });
  }
  if (err instanceof TimeoutError) {
    return new TimeoutError(`no reply from ${subject} within ${timeoutMs} ms`, {
      cause: err,
      details: { subject, timeoutMs },
    });
  }
  if (err instanceof natsErrors.ClosedConnectionError)
    return new BusClosedError(`bus ${busName} is closed`, { cause: err });
  return toGovError(err);
}

/** The error a refused reply becomes: the codec's own, with what was refused. */
export function replyError(error: GovError, type: string): GovError {
  if (!(error instanceof PayloadTooLargeError)) return error;
  return new PayloadTooLargeError(`the ${type} reply is too large to send: ${error.message}`, {
    cause: error,
    details: { type, ...(error.details ?? {}) },
  });
}

/** The error a refused publish becomes: the codec's own, with what was refused and where it was going. */
export function outgoingError(error: GovError, type: string, subject: string): GovError {
  if (!(error instanceof PayloadTooLargeError)) return error;
  return new PayloadTooLargeError(
    `the ${type} message to ${subject} is too large to send: ${error.message}`,
    {
      cause: error,
      details: { type, subject, ...(error.details ?? {}) },
    },
  );
}

/**
 * The body of a dead letter for `msg`: up to 64 KiB of its bytes (none of a secret-bearing message),
 * and a summary of what they were.
 */
export function deadLetterBody(
  msg: { subject: string; data: Uint8Array },
  reason: SerializedError,
  receivedBy: string,
) {
  const summary = summarise(msg.data);
  const secret = summary.type !== undefined && SECRET_MESSAGE_TYPES.has(summary.type);
  const truncated = secret || msg.data.length > DEFAULT_DEAD_LETTER_MAX_BYTES;
  const payload = secret
    ? ''
    : Buffer.from(msg.data.subarray(0, DEFAULT_DEAD_LETTER_MAX_BYTES)).toString('base64');
  const body = { subject: msg.subject, receivedBy, reason, size: msg.data.length, summary };
  return { body, payload, truncated };
}

/** What a dead letter's bytes were, as far as they decode; never their content. */
function summarise(data: Uint8Array): NonNullable<BodyOf<'dead-letter.v1'>['summary']> {
  const format = detectFormat(data);
  try {
    const v = decodeRaw(data, Number.POSITIVE_INFINITY) as Record<string, unknown> | null;
    const str = (x: unknown) => (typeof x === 'string' ? x.slice(0, 256) : undefined);
    if (!v || typeof v !== 'object') return { format };
    return Object.fromEntries(
      Object.entries({ format, type: str(v.type), id: str(v.id), from: str(v.from), run: str(v.run) }).filter(
        ([, x]) => x !== undefined,
      ),
    ) as { format: typeof format };
  } catch {
    return { format };
  }
}

export function toHeaders(h: Record<string, string> | undefined): MsgHdrs | undefined {
  if (!h) return undefined;
  const out = natsHeaders();
  for (const [k, v] of Object.entries(h)) out.set(k, v);
  return out;
}
