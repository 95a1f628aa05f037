import { describe, expect, it } from 'vitest';
import {
  allowedErrors,
  bucketWidthMs,
  budgetConsumed,
  burnRate,
  burnRateForBudgetFraction,
  compileBudget,
  DEFAULT_BURN_RATE_PAIRS,
  DEFAULT_MAX_BUCKETS,
  DEFAULT_SLO_PERIOD_MS,
  errorRatio,
  scaleWindowMs,
  timeToExhaustionMs,
} from '../../actors/error-budget/index.ts';
import { ConfigError } from '../../protocols/vocabulary/errors.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('burn-rate maths', () => {
  it('computes the burn rate as the error ratio divided by the error budget (1 - SLO)', () => {
    expect(burnRate(1, 100, 0.99)).toBeCloseTo(1, 12);
    expect(burnRate(10, 100, 0.99)).toBeCloseTo(10, 12);
    expect(burnRate(1, 1000, 0.999)).toBeCloseTo(1, 12);
    expect(errorRatio(3, 12)).toBe(0.25);
  });

  it('reports a burn rate and error ratio of zero when no events were seen', () => {
    expect(burnRate(0, 0, 0.99)).toBe(0);
    expect(errorRatio(0, 0)).toBe(0);
  });

  it('reproduces the workbook budget fractions of the default pairs: 2 % in 1 h, 5 % in 6 h, 10 % in 3 d', () => {
    const [fast, medium, slow] = DEFAULT_BURN_RATE_PAIRS;
    expect(budgetConsumed(fast!.burnRate, fast!.longWindowMs, DEFAULT_SLO_PERIOD_MS)).toBeCloseTo(0.02, 12);
    expect(budgetConsumed(medium!.burnRate, medium!.longWindowMs, DEFAULT_SLO_PERIOD_MS)).toBeCloseTo(
      0.05,
      12,
    );
    expect(budgetConsumed(slow!.burnRate, slow!.longWindowMs, DEFAULT_SLO_PERIOD_MS)).toBeCloseTo(0.1, 12);
  });

  it('derives 14.4 as the burn rate that spends 2 % of a 30-day budget in one hour', () => {
    expect(burnRateForBudgetFraction(0.02, HOUR, 30 * DAY)).toBeCloseTo(14.4, 12);
    expect(burnRateForBudgetFraction(0.05, 6 * HOUR, 30 * DAY)).toBeCloseTo(6, 12);
  });

  it('gives the time to exhaust the budget at a constant burn rate', () => {
    expect(timeToExhaustionMs(1, 30 * DAY)).toBe(30 * DAY);
    expect(timeToExhaustionMs(14.4, 30 * DAY)).toBeCloseTo(50 * HOUR, 3);
    expect(timeToExhaustionMs(0, 30 * DAY)).toBe(Number.POSITIVE_INFINITY);
  });

  it('allows (1 - SLO) of the events to fail', () => {
    expect(allowedErrors(0.99, 1000)).toBeCloseTo(10, 9);
  });
});

describe('window scaling', () => {
  it('keeps the workbook windows unchanged for a 30-day period', () => {
    expect(scaleWindowMs(HOUR, 30 * DAY)).toBe(HOUR);
    expect(scaleWindowMs(5 * MIN, 30 * DAY)).toBe(5 * MIN);
  });

  it('scales windows by periodMs / 30 days', () => {
    expect(scaleWindowMs(HOUR, 3 * DAY)).toBe(6 * MIN);
    expect(scaleWindowMs(3 * DAY, 7 * DAY)).toBe(Math.round((3 * DAY * 7) / 30));
    expect(scaleWindowMs(5 * MIN, HOUR)).toBe(417); // 300000 / 720 = 416.67, rounded
  });

  it('never scales a window below one millisecond', () => {
    expect(scaleWindowMs(5 * MIN, 1)).toBe(1);
  });

  it('scales every pair of an SLO budget but leaves the burn rates alone', () => {
    const b = compileBudget({ kind: 'slo', slo: 0.99, periodMs: 3 * DAY });
    if (b.kind !== 'slo') throw new Error('expected slo');
    expect(b.pairs.map((p) => [p.longWindowMs, p.shortWindowMs, p.burnRate, p.severity])).toEqual([
      [6 * MIN, 30_000, 14.4, 'breach'],
      [36 * MIN, 3 * MIN, 6, 'breach'],
      [7.2 * HOUR, 36 * MIN, 1, 'warn'],
    ]);
    expect(b.windowsMs).toEqual([30_000, 3 * MIN, 6 * MIN, 36 * MIN, 7.2 * HOUR]);
  });
});

describe('bucket width', () => {
  it('is a tenth of the shortest window when the longest window fits in the bucket limit', () => {
    expect(bucketWidthMs([10 * MIN])).toBe(MIN);
    expect(bucketWidthMs([5 * MIN, HOUR])).toBe(30_000);
  });

  it('widens so the longest window spans at most DEFAULT_MAX_BUCKETS buckets', () => {
    const w = bucketWidthMs([5 * MIN, 3 * DAY * 10]);
    expect(Math.ceil((30 * DAY) / w)).toBeLessThanOrEqual(DEFAULT_MAX_BUCKETS);
  });

  it('has a floor but is never wider than a very short window', () => {
    expect(bucketWidthMs([5_000])).toBe(500);
    expect(bucketWidthMs([50])).toBe(50);
  });

  it('gives the default 30-day SLO budget 30-second buckets and a TTL of the longest window plus a bucket', () => {
    const b = compileBudget({ kind: 'slo', slo: 0.999 });
    expect(b.bucketMs).toBe(30_000);
    expect(b.ttlMs).toBe(3 * DAY + 30_000);
    expect(b.windowBuckets).toEqual([10, 60, 120, 720, 8640]);
  });
});

describe('policy validation', () => {
  it('rejects an SLO outside (0, 1), a non-integer window and an empty pair list with ConfigError', () => {
    expect(() => compileBudget({ kind: 'slo', slo: 1 })).toThrow(ConfigError);
    expect(() => compileBudget({ kind: 'slo', slo: 0 })).toThrow(ConfigError);
    expect(() => compileBudget({ kind: 'count', maxErrors: 3, windowMs: 1.5 })).toThrow(ConfigError);
    expect(() => compileBudget({ kind: 'count', maxErrors: -1, windowMs: 1000 })).toThrow(ConfigError);
    expect(() => compileBudget({ kind: 'slo', slo: 0.99, pairs: [] })).toThrow(ConfigError);
    expect(() =>
      compileBudget({
        kind: 'slo',
        slo: 0.99,
        pairs: [{ longWindowMs: HOUR, shortWindowMs: MIN, burnRate: 0, severity: 'breach' }],
      }),
    ).toThrow(ConfigError);
  });
});
