import { describe, expect, it } from 'vitest';
import { budgetKeys, compileBudget, MemoryBudgetStore } from '../../actors/error-budget/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { InvalidMessageError } from '../../protocols/vocabulary/errors.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('in-memory budget store (reference model of the Lua script)', () => {
  it('slides errors out of a count window as the clock advances', async () => {
    const clock = new ManualClock(0);
    const store = new MemoryBudgetStore(clock);
    const budget = compileBudget({ kind: 'count', maxErrors: 2, windowMs: 10 * MIN });
    await store.record('r1', budget, 'error');
    await store.record('r1', budget, 'error');
    clock.advance(11 * MIN);
    const r = await store.record('r1', budget, 'error');
    expect(r.windows[0]).toMatchObject({ errors: 1, total: 1 });
    expect(r.verdict).toBe('ok');
  });

  it('reports firstBreach on exactly one call and keeps the breach latched', async () => {
    const store = new MemoryBudgetStore(new ManualClock(1_000));
    const budget = compileBudget({ kind: 'count', maxErrors: 1, windowMs: HOUR });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await store.record('r', budget, 'error'));
    expect(results.map((r) => r.firstBreach)).toEqual([false, true, false, false, false]);
    expect(results.map((r) => r.firstWarn)).toEqual([true, false, false, false, false]);
    expect(results.at(-1)).toMatchObject({
      breached: true,
      breachedAt: 1_000,
      warnedAt: 1_000,
      verdict: 'breach',
    });
  });

  it('does not count or latch anything on snapshot', async () => {
    const store = new MemoryBudgetStore(new ManualClock(0));
    const budget = compileBudget({ kind: 'count', maxErrors: 0, windowMs: HOUR });
    const s = await store.snapshot('r', budget);
    expect(s).toMatchObject({ verdict: 'ok', breached: false, firstBreach: false });
    await store.record('r', budget, 'error');
    const after = await store.snapshot('r', budget);
    expect(after).toMatchObject({ verdict: 'breach', breached: true, firstBreach: false });
    expect(after.windows[0]).toMatchObject({ errors: 1, total: 1 });
  });

  it('never lets time run backwards for a run (a late reporter counts at the latest time seen)', async () => {
    const clock = new ManualClock(10 * MIN);
    const store = new MemoryBudgetStore(clock);
    const budget = compileBudget({ kind: 'count', maxErrors: 5, windowMs: MIN });
    await store.record('r', budget, 'error');
    clock.advance(-5 * MIN);
    const r = await store.record('r', budget, 'error');
    expect(r.at).toBe(10 * MIN);
    expect(r.windows[0]!.errors).toBe(2);
  });

  it('forgets counts and latches on reset', async () => {
    const store = new MemoryBudgetStore(new ManualClock(0));
    const budget = { kind: 'count', maxErrors: 0, windowMs: HOUR } as const;
    expect((await store.record('r', budget, 'error')).firstBreach).toBe(true);
    await store.reset('r');
    expect((await store.record('r', budget, 'error')).firstBreach).toBe(true);
  });

  it('rejects an empty run id', async () => {
    const store = new MemoryBudgetStore(new ManualClock(0));
    await expect(store.record('', { kind: 'count', maxErrors: 1, windowMs: 1000 }, 'error')).rejects.toThrow(
      InvalidMessageError,
    );
  });
});

describe('budget keys', () => {
  it('puts the three keys of a run under one hash tag', () => {
    expect(budgetKeys('abc')).toEqual([
      'agov:budget:{run:abc}:errors',
      'agov:budget:{run:abc}:totals',
      'agov:budget:{run:abc}:state',
    ]);
  });

  it('encodes braces in the run id so they cannot break the hash tag', () => {
    const [k] = budgetKeys('a}b{c');
    expect(k).toBe('agov:budget:{run:a%7Db%7Bc}:errors');
  });

  it('takes a custom prefix', () => {
    expect(budgetKeys('x', 'p')[2]).toBe('p:{run:x}:state');
  });
});
