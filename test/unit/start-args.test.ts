import { describe, expect, it } from 'vitest';
import { budgetMonitorArgs } from '../../actors/error-budget/budget-monitor-options.ts';
import { argList, argPositiveNumber, argStartFrom, argString } from '../../actors/runtime/start-args.ts';
import { tokenAuthorityArgs, tokenRenewerArgs } from '../../actors/token/token-options.ts';
import { ConfigError } from '../../protocols/errors.ts';

describe('start args', () => {
  it('reads a non-empty string and nothing else as a string', () => {
    expect(argString('x')).toBe('x');
    for (const v of ['', undefined, null, 3, true]) expect(argString(v)).toBeUndefined();
  });

  it('reads positive numbers from numbers and strings, with a default for absent values', () => {
    expect(argPositiveNumber(5, 1)).toBe(5);
    expect(argPositiveNumber('250', 1)).toBe(250);
    expect(argPositiveNumber(undefined, 7)).toBe(7);
    expect(argPositiveNumber('', 7)).toBe(7);
    for (const bad of [0, -1, 'abc', Number.POSITIVE_INFINITY])
      expect(() => argPositiveNumber(bad, 1)).toThrow(ConfigError);
  });

  it('reads lists from arrays and comma-separated strings', () => {
    expect(argList(['a', '', 'b'])).toEqual(['a', 'b']);
    expect(argList(' a, b ,,c')).toEqual(['a', 'b', 'c']);
    expect(argList(undefined)).toEqual([]);
  });

  it('starts from new messages unless told all, and refuses anything else', () => {
    expect(argStartFrom(undefined)).toBe('new');
    expect(argStartFrom('all')).toBe('all');
    expect(() => argStartFrom('first')).toThrow(ConfigError);
  });

  it('parses the token and budget actors with the same readers', () => {
    const env = { VAULT_ADDR: 'http://v', VAULT_TOKEN: 't', REDIS_URL: 'redis://r' };
    expect(
      tokenAuthorityArgs({ reporterAllowlist: 'a,b', startFrom: 'all', ackWaitMs: '10' }, env),
    ).toMatchObject({
      reporterAllowlist: ['a', 'b'],
      startFrom: 'all',
      ackWaitMs: 10,
    });
    expect(tokenRenewerArgs({ pollMs: 5 }, env)).toMatchObject({ pollMs: 5, redisUrl: 'redis://r' });
    expect(budgetMonitorArgs({ timelineErrors: '3' }, env)).toMatchObject({
      timelineErrors: 3,
      startFrom: 'new',
    });
    expect(() => budgetMonitorArgs({ startFrom: 'x' }, env)).toThrow(/startFrom must be "new" or "all"/);
    expect(() => tokenAuthorityArgs({ revokeTimeoutMs: 1, reporterVerifyTimeoutMs: -1 }, env)).toThrow(
      ConfigError,
    );
  });
});
