import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BudgetPolicy,
  type BudgetReport,
  budgetKeys,
  type CompiledBudget,
  compileBudget,
  evaluateBudget,
  MemoryBudgetStore,
  RedisBudgetStore,
} from '../../actors/error-budget/index.ts';
import { prng } from '../../chaos/prng.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import type { RedisServer } from '../../infra/redis-server.ts';
import { TestServers } from '../harness/index.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2025, 0, 1);

const servers = new TestServers();
let server: RedisServer;
let redis: Redis;
const clients: Redis[] = [];

function client(): Redis {
  const c = new Redis(server.url, { lazyConnect: false, maxRetriesPerRequest: 3 });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await servers.redis();
  redis = client();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
  await servers.stopAll();
});

let runSeq = 0;
const newRun = (label: string) => `${label}-${++runSeq}`;

describe('Redis budget store: count budget', () => {
  it('breaches at maxErrors + 1 and reports firstBreach once', async () => {
    const clock = new ManualClock(T0);
    const store = new RedisBudgetStore({ redis, clock });
    const run = newRun('count');
    const policy: BudgetPolicy = { kind: 'count', maxErrors: 3, windowMs: 10 * MIN };
    const seen: BudgetReport[] = [];
    for (let i = 0; i < 6; i++) seen.push(await store.record(run, policy, 'error'));
    expect(seen.map((r) => r.verdict)).toEqual(['ok', 'ok', 'warn', 'breach', 'breach', 'breach']);
    expect(seen.map((r) => r.firstBreach)).toEqual([false, false, false, true, false, false]);
    expect(seen.map((r) => r.firstWarn)).toEqual([false, false, true, false, false, false]);
    expect(seen[5]).toMatchObject({ breached: true, breachedAt: T0, warnedAt: T0, at: T0 });
    expect(seen[5]!.windows).toEqual([{ windowMs: 10 * MIN, errors: 6, total: 6, burnRate: 2 }]);
  });

  it('lets errors slide out of the window as the ManualClock advances, keeping the breach latched', async () => {
    const clock = new ManualClock(T0);
    const store = new RedisBudgetStore({ redis, clock });
    const run = newRun('slide');
    const policy: BudgetPolicy = { kind: 'count', maxErrors: 2, windowMs: 10 * MIN };
    await store.record(run, policy, 'error');
    clock.advance(5 * MIN);
    await store.record(run, policy, 'error');
    expect((await store.record(run, policy, 'error')).firstBreach).toBe(true);
    clock.advance(6 * MIN); // the first error (t = 0) is now 11 min old
    const later = await store.snapshot(run, policy);
    expect(later.windows[0]).toMatchObject({ errors: 2, total: 2 });
    expect(later).toMatchObject({ verdict: 'warn', breached: true, firstBreach: false });
    clock.advance(6 * HOUR);
    const quiet = await store.record(run, policy, 'success');
    expect(quiet.windows[0]).toMatchObject({ errors: 0, total: 1 });
    expect(quiet).toMatchObject({ verdict: 'ok', breached: true, breachedAt: T0 + 5 * MIN });
    // old buckets were pruned from the hashes
    const [errorsKey, totalsKey] = budgetKeys(run);
    expect(await redis.hlen(errorsKey)).toBe(0);
    expect(await redis.hlen(totalsKey)).toBe(1);
  });

  it('counts nothing and latches nothing on snapshot, and forgets everything on reset', async () => {
    const clock = new ManualClock(T0);
    const store = new RedisBudgetStore({ redis, clock });
    const run = newRun('peek');
    const policy: BudgetPolicy = { kind: 'count', maxErrors: 0, windowMs: MIN };
    expect(await store.snapshot(run, policy)).toMatchObject({ verdict: 'ok', breached: false });
    expect(await redis.exists(...budgetKeys(run))).toBe(0);
    expect((await store.record(run, policy, 'error')).firstBreach).toBe(true);
    await store.reset(run);
    expect(await redis.exists(...budgetKeys(run))).toBe(0);
    expect((await store.record(run, policy, 'error')).firstBreach).toBe(true);
  });

  it('sets a TTL of the longest window plus one bucket on every key', async () => {
    const store = new RedisBudgetStore({ redis, clock: new ManualClock(T0) });
    const run = newRun('ttl');
    const budget = compileBudget({ kind: 'count', maxErrors: 5, windowMs: 10 * MIN });
    await store.record(run, budget, 'error');
    for (const key of budgetKeys(run)) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(budget.ttlMs);
    }
    expect(budget.ttlMs).toBe(11 * MIN);
  });

  it('reloads the script after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const store = new RedisBudgetStore({ redis, clock: new ManualClock(T0) });
    const run = newRun('flush');
    const policy: BudgetPolicy = { kind: 'count', maxErrors: 5, windowMs: MIN };
    await store.record(run, policy, 'error');
    await redis.script('FLUSH');
    expect((await store.record(run, policy, 'error')).windows[0]!.errors).toBe(2);
  });
});

