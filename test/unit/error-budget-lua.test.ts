import { describe, expect, it } from 'vitest';
import {
  BUDGET_LUA,
  budgetArgs,
  budgetFraction,
  burnRate,
  compileBudget,
} from '../../actors/error-budget/index.ts';

/** Every redis.call(...) in the script: command and first argument. */
function calls(): Array<{ command: string; key: string }> {
  return [...BUDGET_LUA.matchAll(/redis\.call\('([A-Z]+)',\s*([^,)]+)/g)].map((m) => ({
    command: m[1]!,
    key: m[2]!.trim(),
  }));
}

describe('budget Lua script (Dragonfly constraints)', () => {
  it('touches only keys passed in KEYS', () => {
    const keyVars = new Set(['errorsKey', 'totalsKey', 'stateKey', 'seenKey', 'key']);
    expect(BUDGET_LUA).toContain(
      'local errorsKey, totalsKey, stateKey, seenKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]',
    );
    expect(BUDGET_LUA).toMatch(/local function scan\(key\)/);
    expect(BUDGET_LUA).toMatch(/scan\(errorsKey\)/);
    expect(BUDGET_LUA).toMatch(/scan\(totalsKey\)/);
    expect(calls().length).toBeGreaterThan(5);
    for (const c of calls()) expect(keyVars, `${c.command} ${c.key}`).toContain(c.key);
  });

  it('uses no blocking, time or keyspace-wide commands', () => {
    const used = new Set(calls().map((c) => c.command));
    expect([...used].sort()).toEqual([
      'EXISTS',
      'HDEL',
      'HGETALL',
      'HINCRBY',
      'HMGET',
      'HSET',
      'PEXPIRE',
      'SET',
    ]);
    expect(BUDGET_LUA).not.toMatch(/'(TIME|BLPOP|BRPOP|BLMOVE|BZPOPMIN|XREAD|KEYS|SCAN|WAIT)'/i);
  });

  it('declares no globals (every assignment target is local or a table slot)', () => {
    const lines = BUDGET_LUA.split('\n').map((l) => l.trim());
    const locals = new Set<string>();
    for (const l of lines) {
      const m = /^local (?:function )?([\w, ]+?)(?:\s*=|\(|$)/.exec(l);
      if (m) for (const v of m[1]!.split(',')) locals.add(v.trim());
      const f = /^for (\w+)/.exec(l);
      if (f) locals.add(f[1]!);
    }
    for (const l of lines) {
      const a = /^(\w+)\s*=[^=]/.exec(l);
      if (a) expect(locals, l).toContain(a[1]);
    }
  });
});

describe('script arguments', () => {
  it('passes window bucket counts, thresholds and the rounded budget fraction as strings', () => {
    const slo = compileBudget({ kind: 'slo', slo: 0.999 });
    const args = budgetArgs(slo, 'record', 1_700_000_000_123.7, 'error', 604_800_000);
    expect(args.slice(0, 13)).toEqual([
      'record',
      '1700000000123',
      'error',
      '604800000',
      '30000',
      String(3 * 86_400_000 + 30_000),
      '5',
      '10',
      '60',
      '120',
      '720',
      '8640',
      'slo',
    ]);
    expect(args.slice(13, 16)).toEqual(['0.001', '10', '3']);
    expect(args.slice(16)).toEqual(['3', '1', '14.4', '2', '4', '2', '6', '2', '5', '4', '1', '1']);
    const count = compileBudget({ kind: 'count', maxErrors: 10, windowMs: 60_000 });
    expect(budgetArgs(count, 'peek', 5, undefined)).toEqual([
      'peek',
      '5',
      '-',
      '0',
      '6000',
      '66000',
      '1',
      '10',
      'count',
      '8',
      '11',
    ]);
  });

  it('rounds 1 - slo so that a burn rate at the threshold is exactly the threshold', () => {
    expect(budgetFraction(0.9)).toBe(0.1);
    expect(budgetFraction(0.999)).toBe(0.001);
    expect(burnRate(2, 10, 0.9)).toBe(2);
    expect(burnRate(6, 100, 0.99)).toBe(6);
  });
});
