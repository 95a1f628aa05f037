import { describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  canonicalJson,
  decodeEvent,
  encodeEvent,
  isSecretKey,
} from '../../actors/ledger/index.ts';
import { DecodeError, InvalidMessageError } from '../../protocols/vocabulary/errors.ts';

const event = (over: Partial<AuditEvent> = {}): AuditEvent => ({
  id: 'ev-1',
  ts: 1_700_000_000_000,
  type: 'agent.started',
  actor: 'supervisor/main',
  run: 'run-1',
  agent: 'agent-7',
  data: { b: 1, a: [true, null, 'x'] },
  ...over,
});

describe('canonical encoding', () => {
  it('matches the RFC 8785 example: sorted keys, ECMAScript numbers, minimal escaping', () => {
    const input = {
      numbers: [Number.parseFloat('333333333.33333329'), 1e30, 4.5, 2e-3, 0.000000000000000000000000001],
      string: '\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/',
      literals: [null, true, false],
    };
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('gives the same bytes whatever order the keys were inserted in', () => {
    const a = { z: 1, a: { y: [1, { d: 2, c: 3 }], b: 'x' } };
    const b = { a: { b: 'x', y: [1, { c: 3, d: 2 }] }, z: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"b":"x","y":[1,{"c":3,"d":2}]},"z":1}');
  });

  it('sorts keys by UTF-16 code units and writes -0 as 0', () => {
    expect(canonicalJson({ '\u20ac': 1, '\ud83d\ude00': 2, a: 3, B: 4 })).toBe('{"B":4,"a":3,"€":1,"😀":2}');
    expect(canonicalJson(-0)).toBe('0');
  });

  it('rejects values that are not plain JSON instead of dropping them', () => {
    for (const bad of [
      { a: undefined },
      [undefined],
      Number.NaN,
      Number.POSITIVE_INFINITY,
      new Date(0),
      new Map(),
      10n,
      () => 1,
      '\ud800',
      { '\udc00': 1 },
    ]) {
      expect(() => canonicalJson(bad)).toThrow(InvalidMessageError);
    }
  });

  it('encodes every field of the event, omitting absent optional ones', () => {
    expect(encodeEvent(event()).toString()).toBe(
      '{"actor":"supervisor/main","agent":"agent-7","data":{"a":[true,null,"x"],"b":1},"id":"ev-1","run":"run-1","ts":1700000000000,"type":"agent.started"}',
    );
    const bare = event();
    delete bare.run;
    delete bare.agent;
    expect(encodeEvent(bare).toString()).not.toContain('run');
  });

  it('decodes what it encodes, and refuses bytes that are not canonical', () => {
    const e = event();
    expect(decodeEvent(encodeEvent(e))).toEqual(e);
    const spaced = Buffer.from(JSON.stringify(JSON.parse(encodeEvent(e).toString()), null, 1));
    expect(() => decodeEvent(spaced)).toThrow(DecodeError);
    expect(() => decodeEvent(Buffer.from([0xff, 0xfe]))).toThrow(DecodeError);
  });

  it('rejects malformed events: missing fields, unknown fields, bad ts, non-object data', () => {
    const cases: unknown[] = [
      { ...event(), id: '' },
      { ...event(), ts: 1.5 },
      { ...event(), ts: -1 },
      { ...event(), actor: 7 },
      { ...event(), data: [] },
      { ...event(), run: '' },
      { ...event(), extra: 1 },
    ];
    for (const c of cases) expect(() => encodeEvent(c as AuditEvent)).toThrow(InvalidMessageError);
  });

  it('refuses events carrying secrets by key name, anywhere in data, and names the path not the value', () => {
    for (const key of [
      'token',
      'secret',
      'password',
      'seed',
      'clientToken',
      'client_token',
      'accessToken',
      'dbPassword',
    ]) {
      let err: unknown;
      try {
        encodeEvent(event({ data: { nested: [{ [key]: 'hunter2' }] } }));
      } catch (e) {
        err = e;
      }
      expect(err, key).toBeInstanceOf(InvalidMessageError);
      expect((err as Error).message).toContain(`$.data.nested[0].${key}`);
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('refuses values that look like credentials whatever the key', () => {
    const values = [
      `hvs.${'A'.repeat(90)}`,
      `SU${'A'.repeat(56)}`,
      '-----BEGIN PRIVATE KEY-----\nMC4CAQ...',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln',
    ];
    for (const v of values)
      expect(() => encodeEvent(event({ data: { note: v } }))).toThrow(InvalidMessageError);
  });

  it('lets tokens be referenced by accessor and token counts through', () => {
    expect(isSecretKey('tokenAccessor')).toBe(false);
    expect(isSecretKey('tokens')).toBe(false);
    expect(isSecretKey('maxTokens')).toBe(false);
    expect(() => encodeEvent(event({ data: { tokenAccessor: 'acc-123', tokens: 512 } }))).not.toThrow();
  });
});
