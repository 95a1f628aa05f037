/**
 * Compiling error-budget policies (docs/error-budgets.md): the validation that refuses a bad policy
 * with GOV_ERR_CONFIG naming the field, the defaults, and the derived bucket width, windows and
 * thresholds that the evaluator, the memory store and the Lua script all rely on.
 */
import { describe, expect, it } from 'vitest';
import {
  type BudgetPolicy,
  bucketWidthMs,
  compileBudget,
  DEFAULT_BURN_RATE_PAIRS,
  DEFAULT_SLO_PERIOD_MS,
  evaluateBudget,
  pairFires,
  scaleWindowMs,
  VERDICT_CODES,
  verdictFromCode,
} from '../../actors/error-budget/index.ts';
import { ConfigError } from '../../protocols/vocabulary/errors.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** The ConfigError a policy is refused with (fails the test when it compiles). */
function refusal(policy: unknown): InstanceType<typeof ConfigError> {
  try {
    compileBudget(policy as BudgetPolicy);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as InstanceType<typeof ConfigError>;
  }
  throw new Error(`compiled: ${JSON.stringify(policy)}`);
}

/** A count policy's warn threshold. */
function warnAt(policy: BudgetPolicy): number {
  const b = compileBudget(policy);
  if (b.kind !== 'count') throw new Error(b.kind);
  return b.warnAt;
}

describe('count budget policies', () => {
  it('derive warn at ⌈80 %⌉ of maxErrors, breach at maxErrors + 1, one window, its buckets and key TTL', () => {
    expect(compileBudget({ kind: 'count', maxErrors: 7, windowMs: 10 * MIN })).toEqual({
      kind: 'count',
      maxErrors: 7,
      windowMs: 10 * MIN,
      warnAt: 6, // 5.6 rounded up
      breachAt: 8,
      bucketMs: MIN,
      windowsMs: [10 * MIN],
      windowBuckets: [10],
      ttlMs: 11 * MIN,
    });
  });

  it('warn at least at the first error, even with a zero budget or a tiny fraction', () => {
    expect(compileBudget({ kind: 'count', maxErrors: 0, windowMs: MIN })).toMatchObject({
      warnAt: 1,
      breachAt: 1,
    });
    expect(warnAt({ kind: 'count', maxErrors: 100, windowMs: MIN, warnFraction: 0.001 })).toBe(1);
  });

  it('take a warn fraction of exactly 1 (warn only at the last allowed error)', () => {
    expect(warnAt({ kind: 'count', maxErrors: 4, windowMs: MIN, warnFraction: 1 })).toBe(4);
  });

  it('use a bucket width override as given, with the window buckets rounded up', () => {
    expect(compileBudget({ kind: 'count', maxErrors: 1, windowMs: 1_000, bucketMs: 300 })).toMatchObject({
      bucketMs: 300,
      windowBuckets: [4],
      ttlMs: 1_300,
    });
  });

  it.each([
    ['maxErrors', { maxErrors: -1, windowMs: MIN }, /maxErrors must be a non-negative integer, got -1/],
    ['maxErrors', { maxErrors: 1.5, windowMs: MIN }, /maxErrors must be a non-negative integer, got 1.5/],
    ['maxErrors', { maxErrors: '3', windowMs: MIN }, /maxErrors must be a non-negative integer/],
    ['windowMs', { maxErrors: 1, windowMs: 0 }, /windowMs must be a positive integer, got 0/],
    ['windowMs', { maxErrors: 1, windowMs: 2.5 }, /windowMs must be a positive integer/],
    ['windowMs', { maxErrors: 1, windowMs: '60000' }, /windowMs must be a positive integer/],
    [
      'warnFraction',
      { maxErrors: 1, windowMs: MIN, warnFraction: 0 },
      /warnFraction must be a number in \(0, 1\]/,
    ],
    ['warnFraction', { maxErrors: 1, windowMs: MIN, warnFraction: 1.01 }, /warnFraction must be/],
    ['warnFraction', { maxErrors: 1, windowMs: MIN, warnFraction: Number.NaN }, /warnFraction must be/],
    ['warnFraction', { maxErrors: 1, windowMs: MIN, warnFraction: '0.5' }, /warnFraction must be/],
    ['bucketMs', { maxErrors: 1, windowMs: MIN, bucketMs: 0 }, /bucketMs must be a positive integer, got 0/],
  ])('are refused with GOV_ERR_CONFIG naming %s: %j', (field, over, message) => {
    const err = refusal({ kind: 'count', ...over });
    expect(err.code).toBe('GOV_ERR_CONFIG');
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^error budget: /);
    expect(Object.keys(err.details ?? {})).toEqual([field]);
  });

  it('accept the smallest valid values: zero errors, a 1 ms window', () => {
    expect(compileBudget({ kind: 'count', maxErrors: 0, windowMs: 1 })).toMatchObject({
      bucketMs: 1,
      windowBuckets: [1],
      ttlMs: 2,
    });
  });
});

