import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BudgetMonitorArgsSchema } from '../../actors/error-budget/budget-monitor-options.ts';
import { arg, NO_START_ARGS, parseStartArgs } from '../../actors/runtime/start-args.ts';
import { TokenAuthorityArgsSchema, TokenRenewerArgsSchema } from '../../actors/token/token-options.ts';
import { readEnvironment } from '../../infra/index.ts';
import { ConfigError } from '../../protocols/vocabulary/errors.ts';
import { environmentArgs } from '../../system/index.ts';

const Schema = z.strictObject({
  name: arg.text().optional(),
  count: arg.int(1, 10).default(3),
  waitMs: arg.positive().default(100),
  on: arg.bool().default(false),
  items: arg.list().default([]),
  startFrom: arg.startFrom(),
});
const parse = (raw: Record<string, unknown>) => parseStartArgs('test', Schema, raw);

describe('start arguments', () => {
  it('fills every default when nothing is given, and treats empty values as not given', () => {
    expect(parse({})).toEqual({ count: 3, waitMs: 100, on: false, items: [], startFrom: 'new' });
    expect(parse({ name: '', count: null })).toEqual(parse({}));
  });

  it('reads numbers, booleans and lists given as text (the command line) or as JSON (a child spec)', () => {
    expect(
      parse({ name: 42, count: '7', waitMs: 250, on: 'true', items: ' a, b ,,c', startFrom: 'all' }),
    ).toEqual({
      name: '42',
      count: 7,
      waitMs: 250,
      on: true,
      items: ['a', 'b', 'c'],
      startFrom: 'all',
    });
    expect(parse({ on: 0, items: ['x', 'y'] })).toMatchObject({ on: false, items: ['x', 'y'] });
  });

  it('refuses a bad value with a ConfigError naming the option, never a NaN', () => {
    for (const [raw, option] of [
      [{ count: 'abc' }, 'count'],
      [{ count: 11 }, 'count'],
      [{ waitMs: -1 }, 'waitMs'],
      [{ waitMs: 1.5 }, 'waitMs'],
      [{ on: 'maybe' }, 'on'],
      [{ startFrom: 'first' }, 'startFrom'],
    ] as const) {
      let error: unknown;
      try {
        parse(raw);
      } catch (err) {
        error = err;
      }
      expect(error, option).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).details?.option, option).toBe(option);
      expect((error as ConfigError).message, option).toContain(`option ${option}`);
    }
  });

  it('refuses an option the kind does not have (a misspelt one), naming it', () => {
    expect(() => parse({ cuont: 3 })).toThrow(/option cuont: is not an option of this kind/);
    expect(() => parseStartArgs('echo', NO_START_ARGS, { anything: 1 })).toThrow(ConfigError);
  });

  it('types the token and budget actors from their schemas, with the environment under the arguments', () => {
    const env = readEnvironment({ VAULT_ADDR: 'http://v', VAULT_TOKEN: 't', REDIS_URL: 'redis://r' });
    const withEnv = (kind: string, raw: Record<string, unknown>) => ({
      ...environmentArgs(kind, env),
      ...raw,
    });
    expect(
      parseStartArgs(
        'token-authority',
        TokenAuthorityArgsSchema,
        withEnv('token-authority', { reporterAllowlist: 'a,b', startFrom: 'all', ackWaitMs: '10' }),
      ),
    ).toMatchObject({ reporterAllowlist: ['a', 'b'], startFrom: 'all', ackWaitMs: 10, ensurePolicies: true });
    expect(
      parseStartArgs('token-renewer', TokenRenewerArgsSchema, withEnv('token-renewer', { pollMs: 5 })),
    ).toMatchObject({ pollMs: 5, redisUrl: 'redis://r' });
    expect(
      parseStartArgs(
        'budget-monitor',
        BudgetMonitorArgsSchema,
        withEnv('budget-monitor', { timelineErrors: '3' }),
      ),
    ).toMatchObject({ timelineErrors: 3, startFrom: 'new' });
    expect(() =>
      parseStartArgs(
        'token-authority',
        TokenAuthorityArgsSchema,
        withEnv('token-authority', { reporterVerifyTimeoutMs: -1 }),
      ),
    ).toThrow(/option reporterVerifyTimeoutMs/);
    expect(() => parseStartArgs('token-renewer', TokenRenewerArgsSchema, {})).toThrow(/option vaultAddr/);
  });
});
