/**
 * The token renewer's decisions, one renewal at a time, over real nats-server (its events), redis-server
 * (the records and the schedule) and the Vault dev server (the tokens), on a manual clock. The renewer is
 * driven directly (`renewRun`, `tick`, `handle`) so each test sees exactly one decision; the actor kind
 * around it is exercised at the end. governance-tokens.test.ts covers the renewer inside the governance
 * actors' conversation.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenRenewer, tokenRenewerKind } from '../../actors/token/token-renewer.ts';
import { type ChildTokenRecord, type RunTokenRecord, TokenStore } from '../../actors/token/token-store.ts';
import { VaultTokenClient } from '../../actors/token/vault-client.ts';
import { type ActorContext, runActor } from '../../actors/runtime/index.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { allObs } from '../../protocols/subjects.ts';
import { createLogger } from '../../infra/logger.ts';
import { auditStreamCounts, collect, waitFor } from '../harness/index.ts';
import { type GovernanceEnv, governanceEnv, HOUR_MS, MINUTE_MS } from './governance-setup.ts';

const PREFIX = 'agov:test-renewer';
const RETRY_MS = 5 * MINUTE_MS;

let env: GovernanceEnv;
let vault: VaultTokenClient;
let redis: Redis;
let store: TokenStore;
let feed: ReturnType<typeof collect>;

beforeAll(async () => {
  env = await governanceEnv();
  vault = new VaultTokenClient({ addr: env.vault.addr, token: env.vault.rootToken, clock: env.clock });
  redis = new Redis(env.redisUrl, { lazyConnect: true });
  await redis.connect();
  env.servers.onStop(() => redis.quit().then(() => undefined));
  store = new TokenStore(redis, PREFIX, 'token-renewer:test');
  feed = collect(env.client, allObs());
  await feed.ready();
});
afterAll(() => env.servers.stopAll());

/** A renewer on the test's bus and clock; `vaultFor` lets a test put a fault in Vault's path. */
function renewer(vaultFor: VaultTokenClient = vault, storeFor: TokenStore = store): TokenRenewer {
  const ctx = {
    bus: env.client,
    clock: env.clock,
    log: createLogger({}, 'silent'),
  } as unknown as ActorContext;
  const args = {
    vaultAddr: env.vault.addr,
    vaultToken: env.vault.rootToken,
    redisUrl: env.redisUrl,
    keyPrefix: PREFIX,
    agentKind: 'agent',
    pollMs: 1_000,
    retryMs: RETRY_MS,
  };
  return new TokenRenewer(ctx, args, vaultFor, storeFor);
}

interface Issue {
  ttlMs?: number;
  renewEveryMs?: number;
  maxTtlMs?: number;
  /** The record's max expiry when it differs from issue + maxTtlMs. */
  maxExpiresAt?: number;
  renewable?: boolean;
}

/** Issues a real Vault token and records it live in Redis, scheduled renewEveryMs later (as the authority does). */
async function issue(runId: string, o: Issue = {}): Promise<RunTokenRecord> {
  const ttlMs = o.ttlMs ?? 2 * HOUR_MS;
  const renewEveryMs = o.renewEveryMs ?? 30 * MINUTE_MS;
  const maxTtlMs = o.maxTtlMs ?? 8 * HOUR_MS;
  const t = await vault.createToken({
    policies: ['default'],
    ttl: ttlMs / 1000,
    explicitMaxTtl: maxTtlMs / 1000,
    renewable: o.renewable ?? true,
  });
  const now = env.clock.now();
  const rec: RunTokenRecord = {
    runId,
    accessor: t.accessor,
    policies: ['default'],
    tiers: ['T0'],
    state: 'live',
    issuedAt: now,
    expiresAt: now + ttlMs,
    maxExpiresAt: o.maxExpiresAt ?? now + maxTtlMs,
    ttlMs,
    renewEveryMs,
    maxTtlMs,
    renewals: 0,
  };
  await store.createRun(rec);
  await store.scheduleRenewal(runId, now + renewEveryMs);
  return rec;
}

