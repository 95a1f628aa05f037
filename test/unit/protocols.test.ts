import { describe, expect, it } from 'vitest';
import {
  actorInbox,
  catalog,
  DecodeError,
  deserializeError,
  envelope,
  envelopeJsonSchema,
  errorFromHeaders,
  errorToHeaders,
  InvalidMessageError,
  InvalidSubjectTokenError,
  isKnownSubject,
  jsonCodec,
  MESSAGE_TYPES,
  type MessageType,
  msgpackCodec,
  newEnvelopeId,
  obsSubject,
  type OutMessage,
  PayloadTooLargeError,
  serializeError,
  TimeoutError,
  TokenRevokedError,
} from '../../protocols/index.ts';
import { messageSamples } from '../fixtures/message-samples.ts';

const meta = { from: 'gov.actor.test.t1', ts: 1_700_000_000_000, corr: 'c-1', run: 'r-1' };

describe('message catalogue and codecs', () => {
  it('has a sample for every message type, so none escapes the round-trip test', () => {
    expect(Object.keys(messageSamples).sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  for (const type of Object.keys(catalog) as MessageType[]) {
    it(`round-trips ${type} through msgpack and JSON unchanged`, () => {
      const env = envelope({ type, body: messageSamples[type] } as OutMessage, meta);
      for (const codec of [msgpackCodec(), jsonCodec()]) {
        expect(codec.decode(codec.encode(env))).toEqual(env);
      }
    });
  }

  it('accepts a JSON request on the msgpack codec so any NATS client can publish', () => {
    const env = envelope({ type: 'demo.echo.v1', body: { text: 'x' } }, meta);
    expect(msgpackCodec().decode(jsonCodec().encode(env))).toEqual(env);
  });

  it('rejects undecodable bytes with a typed decode error', () => {
    expect(() => msgpackCodec().decode(new Uint8Array([0xc1, 0x00]))).toThrow(DecodeError);
    expect(() => msgpackCodec().decode(new TextEncoder().encode('{not json'))).toThrow(DecodeError);
    expect(() => msgpackCodec().decode(new Uint8Array())).toThrow(DecodeError);
  });

  it('rejects a wrong schema with a typed error naming the field', () => {
    const bad = { ...envelope({ type: 'demo.echo.v1', body: { text: 'x' } }, meta), body: { text: 5 } };
    const bytes = new TextEncoder().encode(JSON.stringify(bad));
    expect(() => msgpackCodec().decode(bytes)).toThrow(InvalidMessageError);
    expect(() => msgpackCodec().decode(bytes)).toThrow(/body\.text/);
  });

  it('rejects unknown message types and envelope versions', () => {
    const env = envelope({ type: 'demo.echo.v1', body: { text: 'x' } }, meta);
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    expect(() => msgpackCodec().decode(enc({ ...env, type: 'nope.v1' }))).toThrow(/unknown message type/);
    expect(() => msgpackCodec().decode(enc({ ...env, sv: 2 }))).toThrow(InvalidMessageError);
  });

  it('enforces the configured maximum payload size on encode and decode', () => {
    const env = envelope({ type: 'demo.echo.v1', body: { text: 'x'.repeat(2000) } }, meta);
    expect(() => msgpackCodec(1000).encode(env)).toThrow(PayloadTooLargeError);
    const bytes = msgpackCodec().encode(env);
    expect(() => msgpackCodec(1000).decode(bytes)).toThrow(PayloadTooLargeError);
  });

  it('gives envelopes UUIDv7 ids that sort by creation time, so id indexes grow at one end', () => {
    const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const earlier = newEnvelopeId(1_700_000_000_000);
    const later = newEnvelopeId(1_700_000_000_001);
    expect(earlier).toMatch(v7);
    expect(earlier.replace(/-/g, '').slice(0, 12)).toBe((1_700_000_000_000).toString(16).padStart(12, '0'));
    expect(earlier < later).toBe(true);
    expect(envelope({ type: 'demo.echo.v1', body: { text: 'x' } }, { from: 'a', ts: 1 }).id).toMatch(v7);
    const many = new Set(Array.from({ length: 10_000 }, () => newEnvelopeId(1_700_000_000_000)));
    expect(many.size).toBe(10_000);
    // Within one millisecond a counter orders them (until it wraps at 4096 and the random part is drawn again).
    const burst = Array.from({ length: 100 }, () => newEnvelopeId(1_700_000_000_002));
    expect([...burst].sort()).toEqual(burst);
  });

  it('generates a JSON Schema with one member per message type', () => {
    const schema = envelopeJsonSchema() as { oneOf?: unknown[]; anyOf?: unknown[] };
    expect((schema.oneOf ?? schema.anyOf)?.length).toBe(MESSAGE_TYPES.length);
  });
});

describe('subject builders', () => {
  it('build subjects from validated tokens', () => {
    expect(actorInbox('echo', 'e-1')).toBe('gov.actor.echo.e-1');
    expect(obsSubject('run', 'r_1')).toBe('gov.obs.run.r_1');
  });

  it('recognise the subjects of the protocol and nothing else', () => {
    for (const ok of [
      'gov.actor.echo.e1',
      'gov.svc.orchestrator',
      'gov.sys.hb.agent.a1',
      'gov.obs.run.r1',
      'gov.errors.r1',
      'gov.agents.register.T1.ag-1',
    ]) {
      expect(isKnownSubject(ok), ok).toBe(true);
    }
    for (const bad of [
      'gov.actors.echo.e1',
      'gov.actor.echo',
      'gov.sys.beat.a.b',
      'nats.actor.a.b',
      'gov.svc.a.b',
      'gov.obs',
    ]) {
      expect(isKnownSubject(bad), bad).toBe(false);
    }
  });

  it('refuse tokens that would inject wildcards or extra levels', () => {
    for (const bad of ['a.b', '*', '>', 'a b', '', 'x'.repeat(129)]) {
      expect(() => actorInbox('echo', bad)).toThrow(InvalidSubjectTokenError);
    }
  });
});

describe('errors across the bus', () => {
  it('rebuild the same class, code, retryable flag and details from headers', () => {
    const h = errorToHeaders(new TokenRevokedError('revoked\nby admin', { details: { accessor: 'acc-1' } }));
    const err = errorFromHeaders((n) => h[n]);
    expect(err).toBeInstanceOf(TokenRevokedError);
    expect(err?.code).toBe('GOV_ERR_TOKEN_REVOKED');
    expect(err?.message).toBe('revoked by admin');
    expect(err?.details).toEqual({ accessor: 'acc-1' });
  });

  it('keep the default retryable flag of each class and carry the cause', () => {
    const s = serializeError(new TimeoutError('slow', { cause: new Error('inner') }));
    expect(s.retryable).toBe(true);
    expect(s.cause).toBe('Error: inner');
    expect(deserializeError(s)).toBeInstanceOf(TimeoutError);
  });

  it('turn unknown throwables into GOV_ERR_INTERNAL', () => {
    expect(serializeError('weird').code).toBe('GOV_ERR_INTERNAL');
  });
});