describe('SLO budget policies', () => {
  it('default to the 30-day period, 10 events minimum and the SRE workbook pairs, unscaled', () => {
    const b = compileBudget({ kind: 'slo', slo: 0.99 });
    if (b.kind !== 'slo') throw new Error(b.kind);
    expect(b.periodMs).toBe(DEFAULT_SLO_PERIOD_MS);
    expect(b.minEvents).toBe(10);
    expect(b.budgetFraction).toBeCloseTo(0.01, 12);
    expect(b.windowsMs).toEqual([5 * MIN, 30 * MIN, HOUR, 6 * HOUR, 3 * DAY]);
    expect(b.pairs.map((p) => [p.longIndex, p.shortIndex, p.burnRate, p.severity])).toEqual([
      [2, 0, 14.4, 'breach'],
      [3, 1, 6, 'breach'],
      [4, 3, 1, 'warn'],
    ]);
    expect(b.pairs.map((p) => [p.longWindowMs, p.shortWindowMs])).toEqual(
      DEFAULT_BURN_RATE_PAIRS.map((p) => [p.longWindowMs, p.shortWindowMs]),
    );
    // shortest window 5 min → 30 s buckets; the 3-day window spans 8640 (≤ 10 000)
    expect(b.bucketMs).toBe(30_000);
    expect(b.windowBuckets).toEqual([10, 60, 120, 720, 8640]);
    expect(b.ttlMs).toBe(3 * DAY + 30_000);
  });

  it('scale the pair windows with the period but never the burn rates', () => {
    const b = compileBudget({
      kind: 'slo',
      slo: 0.5,
      periodMs: 3 * DAY,
      minEvents: 0,
      pairs: [{ longWindowMs: 10 * HOUR, shortWindowMs: HOUR, burnRate: 1.5, severity: 'breach' }],
    });
    expect(b).toMatchObject({
      periodMs: 3 * DAY,
      minEvents: 0,
      windowsMs: [6 * MIN, HOUR],
      pairs: [{ longWindowMs: HOUR, shortWindowMs: 6 * MIN, longIndex: 1, shortIndex: 0, burnRate: 1.5 }],
    });
  });

  it.each([
    ['slo', { slo: 0 }, /slo must be a number in \(0, 1\), got 0/],
    ['slo', { slo: 1 }, /slo must be a number in \(0, 1\), got 1/],
    ['slo', { slo: Number.POSITIVE_INFINITY }, /slo must be/],
    ['periodMs', { slo: 0.9, periodMs: -5 }, /periodMs must be a positive integer, got -5/],
    ['minEvents', { slo: 0.9, minEvents: -1 }, /minEvents must be a non-negative integer, got -1/],
    [
      'pairs[0].longWindowMs',
      { slo: 0.9, pairs: [{ longWindowMs: 0, shortWindowMs: 1, burnRate: 1, severity: 'warn' }] },
      /pairs\[0\]\.longWindowMs must be a positive integer/,
    ],
    [
      'pairs[1].shortWindowMs',
      {
        slo: 0.9,
        pairs: [
          { longWindowMs: 2, shortWindowMs: 1, burnRate: 1, severity: 'warn' },
          { longWindowMs: 2, shortWindowMs: -1, burnRate: 1, severity: 'warn' },
        ],
      },
      /pairs\[1\]\.shortWindowMs must be a positive integer/,
    ],
    [
      'burnRate',
      { slo: 0.9, pairs: [{ longWindowMs: 2, shortWindowMs: 1, burnRate: 0, severity: 'warn' }] },
      /pairs\[0\]\.burnRate must be a positive number/,
    ],
    [
      'burnRate',
      {
        slo: 0.9,
        pairs: [{ longWindowMs: 2, shortWindowMs: 1, burnRate: Number.POSITIVE_INFINITY, severity: 'warn' }],
      },
      /burnRate must be a positive number/,
    ],
    [
      'burnRate',
      { slo: 0.9, pairs: [{ longWindowMs: 2, shortWindowMs: 1, burnRate: '2', severity: 'warn' }] },
      /burnRate must be a positive number/,
    ],
    [
      'severity',
      { slo: 0.9, pairs: [{ longWindowMs: 2, shortWindowMs: 1, burnRate: 1, severity: 'page' }] },
      /pairs\[0\]\.severity must be 'warn' or 'breach'/,
    ],
  ])('are refused with GOV_ERR_CONFIG naming %s: %j', (field, over, message) => {
    const err = refusal({ kind: 'slo', ...over });
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^error budget: /);
    expect(Object.keys(err.details ?? {})).toEqual([field]);
  });

  it('need at least one burn-rate pair', () => {
    expect(refusal({ kind: 'slo', slo: 0.9, pairs: [] }).message).toBe(
      'error budget: an SLO budget needs at least one burn-rate pair',
    );
  });

  it('accept both severities', () => {
    for (const severity of ['warn', 'breach'] as const)
      expect(
        compileBudget({
          kind: 'slo',
          slo: 0.9,
          pairs: [{ longWindowMs: 20, shortWindowMs: 10, burnRate: 1, severity }],
        }).kind,
      ).toBe('slo');
  });
});

