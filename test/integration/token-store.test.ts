import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../actors/runtime/audit-outbox.ts';
import { type RunTokenRecord, TokenStore } from '../../actors/token/token-store.ts';
import { TestServers } from '../harness/index.ts';

const servers = new TestServers();
let redis: Redis;
let store: TokenStore;

const record = (runId: string, over: Partial<RunTokenRecord> = {}): RunTokenRecord => ({
  runId,
  accessor: `acc-${runId}`,
  policies: ['agov-run'],
  tiers: ['T0'],
  state: 'live',
  issuedAt: 1_000,
  expiresAt: 2_000,
  maxExpiresAt: 9_000,
  ttlMs: 1_000,
  renewEveryMs: 500,
  maxTtlMs: 8_000,
  renewals: 0,
  ...over,
});

beforeAll(async () => {
  const server = await servers.redis();
  redis = new Redis(server.url, { lazyConnect: true });
  await redis.connect();
  servers.onStop(() => redis.quit().then(() => undefined));
  store = new TokenStore(redis, 'agov:test-token');
});
afterAll(() => servers.stopAll());

describe('token store over a real redis-server', () => {
  it('updateRunIfLive writes the fields of a live record', async () => {
    await store.createRun(record('live-1'));
    expect(await store.updateRunIfLive('live-1', { expiresAt: 5_000, renewals: 1 })).toBe(true);
    expect(await store.getRun('live-1')).toMatchObject({ state: 'live', expiresAt: 5_000, renewals: 1 });
  });

  it.each(['revoked', 'at-max-ttl', 'expired'] as const)(
    'updateRunIfLive refuses a %s record and leaves it unchanged (a late renewal never revives a token)',
    async (state) => {
      const runId = `dead-${state}`;
      await store.createRun(record(runId, { state }));
      const before = await store.getRun(runId);
      expect(await store.updateRunIfLive(runId, { state: 'live', expiresAt: 5_000, renewals: 1 })).toBe(
        false,
      );
      expect(await store.getRun(runId)).toEqual(before);
    },
  );

  it('updateRunIfLive creates nothing for an unknown run', async () => {
    expect(await store.updateRunIfLive('never-issued', { expiresAt: 5_000 })).toBe(false);
    expect(await store.getRun('never-issued')).toBeUndefined();
  });

  it('round-trips a run record: lists and maps as JSON, numbers as numbers, strings as strings, undefined fields absent', async () => {
    const rec = record('rt-1', {
      pipeline: 'build',
      parentRunId: 'rt-parent',
      tiers: ['T0', 'T2'],
      policies: ['agov-run', 'team-build'],
      stageTiers: { compile: 'T1', ship: 'T2' },
      lastRenewedAt: 1_500,
    });
    expect(await store.createRun(rec)).toBe(true);
    const back = await store.getRun('rt-1');
    expect(back).toEqual(rec);
    expect(back).not.toHaveProperty('revokedAt');
    // The documented layout: one hash per run under <prefix>:run:<runId>, lists stored as JSON text.
    const raw = await redis.hgetall('agov:test-token:run:rt-1');
    expect(raw).toMatchObject({ runId: 'rt-1', tiers: '["T0","T2"]', ttlMs: '1000', state: 'live' });
    expect(raw).not.toHaveProperty('revokedAt');
  });

  it('createRun creates once: a second record for the same run changes nothing and returns false', async () => {
    expect(await store.createRun(record('once-1'))).toBe(true);
    expect(await store.createRun(record('once-1', { accessor: 'acc-other', ttlMs: 5 }))).toBe(false);
    expect(await store.getRun('once-1')).toMatchObject({ accessor: 'acc-once-1', ttlMs: 1_000 });
    expect(await store.runIdOf('acc-other')).toBeUndefined();
  });

  it('createRun maps the accessor to its run, and a tombstone (no accessor) maps nothing', async () => {
    await store.createRun(record('acc-map'));
    expect(await store.runIdOf('acc-acc-map')).toBe('acc-map');
    expect(await redis.get('agov:test-token:accessor:acc-acc-map')).toBe('acc-map');
    await store.createRun(record('tomb-1', { accessor: '', state: 'revoked' }));
    expect(await store.getRun('tomb-1')).toMatchObject({ accessor: '', state: 'revoked' });
    expect(await redis.exists('agov:test-token:accessor:')).toBe(0);
    expect(await store.runIdOf('never-seen')).toBeUndefined();
  });

  it('getRun answers undefined for an unknown run', async () => {
    expect(await store.getRun('unknown-run')).toBeUndefined();
  });

  it('updateRun writes whatever the state, leaves the other fields alone and skips undefined ones', async () => {
    await store.createRun(record('upd-1', { state: 'revoked' }));
    await store.updateRun('upd-1', {
      revokedReason: 'budget-exhausted',
      revokedAt: 3_000,
      lastRenewedAt: undefined,
    });
    expect(await store.getRun('upd-1')).toEqual({
      ...record('upd-1', { state: 'revoked' }),
      revokedReason: 'budget-exhausted',
      revokedAt: 3_000,
    });
  });

  it('updateRunIfLive stores list fields as JSON like createRun', async () => {
    await store.createRun(record('live-json'));
    expect(await store.updateRunIfLive('live-json', { tiers: ['T1'], stageTiers: { a: 'T1' } })).toBe(true);
    expect(await store.getRun('live-json')).toMatchObject({ tiers: ['T1'], stageTiers: { a: 'T1' } });
  });

  it('addChild adds a child once, maps its accessor to the run, and children() lists them by issue time', async () => {
    const child = (agentId: string, issuedAt: number) => ({
      agentId,
      stageId: 's',
      attempt: 1,
      accessor: `child-${agentId}`,
      tier: 'T1' as const,
      policies: ['agov-t1'],
      issuedAt,
      expiresAt: issuedAt + 1_000,
      descendant: true,
    });
    expect(await store.children('kids-1')).toEqual([]);
    expect(await store.hasChild('kids-1', 'b/s/1')).toBe(false);
    expect(await store.addChild('kids-1', 'b/s/1', child('b', 2_000))).toBe(true);
    expect(await store.addChild('kids-1', 'a/s/1', child('a', 1_000))).toBe(true);
    expect(await store.addChild('kids-1', 'c/s/1', child('c', 3_000))).toBe(true);
    expect(await store.hasChild('kids-1', 'b/s/1')).toBe(true);
    expect(await store.hasChild('kids-1', 'b/s/2')).toBe(false);
    expect(await store.runIdOf('child-b')).toBe('kids-1');
    // A second child under the same key is refused and its accessor maps to nothing.
    expect(await store.addChild('kids-1', 'b/s/1', { ...child('b', 9_000), accessor: 'child-dup' })).toBe(
      false,
    );
    expect(await store.runIdOf('child-dup')).toBeUndefined();
    expect((await store.children('kids-1')).map((c) => c.agentId)).toEqual(['a', 'b', 'c']);
    expect((await store.children('kids-1'))[1]).toEqual(child('b', 2_000));
  });

  it('agents() lists the agents seen on a run once each, sorted', async () => {
    expect(await store.agents('seen-1')).toEqual([]);
    for (const a of ['zed', 'amy', 'kim', 'amy']) await store.addAgent('seen-1', a);
    expect(await store.agents('seen-1')).toEqual(['amy', 'kim', 'zed']);
    expect(await store.agents('seen-other')).toEqual([]);
  });

  it('keeps the renewal schedule in one sorted set: due ones up to now, in time order, at most limit, unscheduled ones gone', async () => {
    const s = new TokenStore(redis, 'agov:test-schedule');
    expect(await s.scheduled()).toEqual([]);
    await s.scheduleRenewal('late', 3_000);
    await s.scheduleRenewal('early', 1_000);
    await s.scheduleRenewal('now', 2_000);
    expect(await s.scheduled()).toEqual([
      { runId: 'early', at: 1_000 },
      { runId: 'now', at: 2_000 },
      { runId: 'late', at: 3_000 },
    ]);
    expect(await s.dueRenewals(999)).toEqual([]);
    expect(await s.dueRenewals(2_000)).toEqual(['early', 'now']);
    expect(await s.dueRenewals(5_000, 2)).toEqual(['early', 'now']);
    // Rescheduling moves a run; it is never listed twice.
    await s.scheduleRenewal('early', 4_000);
    expect(await s.dueRenewals(5_000)).toEqual(['now', 'late', 'early']);
    await s.unscheduleRenewal('now');
    expect(await s.scheduled()).toEqual([
      { runId: 'late', at: 3_000 },
      { runId: 'early', at: 4_000 },
    ]);
    expect(await redis.zcard('agov:test-schedule:renew')).toBe(2);
  });

  it('dueRenewals answers at most 100 runs unless told otherwise', async () => {
    const s = new TokenStore(redis, 'agov:test-many');
    for (let i = 0; i < 105; i++) await s.scheduleRenewal(`run-${i}`, i);
    expect(await s.dueRenewals(1_000)).toHaveLength(100);
    expect(await s.dueRenewals(1_000, 105)).toHaveLength(105);
  });

  it('stores auditIds as a JSON list like the other list fields', async () => {
    await store.createRun(record('audit-ids', { auditIds: ['ev-1', 'ev-2'] } as Partial<RunTokenRecord>));
    expect(await store.getRun('audit-ids')).toMatchObject({ auditIds: ['ev-1', 'ev-2'] });
    expect(await redis.hget('agov:test-token:run:audit-ids', 'auditIds')).toBe('["ev-1","ev-2"]');
  });

  it('dueRenewals includes runs scheduled at any time up to now, negative ones too', async () => {
    const s = new TokenStore(redis, 'agov:test-negative');
    await s.scheduleRenewal('past', -5);
    expect(await s.dueRenewals(0)).toEqual(['past']);
  });
});

