/** The shapes of what goes in and out of a Bus call (bus.ts). */
import type { MsgHdrs } from '@nats-io/transport-node';
import type { Envelope } from '../protocols/envelope.ts';
import type { GovError } from '../protocols/vocabulary/errors.ts';
import type { WireFormat } from '../protocols/codec.ts';

/** What a handler learns about the message besides its envelope. */
export interface IncomingContext {
  subject: string;
  /** Present when the sender asked (expects a reply). */
  reply: string | undefined;
  headers: MsgHdrs | undefined;
  size: number;
}

export interface TellOptions {
  headers?: Record<string, string>;
  /** The message this one answers or was caused by: copies its correlation id and sets `cause`. */
  inResponseTo?: Envelope;
  /** Wire format of this message: msgpack unless the receiver asked for JSON (an agent's `encoding`). */
  encoding?: WireFormat;
}

export interface AskOptions extends TellOptions {
  timeoutMs?: number;
}

export interface DurableOptions {
  /** How long to wait for the stream's ack (default: the bus's ask timeout). */
  timeoutMs?: number;
  /** Deduplication id (default: the envelope id). */
  msgId?: string;
}

export type DecodeResult = { ok: true; env: Envelope } | { ok: false; error: GovError };