it('refuses a policy of an unknown kind, naming it', () => {
  expect(refusal({ kind: 'ratio' }).message).toBe('error budget: unknown kind ratio');
});

describe('bucket width', () => {
  it('is a tenth of the shortest window', () => {
    expect(bucketWidthMs([10 * MIN, HOUR])).toBe(MIN);
  });
  it('is at least 100 ms, but never wider than the shortest window', () => {
    expect(bucketWidthMs([500])).toBe(100);
    expect(bucketWidthMs([1_000])).toBe(100);
    expect(bucketWidthMs([50])).toBe(50);
  });
  it('widens so the longest window spans at most 10 000 buckets', () => {
    expect(bucketWidthMs([1_000, 30 * DAY])).toBe(Math.ceil((30 * DAY) / 10_000));
    expect(bucketWidthMs([1_000, 1_000_001])).toBe(101);
  });
  it('is at least 1 ms', () => {
    expect(bucketWidthMs([0])).toBe(1);
  });
});

describe('window scaling', () => {
  it('scales by periodMs / 30 d, rounding to the nearest millisecond, at least 1 ms', () => {
    expect(scaleWindowMs(HOUR, 3 * DAY)).toBe(6 * MIN);
    expect(scaleWindowMs(HOUR, 60 * DAY)).toBe(2 * HOUR);
    expect(scaleWindowMs(3, 1, 2)).toBe(2); // 1.5 rounds up
    expect(scaleWindowMs(5, 1, 4)).toBe(1); // 1.25 rounds down
    expect(scaleWindowMs(1, 1)).toBe(1);
  });
});

describe('verdict codes (shared with the Lua script)', () => {
  it('map ok, warn, breach to 0, 1, 2 and back, and refuse any other code', () => {
    expect(VERDICT_CODES).toEqual({ ok: 0, warn: 1, breach: 2 });
    expect([0, 1, 2].map(verdictFromCode)).toEqual(['ok', 'warn', 'breach']);
    for (const code of [-1, 3, 1.5]) expect(() => verdictFromCode(code)).toThrow(RangeError);
    expect(() => verdictFromCode(3)).toThrow('unknown budget verdict code 3');
  });
});

