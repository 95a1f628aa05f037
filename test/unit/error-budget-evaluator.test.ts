import { describe, expect, it } from 'vitest';
import {
  type CompiledBudget,
  compileBudget,
  evaluateBudget,
  pairFires,
  type SloBudgetPolicy,
  type WindowCounts,
} from '../../actors/error-budget/index.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** Counts for every window of `budget`, zero unless given as { windowMs: [errors, total] }. */
function counts(budget: CompiledBudget, given: Record<number, [number, number]>): WindowCounts[] {
  for (const w of Object.keys(given))
    if (!budget.windowsMs.includes(Number(w))) throw new Error(`no window ${w}`);
  return budget.windowsMs.map((w) => {
    const [errors, total] = given[w] ?? [0, 0];
    return { errors, total };
  });
}

describe('count budget evaluation', () => {
  const budget = compileBudget({ kind: 'count', maxErrors: 10, windowMs: 10 * MIN });

  it('is ok below the warn fraction, warns at 80 % of maxErrors', () => {
    expect(evaluateBudget(budget, [{ errors: 7, total: 50 }]).verdict).toBe('ok');
    expect(evaluateBudget(budget, [{ errors: 8, total: 50 }]).verdict).toBe('warn');
  });

  it('allows exactly maxErrors errors and breaches at maxErrors + 1', () => {
    expect(evaluateBudget(budget, [{ errors: 10, total: 10 }]).verdict).toBe('warn');
    expect(evaluateBudget(budget, [{ errors: 11, total: 11 }]).verdict).toBe('breach');
  });

  it('reports budget use as errors / maxErrors', () => {
    expect(evaluateBudget(budget, [{ errors: 5, total: 9 }]).windows).toEqual([
      { windowMs: 10 * MIN, errors: 5, total: 9, burnRate: 0.5 },
    ]);
  });

  it('rounds the warn threshold up without float noise', () => {
    expect(compileBudget({ kind: 'count', maxErrors: 10, windowMs: 1000, warnFraction: 0.3 })).toMatchObject({
      warnAt: 3,
      breachAt: 11,
    });
    expect(compileBudget({ kind: 'count', maxErrors: 7, windowMs: 1000 })).toMatchObject({
      warnAt: 6,
      breachAt: 8,
    });
  });

  it('breaches on the first error when maxErrors is zero', () => {
    const zero = compileBudget({ kind: 'count', maxErrors: 0, windowMs: 1000 });
    expect(evaluateBudget(zero, [{ errors: 0, total: 3 }]).verdict).toBe('ok');
    expect(evaluateBudget(zero, [{ errors: 1, total: 3 }]).verdict).toBe('breach');
  });
});

