import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../actors/runtime/audit-outbox.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import { tokenAuthorityKind } from '../../actors/token/token-authority.ts';
import { DEFAULT_TOKEN_KEY_PREFIX } from '../../actors/token/token-options.ts';
import { type RunTokenRecord, TokenStore } from '../../actors/token/token-store.ts';
import { auditStreamCounts, waitFor } from '../harness/index.ts';
import {
  consumerDrained,
  type GovernanceEnv,
  governance,
  governanceEnv,
  publishRunEvent,
} from './governance-setup.ts';

/**
 * The token authority's transactional outbox, as a SIGKILL leaves it: `issued`, `child-issued` and
 * `revoked` are stored in the Redis transaction of the record that implies them, so an event whose
 * write landed but whose publish never did is published at the next start, under its id, once.
 */
let env: GovernanceEnv;
let authority: ActorHandle;
let redis: Redis;
const ID = 'ta-ob';

const start = () =>
  runActor(tokenAuthorityKind, {
    id: ID,
    bus: { servers: env.natsUrl },
    clock: env.clock,
    args: env.args,
  });

beforeAll(async () => {
  env = await governanceEnv();
  redis = new Redis(env.redisUrl);
  env.servers.onStop(async () => redis.disconnect());
  authority = await start();
  env.servers.onStop(async () => {
    await authority.stop();
  });
});
afterAll(() => env.servers.stopAll());

/** Every audit event id the stored token records of `runIds` imply (their `auditIds`, children's `auditId`). */
async function impliedIds(store: TokenStore, runIds: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const runId of runIds) {
    ids.push(...((await store.getRun(runId))?.auditIds ?? []));
    for (const c of await store.children(runId)) if (c.auditId) ids.push(c.auditId);
  }
  return ids;
}

describe('the token authority outbox under SIGKILL', () => {
  it('publishes at restart, once, a token event whose record was stored but whose publish a SIGKILL cut off, and every event a stored token record implies is in the audit stream once', async () => {
    const store = new TokenStore(redis, DEFAULT_TOKEN_KEY_PREFIX, `token-authority:${ID}`);
    await publishRunEvent(env.client, { runId: 'r-ob', event: 'run-accepted', governance: governance() });
    await publishRunEvent(env.client, {
      runId: 'r-ob',
      event: 'stage-accepted',
      stageId: 's',
      attempt: 1,
      agentId: 'ag-ob',
    });
    await publishRunEvent(env.client, { runId: 'r-ob', event: 'run-cancelled' });
    await consumerDrained(env.client, 'token-authority');
    // Premise: the live path stored its events with its records (issued, child-issued, revoked).
    expect(await impliedIds(store, ['r-ob'])).toHaveLength(3);
    await authority.kill();

    // What a SIGKILL between the record's transaction and the publish leaves: both, and no publish.
    const now = env.clock.now();
    const cut: OutboxEntry = {
      category: 'token',
      feed: ['token', 'acc-cut'],
      env: env.client.wrap({
        type: 'token.event.v1',
        body: {
          runId: 'r-cut',
          action: 'issued',
          accessor: 'acc-cut',
          policies: ['agov-run'],
          expiresAt: now,
        },
        run: 'r-cut',
      }),
    };
    const record: RunTokenRecord = {
      runId: 'r-cut',
      accessor: 'acc-cut',
      policies: ['agov-run'],
      tiers: ['T0'],
      state: 'live',
      issuedAt: now,
      expiresAt: now + 60_000,
      maxExpiresAt: now + 120_000,
      ttlMs: 60_000,
      renewEveryMs: 30_000,
      maxTtlMs: 120_000,
      renewals: 0,
      auditIds: [cut.env.id],
    };
    expect(await store.createRun(record, { outbox: [cut] })).toBe(true);
    expect((await auditStreamCounts(env.client)).has(cut.env.id)).toBe(false);

    authority = await start();
    await waitFor('the cut-off event republished', async () =>
      (await auditStreamCounts(env.client)).has(cut.env.id),
    );
    await waitFor(
      'the outbox emptied once acknowledged',
      async () => (await store.outbox!.load()).length === 0,
    );
    const counts = await auditStreamCounts(env.client);
    const implied = await impliedIds(store, ['r-ob', 'r-cut']);
    expect(implied).toContain(cut.env.id);
    expect(implied.filter((id) => counts.get(id)?.count !== 1)).toEqual([]);
    expect(counts.get(cut.env.id)?.subject).toMatch(/^gov\.audit\.token/);
  });
});