describe('pairs and windows at the edges', () => {
  const slo = compileBudget({
    kind: 'slo',
    slo: 0.9,
    minEvents: 4,
    pairs: [
      { longWindowMs: 20, shortWindowMs: 10, burnRate: 1, severity: 'breach' },
      { longWindowMs: 40, shortWindowMs: 10, burnRate: 1, severity: 'breach' },
    ],
  });
  if (slo.kind !== 'slo') throw new Error(slo.kind);
  const burning = { errors: 4, total: 4 };

  it('a pair fires once its long window holds exactly minEvents events', () => {
    expect(pairFires(slo, 0, [burning, burning, burning])).toBe(true);
    expect(pairFires(slo, 0, [burning, { errors: 3, total: 3 }, burning])).toBe(false);
  });
  it('a pair with an empty short window, or no such pair, never fires', () => {
    expect(pairFires(slo, 0, [{ errors: 0, total: 0 }, burning, burning])).toBe(false);
    expect(pairFires(slo, 2, [burning, burning, burning])).toBe(false);
    expect(pairFires(slo, 0, [])).toBe(false);
  });
  it('of two pairs of one severity that fire, the first sets the verdict', () => {
    expect(evaluateBudget(slo, [burning, burning, burning])).toMatchObject({
      verdict: 'breach',
      firedPair: 0,
    });
    expect(evaluateBudget(slo, [burning, { errors: 0, total: 4 }, burning])).toMatchObject({
      verdict: 'breach',
      firedPair: 1,
    });
  });
  it('reports each window of an SLO budget with its own burn rate', () => {
    const { windows } = evaluateBudget(slo, [
      { errors: 1, total: 10 },
      { errors: 2, total: 10 },
      { errors: 0, total: 10 },
    ]);
    expect(windows.map((w) => [w.windowMs, w.errors, w.total])).toEqual([
      [10, 1, 10],
      [20, 2, 10],
      [40, 0, 10],
    ]);
    expect(windows.map((w) => w.burnRate)).toEqual([expect.closeTo(1, 9), expect.closeTo(2, 9), 0]);
  });
  it('a count budget of zero errors reports an infinite burn on its first error, none before', () => {
    const zero = compileBudget({ kind: 'count', maxErrors: 0, windowMs: MIN });
    expect(evaluateBudget(zero, [{ errors: 0, total: 3 }]).windows[0]).toEqual({
      windowMs: MIN,
      errors: 0,
      total: 3,
      burnRate: 0,
    });
    expect(evaluateBudget(zero, [{ errors: 1, total: 3 }]).windows[0]!.burnRate).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});

describe('strict thresholds and count budgets', () => {
  it('a pair whose short window burns exactly at its rate does not fire, however fast the long one burns', () => {
    const b = compileBudget({
      kind: 'slo',
      slo: 0.9,
      minEvents: 1,
      pairs: [{ longWindowMs: 20, shortWindowMs: 10, burnRate: 2, severity: 'breach' }],
    });
    if (b.kind !== 'slo') throw new Error(b.kind);
    // short: 2 errors in 10 → ratio 0.2 → burn exactly 2; long: 5 in 10 → burn 5
    expect(
      pairFires(b, 0, [
        { errors: 2, total: 10 },
        { errors: 5, total: 10 },
      ]),
    ).toBe(false);
    expect(
      pairFires(b, 0, [
        { errors: 3, total: 10 },
        { errors: 5, total: 10 },
      ]),
    ).toBe(true);
  });

  it('a count budget never names a fired pair, and counts of the wrong length are refused with their sizes', () => {
    const b = compileBudget({ kind: 'count', maxErrors: 1, windowMs: MIN });
    expect(evaluateBudget(b, [{ errors: 5, total: 5 }])).toMatchObject({ verdict: 'breach', firedPair: -1 });
    expect(() => evaluateBudget(b, [])).toThrow('expected counts for 1 windows, got 0');
  });
});
