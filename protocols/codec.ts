/**
 * Wire codecs. Actor traffic is msgpack (msgpackr, plain maps so any language's msgpack reads it);
 * the external observability feed is JSON. Decoding also accepts JSON on actor subjects (a payload
 * starting with `{`, which is never a valid msgpack envelope), so any NATS client can publish
 * requests without a msgpack library. Every decode checks the size limit, then validates.
 */
import { Packr } from 'msgpackr';
import { type AnyEnvelope, type Envelope, validateEnvelope } from './envelope.ts';
import { DecodeError, PayloadTooLargeError } from './vocabulary/errors.ts';

/** Default maximum encoded message size. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

export type WireFormat = 'msgpack' | 'json';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export interface Codec {
  readonly format: WireFormat;
  encode(env: AnyEnvelope): Uint8Array;
  /** Decodes and validates; throws DecodeError, PayloadTooLargeError or InvalidMessageError. */
  decode(bytes: Uint8Array): Envelope;
}

function checkSize(size: number, maxPayloadBytes: number) {
  if (size > maxPayloadBytes) {
    throw new PayloadTooLargeError(`payload of ${size} bytes exceeds the limit of ${maxPayloadBytes} bytes`, {
      details: { size, maxPayloadBytes },
    });
  }
}

export function detectFormat(bytes: Uint8Array): WireFormat {
  return bytes.length > 0 && bytes[0] === 0x7b ? 'json' : 'msgpack';
}

export function decodeRaw(bytes: Uint8Array, maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES): unknown {
  checkSize(bytes.length, maxPayloadBytes);
  if (bytes.length === 0) throw new DecodeError('empty payload');
  const format = detectFormat(bytes);
  try {
    return format === 'json' ? JSON.parse(textDecoder.decode(bytes)) : packr.unpack(bytes);
  } catch (err) {
    throw new DecodeError(
      `undecodable ${format} payload: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
}

export function msgpackCodec(maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES): Codec {
  return {
    format: 'msgpack',
    encode(env) {
      const bytes = packr.pack(env);
      checkSize(bytes.length, maxPayloadBytes);
      return bytes;
    },
    decode: (bytes) => validateEnvelope(decodeRaw(bytes, maxPayloadBytes)),
  };
}

export function jsonCodec(maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES): Codec {
  return {
    format: 'json',
    encode(env) {
      const bytes = textEncoder.encode(JSON.stringify(env));
      checkSize(bytes.length, maxPayloadBytes);
      return bytes;
    },
    decode: (bytes) => validateEnvelope(decodeRaw(bytes, maxPayloadBytes)),
  };
}