describe('Redis budget store: SLO budget', () => {
  it('breaches on the first pair whose both windows burn too fast, then drops to the slow-burn warning as windows slide', async () => {
    const clock = new ManualClock(T0);
    const store = new RedisBudgetStore({ redis, clock });
    const run = newRun('slo');
    const policy: BudgetPolicy = { kind: 'slo', slo: 0.99 };
    for (let i = 0; i < 100; i++) {
      await store.record(run, policy, 'success');
      clock.advance(36_000); // 100 successes over one hour
    }
    const reports: BudgetReport[] = [];
    for (let i = 0; i < 30; i++) reports.push(await store.record(run, policy, 'error'));
    const first = reports.findIndex((r) => r.firstBreach);
    expect(reports.filter((r) => r.firstBreach)).toHaveLength(1);
    // 6 h / 30 min at burn rate 6 (error ratio > 6 %) crosses before 1 h / 5 min at 14.4 (> 14.4 %)
    expect(reports[first]).toMatchObject({ verdict: 'breach', firedPair: 1 });
    expect(reports[first]!.windows.find((w) => w.windowMs === 30 * MIN)!.burnRate).toBeGreaterThan(6);
    expect(reports[first - 1]!.verdict).not.toBe('breach');
    // once the 1 h / 5 min pair fires too, it is the one reported (first pair wins ties of severity)
    expect(reports.at(-1)).toMatchObject({ verdict: 'breach', firedPair: 0, breachedAt: reports[first]!.at });
    expect(reports.at(-1)!.windows.find((w) => w.windowMs === HOUR)!.burnRate).toBeGreaterThan(14.4);

    clock.advance(2 * HOUR);
    const later = await store.snapshot(run, policy);
    expect(later.windows.find((w) => w.windowMs === HOUR)).toMatchObject({ errors: 0, total: 0 });
    expect(later).toMatchObject({ verdict: 'warn', firedPair: 2, breached: true });

    clock.advance(3 * DAY);
    expect(await store.snapshot(run, policy)).toMatchObject({ verdict: 'ok', breached: true });
  });

  it('does not page on one error out of one event (minimum-event guard)', async () => {
    const store = new RedisBudgetStore({ redis, clock: new ManualClock(T0) });
    const run = newRun('guard');
    const policy: BudgetPolicy = { kind: 'slo', slo: 0.99 };
    expect(await store.record(run, policy, 'error')).toMatchObject({ verdict: 'ok', firstBreach: false });
    for (let i = 0; i < 8; i++) expect((await store.record(run, policy, 'error')).verdict).toBe('ok');
    expect(await store.record(run, policy, 'error')).toMatchObject({
      verdict: 'breach',
      firstBreach: true,
      firedPair: 0,
    });
  });

  it('runs a budget with a scaled period: a 1-day SLO pages within its scaled 2-minute / 10-second pair', async () => {
    const clock = new ManualClock(T0);
    const store = new RedisBudgetStore({ redis, clock });
    const run = newRun('scaled');
    const budget = compileBudget({ kind: 'slo', slo: 0.99, periodMs: DAY, minEvents: 5 });
    expect(budget.windowsMs[0]).toBe(10_000); // 5 min / 30
    for (let i = 0; i < 20; i++) {
      await store.record(run, budget, 'success');
      clock.advance(5_000);
    }
    let breach: BudgetReport | undefined;
    for (let i = 0; i < 20 && !breach; i++) {
      const r = await store.record(run, budget, 'error');
      if (r.firstBreach) breach = r;
    }
    // 30 errors at one instant: the 12 min / 1 min pair (burn 6) crosses first, as in the 30-day case
    expect(breach).toMatchObject({ verdict: 'breach', firedPair: 1 });
    expect(breach!.windows.find((w) => w.windowMs === 12 * MIN)!.burnRate).toBeGreaterThan(6);
  });
});