async function child(runId: string, agentId: string, renewable = true): Promise<ChildTokenRecord> {
  const t = await vault.createToken({ policies: ['default'], ttl: 2 * 3600, renewable });
  const rec: ChildTokenRecord = {
    agentId,
    stageId: 'build',
    attempt: 1,
    accessor: t.accessor,
    tier: 'T0',
    policies: ['default'],
    issuedAt: env.clock.now(),
    expiresAt: env.clock.now() + 2 * HOUR_MS,
    descendant: true,
  };
  await store.addChild(runId, `${agentId}/build/1`, rec);
  return rec;
}

/** Token events of a run seen so far. The renewer awaits the audit copy, published after the feed copy on the same connection. */
const events = (runId: string) =>
  feed.seen
    .filter((e): e is Envelope<'token.event.v1'> => e.type === 'token.event.v1' && e.body.runId === runId)
    .map((e) => e.body);
const scheduledAt = async (runId: string) => (await store.scheduled()).find((s) => s.runId === runId)?.at;
const ttlOf = async (accessor: string) => (await vault.lookupAccessor(accessor)).ttlS;

describe('token renewer, one decision at a time', () => {
  it('renews a due run: the lease from now, renewals + 1, lastRenewedAt, the next renewal renewEveryMs later, one renewed event', async () => {
    const rec = await issue('rn-due');
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    const now = env.clock.now();
    expect(await r.tick()).toContainEqual({
      runId: 'rn-due',
      accessor: rec.accessor,
      expiresAt: now + 2 * HOUR_MS,
      renewals: 1,
      atMaxTtl: false,
    });
    expect(await store.getRun('rn-due')).toMatchObject({
      state: 'live',
      expiresAt: now + 2 * HOUR_MS,
      renewals: 1,
      lastRenewedAt: now,
    });
    expect(await scheduledAt('rn-due')).toBe(now + 30 * MINUTE_MS);
    expect(await ttlOf(rec.accessor)).toBe(2 * 3600);
    expect(events('rn-due')).toEqual([
      {
        runId: 'rn-due',
        action: 'renewed',
        accessor: rec.accessor,
        expiresAt: now + 2 * HOUR_MS,
        ttlMs: 2 * HOUR_MS,
      },
    ]);
    expect([r.renewals, r.failures]).toEqual([1, 0]);
    // A second renewal counts on from the record.
    env.clock.advance(30 * MINUTE_MS);
    expect(await r.renewRun('rn-due', false)).toMatchObject({ renewals: 2 });
    expect(await store.getRun('rn-due')).toMatchObject({ renewals: 2 });
  });

  it('leaves a run alone until its renewal is due, unless forced', async () => {
    const rec = await issue('rn-early');
    const r = renewer();
    env.clock.advance(10 * MINUTE_MS);
    expect(await r.renewRun('rn-early', false)).toBeUndefined();
    expect((await r.tick()).map((x) => x.runId)).not.toContain('rn-early');
    expect(await store.getRun('rn-early')).toEqual(rec);
    expect(await scheduledAt('rn-early')).toBe(rec.issuedAt + 30 * MINUTE_MS);
    expect(await ttlOf(rec.accessor)).toBe(110 * 60);
    expect(events('rn-early')).toEqual([]);
    // `token.renew.v1` for one run renews it at once.
    const answer = await r.handle(env.client.wrap({ type: 'token.renew.v1', body: { runId: 'rn-early' } }));
    const now = env.clock.now();
    expect(answer).toEqual({
      type: 'token.renewed.v1',
      body: {
        runs: [
          {
            runId: 'rn-early',
            accessor: rec.accessor,
            expiresAt: now + 2 * HOUR_MS,
            renewals: 1,
            atMaxTtl: false,
          },
        ],
      },
    });
    expect(await ttlOf(rec.accessor)).toBe(2 * 3600);
    expect(await scheduledAt('rn-early')).toBe(now + 30 * MINUTE_MS);
  });

  it('answers token.renew.v1 for a run it cannot renew with no runs', async () => {
    const r = renewer();
    expect(
      await r.handle(env.client.wrap({ type: 'token.renew.v1', body: { runId: 'rn-never-issued' } })),
    ).toEqual({
      type: 'token.renewed.v1',
      body: { runs: [] },
    });
  });

  it('treats a live run missing from the schedule as due', async () => {
    const rec = await issue('rn-unscheduled');
    await store.unscheduleRenewal('rn-unscheduled');
    env.clock.advance(MINUTE_MS);
    const r = renewer();
    expect(await r.renewRun('rn-unscheduled', false)).toMatchObject({ runId: 'rn-unscheduled', renewals: 1 });
    expect(await ttlOf(rec.accessor)).toBe(2 * 3600);
    expect(await scheduledAt('rn-unscheduled')).toBe(env.clock.now() + 30 * MINUTE_MS);
  });

  it('answers token.renew.v1 without a run with one pass over the due runs, and ignores other messages', async () => {
    await issue('rn-pass');
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    const answer = await r.handle(env.client.wrap({ type: 'token.renew.v1', body: {} }));
    expect(answer?.type).toBe('token.renewed.v1');
    const runs = answer?.type === 'token.renewed.v1' ? answer.body.runs : [];
    expect(runs.map((x) => x.runId)).toContain('rn-pass');
    expect(
      await r.handle(env.client.wrap({ type: 'token.status.v1', body: { runId: 'rn-pass' } })),
    ).toBeUndefined();
  });

  it('unschedules a run it must not renew — unknown, revoked, a tombstone — and never calls Vault for it', async () => {
    const revoked = await issue('rn-revoked');
    await store.updateRun('rn-revoked', { state: 'revoked' });
    await store.createRun({ ...revoked, runId: 'rn-tomb', accessor: '', state: 'revoked' });
    await store.scheduleRenewal('rn-tomb', env.clock.now());
    await store.scheduleRenewal('rn-unknown', env.clock.now());
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    const done = await r.tick();
    for (const runId of ['rn-revoked', 'rn-tomb', 'rn-unknown']) {
      expect(done.map((x) => x.runId)).not.toContain(runId);
      expect(await scheduledAt(runId)).toBeUndefined();
      expect(events(runId)).toEqual([]);
    }
    expect(await ttlOf(revoked.accessor)).toBe(90 * 60);
    expect(await store.getRun('rn-revoked')).toMatchObject({ state: 'revoked', renewals: 0 });
  });

  it('marks a run with less than a second to its max TTL at-max-ttl without renewing it', async () => {
    const rec = await issue('rn-atmax', { maxExpiresAt: env.clock.now() + 30 * MINUTE_MS + 999 });
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    expect(await r.renewRun('rn-atmax', false)).toBeUndefined();
    expect(await store.getRun('rn-atmax')).toMatchObject({ state: 'at-max-ttl', renewals: 0 });
    expect(await scheduledAt('rn-atmax')).toBeUndefined();
    expect(await ttlOf(rec.accessor)).toBe(90 * 60);
    expect(events('rn-atmax')).toEqual([
      {
        runId: 'rn-atmax',
        action: 'max-ttl-reached',
        accessor: rec.accessor,
        expiresAt: rec.expiresAt,
        reason: 'explicit max TTL reached; no more renewals',
      },
    ]);
    expect(r.renewals).toBe(0);
  });

  it('makes the renewal that reaches the max TTL the last: capped at the max, then at-max-ttl and unscheduled', async () => {
    const rec = await issue('rn-last', { maxTtlMs: 3 * HOUR_MS });
    const r = renewer();
    env.clock.advance(90 * MINUTE_MS);
    const now = env.clock.now();
    // 1 h 30 left of the max: the increment is capped at it.
    expect(await r.renewRun('rn-last', false)).toEqual({
      runId: 'rn-last',
      accessor: rec.accessor,
      expiresAt: now + 90 * MINUTE_MS,
      renewals: 1,
      atMaxTtl: true,
    });
    expect(await store.getRun('rn-last')).toMatchObject({ state: 'at-max-ttl', renewals: 1 });
    expect(await scheduledAt('rn-last')).toBeUndefined();
    expect(events('rn-last').map((e) => [e.action, e.expiresAt])).toEqual([
      ['renewed', now + 90 * MINUTE_MS],
      ['max-ttl-reached', now + 90 * MINUTE_MS],
    ]);
  });

  it('treats a renewal whose lease ends within a second of the max as the last, though a full TTL would not reach it', async () => {
    // The max is 500 ms past a full TTL from the renewal: the decision does not see the last renewal,
    // but Vault's whole-second lease ends within a second of the max.
    const rec = await issue('rn-near', {
      maxExpiresAt: env.clock.now() + 30 * MINUTE_MS + 2 * HOUR_MS + 500,
    });
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    expect(await r.renewRun('rn-near', false)).toMatchObject({ atMaxTtl: true, renewals: 1 });
    expect(await store.getRun('rn-near')).toMatchObject({ state: 'at-max-ttl' });
    expect(await scheduledAt('rn-near')).toBeUndefined();
    expect(events('rn-near').map((e) => e.action)).toEqual(['renewed', 'max-ttl-reached']);
    expect(rec.maxExpiresAt - (await store.getRun('rn-near'))!.expiresAt).toBe(500);
  });

  it("renews the run's children with it; a child already gone is skipped silently, a child Vault refuses is reported with its agent", async () => {
    await issue('rn-kids');
    const live = await child('rn-kids', 'ag-live');
    const gone = await child('rn-kids', 'ag-gone');
    const stuck = await child('rn-kids', 'ag-stuck', false);
    await vault.revokeAccessor(gone.accessor);
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    expect(await ttlOf(live.accessor)).toBe(90 * 60);
    expect(await r.renewRun('rn-kids', false)).toMatchObject({ renewals: 1 });
    expect(await ttlOf(live.accessor)).toBe(2 * 3600);
    const ev = events('rn-kids');
    expect(ev.map((e) => e.action)).toEqual(['renewed', 'renewal-failed']);
    expect(ev[1]).toMatchObject({
      accessor: stuck.accessor,
      agentId: 'ag-stuck',
      error: { code: 'GOV_ERR_VAULT' },
    });
    expect(ev.some((e) => e.accessor === gone.accessor)).toBe(false);
    // A child's failure is not the run's: it stays live and scheduled.
    expect(await store.getRun('rn-kids')).toMatchObject({ state: 'live', renewals: 1 });
    expect(await scheduledAt('rn-kids')).toBe(env.clock.now() + 30 * MINUTE_MS);
    expect(r.failures).toBe(0);
  });

  it('reports a Vault refusal and retries retryMs later, or just before the token expires when that comes first', async () => {
    const rec = await issue('rn-refused', { renewable: false });
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    let now = env.clock.now();
    expect(await r.renewRun('rn-refused', false)).toBeUndefined();
    expect(r.failures).toBe(1);
    expect(events('rn-refused')).toEqual([
      expect.objectContaining({ action: 'renewal-failed', accessor: rec.accessor, reason: 'vault error' }),
    ]);
    expect(await scheduledAt('rn-refused')).toBe(now + RETRY_MS);
    expect(await store.getRun('rn-refused')).toMatchObject({ state: 'live', renewals: 0 });
    // 3 minutes before expiry: the retry comes a second before it, not retryMs later.
    env.clock.advance(87 * MINUTE_MS);
    now = env.clock.now();
    expect(await r.renewRun('rn-refused', false)).toBeUndefined();
    expect(await scheduledAt('rn-refused')).toBe(rec.expiresAt - 1_000);
    expect(r.failures).toBe(2);
  });

  it('marks a token Vault no longer has revoked (lost), reports it gone and never schedules it again', async () => {
    const rec = await issue('rn-lost');
    await vault.revokeAccessor(rec.accessor); // behind the authority's back
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    const now = env.clock.now();
    expect(await r.renewRun('rn-lost', false)).toBeUndefined();
    expect(await store.getRun('rn-lost')).toMatchObject({
      state: 'revoked',
      revokedAt: now,
      revokedReason: 'lost',
    });
    expect(await scheduledAt('rn-lost')).toBeUndefined();
    expect(events('rn-lost')).toEqual([
      expect.objectContaining({
        action: 'renewal-failed',
        reason: 'token gone',
        error: expect.objectContaining({ code: 'GOV_ERR_TOKEN_REVOKED' }),
      }),
    ]);
    expect(r.failures).toBe(1);
  });

  it('marks a token that expired in Vault before its renewal expired (lost)', async () => {
    const rec = await issue('rn-expired', { ttlMs: HOUR_MS });
    const r = renewer();
    env.clock.advance(2 * HOUR_MS);
    expect(await r.renewRun('rn-expired', false)).toBeUndefined();
    expect(await store.getRun('rn-expired')).toMatchObject({ state: 'expired', revokedReason: 'lost' });
    expect(await scheduledAt('rn-expired')).toBeUndefined();
    expect(events('rn-expired')).toEqual([
      expect.objectContaining({ action: 'renewal-failed', accessor: rec.accessor, reason: 'token gone' }),
    ]);
  });

  it('lets a revocation that lands while Vault renews win: nothing written, no renewed event, unscheduled', async () => {
    const rec = await issue('rn-race-after');
    // The authority revokes between Vault's answer and the renewer's write.
    const racing = Object.create(vault) as VaultTokenClient;
    racing.renewAccessor = async (accessor, increment) => {
      const renewed = await vault.renewAccessor(accessor, increment);
      await store.updateRun('rn-race-after', { state: 'revoked', revokedReason: 'run-failed' });
      return renewed;
    };
    const r = renewer(racing);
    env.clock.advance(30 * MINUTE_MS);
    expect(await r.renewRun('rn-race-after', false)).toBeUndefined();
    expect(await store.getRun('rn-race-after')).toMatchObject({
      state: 'revoked',
      renewals: 0,
      expiresAt: rec.expiresAt,
    });
    expect(await scheduledAt('rn-race-after')).toBeUndefined();
    expect(events('rn-race-after')).toEqual([]);
    expect(r.renewals).toBe(0);
  });

  it('reports nothing when the renewal failed because the run was revoked meanwhile', async () => {
    const rec = await issue('rn-race-before');
    const racing = Object.create(vault) as VaultTokenClient;
    racing.renewAccessor = async (accessor, increment) => {
      await vault.revokeAccessor(rec.accessor);
      await store.updateRun('rn-race-before', { state: 'revoked', revokedReason: 'run-failed' });
      return vault.renewAccessor(accessor, increment);
    };
    const r = renewer(racing);
    env.clock.advance(30 * MINUTE_MS);
    expect(await r.renewRun('rn-race-before', false)).toBeUndefined();
    expect(await store.getRun('rn-race-before')).toMatchObject({
      state: 'revoked',
      revokedReason: 'run-failed',
    });
    expect(await scheduledAt('rn-race-before')).toBeUndefined();
    expect(events('rn-race-before')).toEqual([]);
  });

  it('coalesces a tick asked during a pass into one more pass that sees what became due meanwhile', async () => {
    await issue('rn-first');
    await issue('rn-second');
    await store.unscheduleRenewal('rn-second');
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    const first = r.tick();
    // On the pass's Redis connection, so this lands after the pass read its due runs.
    await store.scheduleRenewal('rn-second', env.clock.now());
    const second = r.tick();
    expect(second).toBe(first);
    const runs = (await first).map((x) => x.runId);
    expect(runs).toContain('rn-first');
    expect(runs).toContain('rn-second');
    await r.idle();
    expect(await store.getRun('rn-second')).toMatchObject({ renewals: 1 });
    // Once the pass is over, a tick starts a new one.
    expect(r.tick()).not.toBe(first);
    await r.idle();
  });
});

