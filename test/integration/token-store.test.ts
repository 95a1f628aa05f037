import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