describe('Redis budget store under concurrency', () => {
  it('gives firstBreach to exactly one of 50 concurrent reporters and loses no event', async () => {
    const clock = new ManualClock(T0);
    const run = newRun('race');
    const policy: BudgetPolicy = { kind: 'count', maxErrors: 10, windowMs: HOUR };
    const stores = Array.from({ length: 50 }, () => new RedisBudgetStore({ redis: client(), clock }));
    await Promise.all(clients.map((c) => c.ping()));
    const reports = await Promise.all(stores.map((s) => s.record(run, policy, 'error')));
    const firsts = reports.filter((r) => r.firstBreach);
    expect(firsts).toHaveLength(1);
    expect(firsts[0]!.windows[0]!.errors).toBe(11); // the 11th error crossed
    expect(reports.filter((r) => r.firstWarn)).toHaveLength(1);
    // every caller saw a distinct count: the script ran each call atomically
    expect(new Set(reports.map((r) => r.windows[0]!.errors)).size).toBe(50);
    expect((await stores[0]!.snapshot(run, policy)).windows[0]).toMatchObject({ errors: 50, total: 50 });
  });

  it('gives firstBreach to exactly one reporter in each of several rounds of mixed SLO traffic', async () => {
    const clock = new ManualClock(T0);
    const policy: BudgetPolicy = { kind: 'slo', slo: 0.95, minEvents: 10 };
    const stores = Array.from({ length: 50 }, () => new RedisBudgetStore({ redis: client(), clock }));
    for (let round = 0; round < 5; round++) {
      const run = newRun('race-slo');
      const reports = await Promise.all(
        stores.map((s, i) => s.record(run, policy, i % 2 === 0 ? 'error' : 'success')),
      );
      expect(reports.filter((r) => r.firstBreach)).toHaveLength(1);
      const snap = await stores[0]!.snapshot(run, policy);
      expect(snap.windows.at(-1)).toMatchObject({ errors: 25, total: 50 });
    }
  });
});

describe('Lua script and pure evaluator agree', () => {
  const policies: Array<[string, BudgetPolicy]> = [
    ['count 5 / 1 min', { kind: 'count', maxErrors: 5, windowMs: MIN }],
    ['count 1 / 10 s, warn 0.5', { kind: 'count', maxErrors: 1, windowMs: 10_000, warnFraction: 0.5 }],
    ['slo 0.9 over 1 day', { kind: 'slo', slo: 0.9, periodMs: DAY, minEvents: 5 }],
    ['slo 0.99 over 30 days, minEvents 0', { kind: 'slo', slo: 0.99, minEvents: 0 }],
    [
      'slo 0.95 with custom pairs over 6 h',
      {
        kind: 'slo',
        slo: 0.95,
        periodMs: 6 * HOUR,
        minEvents: 3,
        pairs: [
          { longWindowMs: 2 * HOUR, shortWindowMs: 10 * MIN, burnRate: 10, severity: 'breach' },
          { longWindowMs: DAY, shortWindowMs: 2 * HOUR, burnRate: 2, severity: 'warn' },
        ],
      },
    ],
  ];

  for (const [name, policy] of policies) {
    it(`gives the same counts, verdicts and first-crossings for random event sequences (${name})`, async () => {
      const budget: CompiledBudget = compileBudget(policy);
      const longest = budget.windowsMs.at(-1)!;
      const verdictsSeen = new Set<string>();
      let firstBreaches = 0;
      let duplicates = 0;
      for (const seed of [1, 2, 3]) {
        const rand = prng(seed * 7919 + name.length);
        const clock = new ManualClock(T0 + Math.floor(rand() * DAY));
        const lua = new RedisBudgetStore({ redis, clock });
        const model = new MemoryBudgetStore(clock);
        const run = newRun(`parity-${seed}`);
        const ids: string[] = [];
        let errorRate = rand();
        for (let step = 0; step < 250; step++) {
          const r = rand();
          if (r < 0.05) errorRate = rand(); // change phase
          const dt =
            r < 0.6
              ? Math.floor(rand() * budget.bucketMs * 2)
              : r < 0.9
                ? 0
                : r < 0.97
                  ? Math.floor(rand() * longest)
                  : -Math.floor(rand() * budget.bucketMs * 3);
          clock.advance(dt);
          let a: BudgetReport;
          let b: BudgetReport;
          if (rand() < 0.1) {
            [a, b] = [await lua.snapshot(run, budget), await model.snapshot(run, budget)];
          } else if (rand() < 0.01) {
            await Promise.all([lua.reset(run), model.reset(run)]);
            continue;
          } else if (rand() < 0.08) {
            [a, b] = [await lua.latch(run, budget), await model.latch(run, budget)];
          } else {
            const outcome = rand() < errorRate ? 'error' : 'success';
            // Some events come again (redeliveries), some are counted before the budget is known.
            const eventId =
              ids.length > 0 && rand() < 0.15 ? ids[Math.floor(rand() * ids.length)]! : `e${step}`;
            ids.push(eventId);
            const opts = { eventId, latch: rand() >= 0.2 };
            [a, b] = [
              await lua.record(run, budget, outcome, opts),
              await model.record(run, budget, outcome, opts),
            ];
            if (a.duplicate) duplicates++;
          }
          expect(a, `seed ${seed} step ${step}`).toEqual(b);
          verdictsSeen.add(a.verdict);
          if (a.firstBreach) firstBreaches++;
          const pure = evaluateBudget(budget, a.windows);
          expect(pure.verdict, `seed ${seed} step ${step}`).toBe(a.verdict);
          expect(pure.firedPair, `seed ${seed} step ${step}`).toBe(a.firedPair);
        }
      }
      // the sequences reach every verdict, so the comparison covered the thresholds
      expect([...verdictsSeen].sort()).toEqual(['breach', 'ok', 'warn']);
      expect(firstBreaches).toBeGreaterThan(0);
      expect(duplicates).toBeGreaterThan(0);
    });
  }
});