describe('SLO budget evaluation (default pairs, 30-day period, SLO 99 %)', () => {
  const budget = compileBudget({ kind: 'slo', slo: 0.99 });

  it('is ok when nothing happened', () => {
    expect(evaluateBudget(budget, counts(budget, {}))).toMatchObject({ verdict: 'ok', firedPair: -1 });
  });

  it('breaches on pair 1 when both 1 h and 5 min burn faster than 14.4', () => {
    const e = evaluateBudget(budget, counts(budget, { [HOUR]: [20, 100], [5 * MIN]: [3, 10] }));
    expect(e).toMatchObject({ verdict: 'breach', firedPair: 0 });
    expect(e.windows.find((w) => w.windowMs === HOUR)!.burnRate).toBeCloseTo(20, 9);
  });

  it('does not fire pair 1 when only the long window burns fast (the incident is over)', () => {
    expect(evaluateBudget(budget, counts(budget, { [HOUR]: [20, 100], [5 * MIN]: [0, 10] })).verdict).toBe(
      'ok',
    );
  });

  it('does not fire pair 1 when only the short window burns fast (a blip)', () => {
    expect(evaluateBudget(budget, counts(budget, { [HOUR]: [5, 100], [5 * MIN]: [5, 10] })).verdict).toBe(
      'ok',
    );
  });

  it('needs the burn rate strictly above the threshold: 14.4 exactly does not fire, just above does', () => {
    const at = counts(budget, { [HOUR]: [144, 1000], [5 * MIN]: [144, 1000] });
    expect(pairFires(budget as Extract<CompiledBudget, { kind: 'slo' }>, 0, at)).toBe(false);
    const above = counts(budget, { [HOUR]: [145, 1000], [5 * MIN]: [145, 1000] });
    expect(pairFires(budget as Extract<CompiledBudget, { kind: 'slo' }>, 0, above)).toBe(true);
  });

  it('breaches on pair 2 when both 6 h and 30 min burn faster than 6', () => {
    const e = evaluateBudget(budget, counts(budget, { [6 * HOUR]: [7, 100], [30 * MIN]: [7, 100] }));
    expect(e).toMatchObject({ verdict: 'breach', firedPair: 1 });
  });

  it('warns on pair 3 when both 3 d and 6 h burn faster than 1', () => {
    const e = evaluateBudget(budget, counts(budget, { [3 * DAY]: [2, 100], [6 * HOUR]: [2, 100] }));
    expect(e).toMatchObject({ verdict: 'warn', firedPair: 2 });
  });

  it('lets a breach pair win over a warn pair that also fires', () => {
    const e = evaluateBudget(
      budget,
      counts(budget, {
        [3 * DAY]: [50, 100],
        [6 * HOUR]: [50, 100],
        [HOUR]: [50, 100],
        [5 * MIN]: [50, 100],
      }),
    );
    expect(e).toMatchObject({ verdict: 'breach', firedPair: 0 });
  });

  it('does not page on 1 error out of 1 event (minimum-event guard on the long window)', () => {
    const one = counts(budget, {
      [HOUR]: [1, 1],
      [5 * MIN]: [1, 1],
      [6 * HOUR]: [1, 1],
      [30 * MIN]: [1, 1],
      [3 * DAY]: [1, 1],
    });
    expect(evaluateBudget(budget, one).verdict).toBe('ok');
    const nine = counts(budget, { [HOUR]: [9, 9], [5 * MIN]: [1, 1] });
    expect(evaluateBudget(budget, nine).verdict).toBe('ok');
    const ten = counts(budget, { [HOUR]: [10, 10], [5 * MIN]: [1, 1] });
    expect(evaluateBudget(budget, ten).verdict).toBe('breach');
  });

  it('honours a custom minEvents, including zero', () => {
    const none = compileBudget({ kind: 'slo', slo: 0.99, minEvents: 0 });
    expect(evaluateBudget(none, counts(none, { [HOUR]: [1, 1], [5 * MIN]: [1, 1] })).verdict).toBe('breach');
  });

  it('rejects counts that do not match the windows', () => {
    expect(() => evaluateBudget(budget, [{ errors: 0, total: 0 }])).toThrow(RangeError);
  });
});

describe('SLO budget with configured pairs and a scaled period', () => {
  it('uses configured pairs, with windows scaled by periodMs / 30 d', () => {
    const policy: SloBudgetPolicy = {
      kind: 'slo',
      slo: 0.9,
      periodMs: 3 * DAY, // scale 1/10
      minEvents: 5,
      pairs: [{ longWindowMs: 10 * HOUR, shortWindowMs: HOUR, burnRate: 2, severity: 'warn' }],
    };
    const budget = compileBudget(policy);
    expect(budget.windowsMs).toEqual([6 * MIN, HOUR]);
    // error ratio 0.3 → burn 3 > 2 in both windows
    expect(evaluateBudget(budget, counts(budget, { [HOUR]: [3, 10], [6 * MIN]: [3, 10] }))).toMatchObject({
      verdict: 'warn',
      firedPair: 0,
    });
    // ratio 0.2 → burn 2, not strictly above
    expect(evaluateBudget(budget, counts(budget, { [HOUR]: [2, 10], [6 * MIN]: [3, 10] })).verdict).toBe(
      'ok',
    );
  });

  it('shares one window between pairs that use the same length', () => {
    const budget = compileBudget({
      kind: 'slo',
      slo: 0.99,
      pairs: [
        { longWindowMs: HOUR, shortWindowMs: 5 * MIN, burnRate: 14.4, severity: 'breach' },
        { longWindowMs: 6 * HOUR, shortWindowMs: HOUR, burnRate: 6, severity: 'breach' },
      ],
    });
    expect(budget.windowsMs).toEqual([5 * MIN, HOUR, 6 * HOUR]);
  });
});