describe('token store writes state and its audit outbox in one step', () => {
  const entry = (id: string, runId: string): OutboxEntry => ({
    category: 'token',
    feed: ['token', 'x'],
    env: {
      v: 1,
      id,
      ts: 1,
      type: 'token.event.v1',
      from: 'test',
      body: { runId, action: 'issued' },
    } as never,
  });
  const owned = () => new TokenStore(redis, 'agov:test-outbox', 'token-authority:ta-1');

  it('keeps its outbox under <prefix>:outbox:<owner>, and a store without an owner keeps none', () => {
    expect(owned().outbox?.key).toBe('agov:test-outbox:outbox:token-authority:ta-1');
    expect(new TokenStore(redis, 'agov:test-outbox').outbox).toBeUndefined();
  });

  it('createRun stores the record, its accessor, its renewal and its outbox entries together', async () => {
    const s = owned();
    expect(await s.createRun(record('ob-1'), { renewAt: 7_000, outbox: [entry('e-ob-1', 'ob-1')] })).toBe(
      true,
    );
    expect(await s.getRun('ob-1')).toEqual(record('ob-1'));
    expect(await s.runIdOf('acc-ob-1')).toBe('ob-1');
    expect((await s.scheduled()).find((x) => x.runId === 'ob-1')).toEqual({ runId: 'ob-1', at: 7_000 });
    expect((await s.outbox!.load()).map((e) => e.env.id)).toContain('e-ob-1');
    // Created once: a second create writes none of it.
    expect(
      await s.createRun(record('ob-1', { ttlMs: 5 }), { renewAt: 9_000, outbox: [entry('e-ob-1b', 'ob-1')] }),
    ).toBe(false);
    expect((await s.scheduled()).find((x) => x.runId === 'ob-1')?.at).toBe(7_000);
    expect((await s.outbox!.load()).map((e) => e.env.id)).not.toContain('e-ob-1b');
  });

  it('createRun without renewAt schedules nothing', async () => {
    const s = owned();
    await s.createRun(record('ob-nosched'));
    expect((await s.scheduled()).map((x) => x.runId)).not.toContain('ob-nosched');
  });

  it('refuses outbox entries on a store that keeps no outbox, and writes nothing', async () => {
    const s = new TokenStore(redis, 'agov:test-outbox');
    await expect(s.createRun(record('ob-none'), { outbox: [entry('e-none', 'ob-none')] })).rejects.toThrow(
      'this token store keeps no outbox',
    );
    expect(await s.getRun('ob-none')).toBeUndefined();
    expect(await s.createRun(record('ob-none-empty'), { outbox: [] })).toBe(true);
  });

  it('revokeRun marks the record, unschedules its renewal and stores its outbox entries together', async () => {
    const s = owned();
    await s.createRun(record('ob-rev'), { renewAt: 3_000 });
    await s.revokeRun('ob-rev', { state: 'revoked', revokedAt: 4_000, revokedReason: 'run-failed' }, [
      entry('e-rev', 'ob-rev'),
    ]);
    expect(await s.getRun('ob-rev')).toMatchObject({
      state: 'revoked',
      revokedAt: 4_000,
      revokedReason: 'run-failed',
    });
    expect((await s.scheduled()).map((x) => x.runId)).not.toContain('ob-rev');
    expect((await s.outbox!.load()).map((e) => e.env.id)).toContain('e-rev');
    await s.createRun(record('ob-rev-2'), { renewAt: 3_000 });
    await s.revokeRun('ob-rev-2', { state: 'revoked' });
    expect(await s.getRun('ob-rev-2')).toMatchObject({ state: 'revoked' });
    expect((await s.scheduled()).map((x) => x.runId)).not.toContain('ob-rev-2');
  });

  it('revokeRun fails loudly when Redis refuses part of the transaction', async () => {
    const s = owned();
    // The run key holds a string, so the HSET in the transaction fails.
    await redis.set('agov:test-outbox:run:ob-wrongtype', 'x');
    await expect(s.revokeRun('ob-wrongtype', { state: 'revoked' })).rejects.toThrow(/WRONGTYPE/);
  });

  it('addChild stores its outbox entries with the child', async () => {
    const s = owned();
    const child = {
      agentId: 'ag',
      accessor: 'child-ob',
      tier: 'T1' as const,
      policies: [],
      issuedAt: 1,
      expiresAt: 2,
      descendant: true,
    };
    expect(await s.addChild('ob-kids', 'ag/s/1', child, [entry('e-child', 'ob-kids')])).toBe(true);
    expect((await s.outbox!.load()).map((e) => e.env.id)).toContain('e-child');
    expect(await s.addChild('ob-kids', 'ag/s/1', child, [entry('e-child-2', 'ob-kids')])).toBe(false);
    expect((await s.outbox!.load()).map((e) => e.env.id)).not.toContain('e-child-2');
  });
});