describe('token renewer actor', () => {
  it('publishes at restart, once, a renewed event whose record was stored but whose publish a SIGKILL cut off (regression: renewed events were published after the write, so a kill in between lost them)', async () => {
    const rec = await issue('rn-cut');
    const cutStore = new TokenStore(redis, PREFIX, 'token-renewer:tr-cut');
    const now = env.clock.now();
    // What a SIGKILL between the renewal's write and its publish leaves: the record renewed, with the
    // event in the outbox and its id in auditIds, and nothing in the audit stream.
    const cut = {
      category: 'token',
      feed: ['token', rec.accessor] as [string, string],
      env: env.client.wrap({
        type: 'token.event.v1',
        body: { runId: 'rn-cut', action: 'renewed', accessor: rec.accessor, expiresAt: now + 2 * HOUR_MS },
        run: 'rn-cut',
      }),
    };
    expect(
      await cutStore.updateRunIfLive(
        'rn-cut',
        { renewals: 1, lastRenewedAt: now, expiresAt: now + 2 * HOUR_MS },
        [cut],
      ),
    ).toBe(true);
    expect((await store.getRun('rn-cut'))?.auditIds).toEqual([cut.env.id]);
    expect((await auditStreamCounts(env.client)).has(cut.env.id)).toBe(false);

    const handle = await runActor(tokenRenewerKind, {
      id: 'tr-cut',
      bus: { servers: env.natsUrl },
      clock: env.clock,
      args: { ...env.args, keyPrefix: PREFIX, pollMs: 60_000 },
    });
    try {
      await waitFor('the cut-off renewed event republished', async () =>
        (await auditStreamCounts(env.client)).has(cut.env.id),
      );
      await waitFor(
        'the outbox emptied once acknowledged',
        async () => (await cutStore.outbox!.load()).length === 0,
      );
      const counts = await auditStreamCounts(env.client);
      expect(counts.get(cut.env.id)?.count).toBe(1);
      expect(counts.get(cut.env.id)?.subject).toMatch(/^gov\.audit\.token\./);
    } finally {
      await handle.stop();
    }
  });

  it('stores each renewed and max-ttl-reached event with the record it changes: every id the record lists is in the audit stream once', async () => {
    // One renewal at 30 min takes the lease to the 90-minute max: renewed, then max-ttl-reached.
    const rec = await issue('rn-ids', {
      ttlMs: HOUR_MS,
      renewEveryMs: 30 * MINUTE_MS,
      maxTtlMs: 90 * MINUTE_MS,
    });
    const r = renewer();
    env.clock.advance(30 * MINUTE_MS);
    await r.renewRun('rn-ids', false);
    await r.outbox.settled();
    const stored = await store.getRun('rn-ids');
    expect(stored?.state).toBe('at-max-ttl');
    const ids = stored?.auditIds ?? [];
    const counts = await auditStreamCounts(env.client);
    expect(ids.map((id) => counts.get(id)?.env.body)).toEqual([
      expect.objectContaining({ action: 'renewed', accessor: rec.accessor }),
      expect.objectContaining({ action: 'max-ttl-reached', accessor: rec.accessor }),
    ]);
    expect(ids.map((id) => counts.get(id)?.count)).toEqual([1, 1]);
  });

  it('renews what is due as soon as it starts, then on its poll timer', async () => {
    const early = await issue('rn-actor-start');
    env.clock.advance(30 * MINUTE_MS);
    const handle = await runActor(tokenRenewerKind, {
      id: 'tr-unit',
      bus: { servers: env.natsUrl },
      clock: env.clock,
      args: { ...env.args, keyPrefix: PREFIX, pollMs: 60_000 },
    });
    try {
      const renewed = (runId: string) => (e: Envelope) =>
        e.type === 'token.event.v1' && e.body.runId === runId && e.body.action === 'renewed';
      // Due before the actor started, and no clock tick since: the first pass runs at start.
      const first = await feed.next(renewed('rn-actor-start'));
      expect(first.type === 'token.event.v1' && first.body.accessor).toBe(early.accessor);
      const later = await issue('rn-actor-timer');
      env.clock.advance(30 * MINUTE_MS);
      const second = await feed.next(renewed('rn-actor-timer'));
      expect(second.type === 'token.event.v1' && second.body.accessor).toBe(later.accessor);
      expect(await store.getRun('rn-actor-timer')).toMatchObject({ renewals: 1 });
    } finally {
      await handle.stop();
    }
  });
});