describe('Redis budget store: deduplication and deferred verdicts', () => {
  const policy: BudgetPolicy = { kind: 'count', maxErrors: 1, windowMs: MIN };

  it('counts an event id once: a second record of it is a duplicate that counts and latches nothing', async () => {
    const store = new RedisBudgetStore({ redis, clock: new ManualClock(T0) });
    const run = newRun('dedupe');
    expect(await store.record(run, policy, 'error', { eventId: 'ev-1' })).toMatchObject({
      duplicate: false,
      breached: false,
    });
    const again = await store.record(run, policy, 'error', { eventId: 'ev-1' });
    expect(again).toMatchObject({ duplicate: true, breached: false, firstBreach: false, firstWarn: false });
    expect(again.windows[0]!.errors).toBe(1);
    // A distinct event counts and breaches; the duplicate of the breaching one reports the latch only.
    expect((await store.record(run, policy, 'error', { eventId: 'ev-2' })).firstBreach).toBe(true);
    expect(await store.record(run, policy, 'error', { eventId: 'ev-2' })).toMatchObject({
      duplicate: true,
      firstBreach: false,
      breached: true,
    });
    // Forgetting the counts does not forget what was counted: a redelivery after a reset stays out.
    await store.reset(run);
    expect((await store.record(run, policy, 'error', { eventId: 'ev-1' })).windows[0]!.errors).toBe(0);
  });

  it('counts without latching while the budget is a stand-in, and latch() breaches once the real one judges the counts (regression: errors counted before their run-accepted never breached)', async () => {
    const store = new RedisBudgetStore({ redis, clock: new ManualClock(T0) });
    const run = newRun('deferred');
    const standIn: BudgetPolicy = { kind: 'count', maxErrors: 1, windowMs: MIN };
    for (const id of ['a', 'b', 'c']) {
      const r = await store.record(run, standIn, 'error', { eventId: id, latch: false });
      expect(r).toMatchObject({ firstBreach: false, firstWarn: false, breached: false });
    }
    expect((await store.snapshot(run, standIn)).verdict).toBe('breach');
    const lenient: BudgetPolicy = { kind: 'count', maxErrors: 5, windowMs: MIN };
    expect(await store.latch(run, lenient)).toMatchObject({
      verdict: 'ok',
      firstBreach: false,
      breached: false,
    });
    const strict: BudgetPolicy = { kind: 'count', maxErrors: 2, windowMs: MIN };
    expect(await store.latch(run, strict)).toMatchObject({
      verdict: 'breach',
      firstBreach: true,
      breached: true,
    });
    expect((await store.latch(run, strict)).firstBreach).toBe(false);
    expect((await store.snapshot(run, strict)).windows[0]!.errors).toBe(3);
  });
});
