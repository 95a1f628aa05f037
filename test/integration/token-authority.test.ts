/**
 * The token authority's decisions, one input at a time, over real nats-server (feed, agent inboxes),
 * redis-server (records, outbox, quarantine) and the Vault dev server (the tokens), on a manual clock.
 * The authority is driven directly (`onRunEvent`, `issue`, `issueChild`, `revoke`, `handle`,
 * `releaseDue`) so each test sees exactly one decision; governance-tokens.test.ts covers the actor in
 * the governance actors' conversation.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuarantineStore } from '../../actors/error-budget/quarantine-store.ts';
import { TokenAuthority, tokenAuthorityKind } from '../../actors/token/token-authority.ts';
import { DEFAULT_RUN_TOKEN_MAX_TTL_MS, TokenAuthorityArgsSchema } from '../../actors/token/token-options.ts';
import { policyDocuments } from '../../actors/token/token-policy.ts';
import { TokenStore } from '../../actors/token/token-store.ts';
import { VaultTokenClient } from '../../actors/token/vault-client.ts';
import { type ActorContext, runActor } from '../../actors/runtime/index.ts';
import { Bus } from '../../bus/bus.ts';
import { createLogger } from '../../infra/logger.ts';
import type { BodyIn } from '../../protocols/catalog.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { actorInbox, allObs, heartbeatSubject, serviceSubject } from '../../protocols/subjects.ts';
import { collect } from '../harness/index.ts';
import {
  type GovernanceEnv,
  governance,
  governanceEnv,
  HOUR_MS,
  publishRunEvent,
} from './governance-setup.ts';

let env: GovernanceEnv;
let vault: VaultTokenClient;
let redis: Redis;
let feed: ReturnType<typeof collect>;

beforeAll(async () => {
  env = await governanceEnv();
  vault = new VaultTokenClient({ addr: env.vault.addr, token: env.vault.rootToken, clock: env.clock });
  redis = new Redis(env.redisUrl, { lazyConnect: true });
  await redis.connect();
  env.servers.onStop(() => redis.quit().then(() => undefined));
  feed = collect(env.client, allObs());
  await feed.ready();
  // The run token's policy lets it create its agents' children (the actor writes these at start).
  await authority().a.ensurePolicies();
});
afterAll(() => env.servers.stopAll());

const AGENT_KIND = 'agent-ta';

/** An authority on its own key prefix; `vaultFor` lets a test put a fault in Vault's path. */
function authority(o: { prefix?: string; vaultFor?: VaultTokenClient; quarantine?: boolean } = {}) {
  const prefix = o.prefix ?? `agov:test-ta:${randomUUID().slice(0, 8)}`;
  const args = TokenAuthorityArgsSchema.parse({
    vaultAddr: env.vault.addr,
    vaultToken: env.vault.rootToken,
    redisUrl: env.redisUrl,
    keyPrefix: prefix,
    agentKind: AGENT_KIND,
    quarantineKeyPrefix: `${prefix}:q`,
  });
  const ctx = {
    id: 'ta-t',
    kind: 'token-authority',
    address: 'ta-inbox',
    bus: env.client,
    clock: env.clock,
    log: createLogger({}, 'error'),
    args,
  } as unknown as ActorContext;
  const store = new TokenStore(redis, prefix, `token-authority:${randomUUID().slice(0, 8)}`);
  const quarantine = o.quarantine === false ? undefined : new QuarantineStore(redis, `${prefix}:q`);
  const a = new TokenAuthority(ctx, args, o.vaultFor ?? vault, store, quarantine);
  return { a, store, prefix, quarantine };
}

const runEnv = (body: BodyIn<'run.event.v1'>, ts = env.clock.now()) =>
  ({ ...env.client.wrap({ type: 'run.event.v1', body, run: body.runId }), ts }) as Envelope<'run.event.v1'>;
const onEvent = (a: TokenAuthority, body: BodyIn<'run.event.v1'>, ts?: number) => {
  const e = runEnv(body, ts);
  return a.onRunEvent(e.body, e);
};
const events = (runId: string, action?: string) =>
  feed.seen
    .filter((e): e is Envelope<'token.event.v1'> => e.type === 'token.event.v1' && e.body.runId === runId)
    .map((e) => e.body)
    .filter((b) => action === undefined || b.action === action);
const nextEvent = (runId: string, action: string) =>
  feed.next((e) => e.type === 'token.event.v1' && e.body.runId === runId && e.body.action === action);
const gone = async (accessor: string) =>
  vault.lookupAccessor(accessor).then(
    () => false,
    () => true,
  );

/** Every message sent to these agents' inboxes, with the agent it went to. */
function inboxes(ids: string[]) {
  const seen: Array<{ agentId: string; env: Envelope }> = [];
  const subs = ids.map((agentId) =>
    env.client.subscribeRaw(actorInbox(AGENT_KIND, agentId), (m) => {
      const d = env.client.decode(m.data);
      if (d.ok) seen.push({ agentId, env: d.env });
    }),
  );
  return {
    seen,
    ready: () => env.client.flush(),
    close: () => {
      for (const s of subs) s.unsubscribe();
    },
  };
}

describe('token authority: issue', () => {
  it('issues one run token per run with the governance TTLs, records it live, announces it once through the outbox, and answers the same token again', async () => {
    const { a, store } = authority();
    const g = governance({ token: { ttlMs: HOUR_MS, renewEveryMs: 20 * 60_000, maxTtlMs: 3 * HOUR_MS } });
    const now = env.clock.now();
    const first = await a.issue({ runId: 'ti-1', pipeline: 'build', governance: g });
    expect(first).toMatchObject({
      runId: 'ti-1',
      created: true,
      expiresAt: now + HOUR_MS,
      maxExpiresAt: now + 3 * HOUR_MS,
    });
    const info = await vault.lookupAccessor(first.accessor);
    expect(info.ttlS).toBe(3600);
    const rec = await store.getRun('ti-1');
    expect(rec).toMatchObject({
      state: 'live',
      accessor: first.accessor,
      pipeline: 'build',
      policies: first.policies,
    });
    expect(rec?.auditIds).toHaveLength(1);
    expect((await store.scheduled()).find((s) => s.runId === 'ti-1')?.at).toBe(now + 20 * 60_000);
    const issued = await nextEvent('ti-1', 'issued');
    expect(issued.type === 'token.event.v1' && issued.body).toMatchObject({
      accessor: first.accessor,
      policies: first.policies,
      expiresAt: now + HOUR_MS,
      ttlMs: HOUR_MS,
    });
    expect(issued.id).toBe(rec?.auditIds?.[0]);
    const again = await a.issue({ runId: 'ti-1', governance: g });
    expect(again).toEqual({ ...first, created: false });
    expect(a.status()).toEqual({ issued: 1, revoked: 0, secretsHeld: 1 });
  });

  it('issues on run-accepted and on run-started, once per run', async () => {
    const { a, store } = authority();
    await onEvent(a, { runId: 'ti-acc', event: 'run-accepted', governance: governance() });
    await onEvent(a, { runId: 'ti-st', event: 'run-started', governance: governance() });
    const acc = await store.getRun('ti-acc');
    expect(acc?.state).toBe('live');
    expect((await store.getRun('ti-st'))?.state).toBe('live');
    await onEvent(a, { runId: 'ti-acc', event: 'run-started', governance: governance() });
    expect((await store.getRun('ti-acc'))?.accessor).toBe(acc?.accessor);
    expect(a.status().issued).toBe(2);
  });

  it('issues nothing for a replayed run-accepted whose token would already be past its max TTL, and issues one just inside it', async () => {
    const { a, store } = authority();
    const g = governance({ token: { ttlMs: HOUR_MS, renewEveryMs: 20 * 60_000, maxTtlMs: 2 * HOUR_MS } });
    const now = env.clock.now();
    await onEvent(a, { runId: 'ti-old', event: 'run-accepted', governance: g }, now - 2 * HOUR_MS - 1);
    expect(await store.getRun('ti-old')).toBeUndefined();
    await onEvent(a, { runId: 'ti-edge', event: 'run-accepted', governance: g }, now - 2 * HOUR_MS);
    expect((await store.getRun('ti-edge'))?.state).toBe('live');
    // Without governance the default max TTL decides.
    await onEvent(a, { runId: 'ti-old-d', event: 'run-accepted' }, now - DEFAULT_RUN_TOKEN_MAX_TTL_MS - 1);
    expect(await store.getRun('ti-old-d')).toBeUndefined();
    await onEvent(
      a,
      { runId: 'ti-new-d', event: 'run-accepted' },
      now - DEFAULT_RUN_TOKEN_MAX_TTL_MS + 60_000,
    );
    expect((await store.getRun('ti-new-d'))?.state).toBe('live');
  });

  it("delivers a child token for a stage-accepted only to its agent's inbox, once per agent, stage and attempt, and announces it", async () => {
    const { a, store } = authority();
    const box = inboxes(['ag-c1', 'ag-c2']);
    await box.ready();
    const run = await a.issue({ runId: 'tc-1', governance: governance() });
    await onEvent(a, {
      runId: 'tc-1',
      event: 'stage-accepted',
      stageId: 'build',
      attempt: 1,
      agentId: 'ag-c1',
    });
    await onEvent(a, {
      runId: 'tc-1',
      event: 'stage-accepted',
      stageId: 'build',
      attempt: 1,
      agentId: 'ag-c1',
    });
    await onEvent(a, {
      runId: 'tc-1',
      event: 'stage-accepted',
      stageId: 'build',
      attempt: 2,
      agentId: 'ag-c1',
    });
    await env.client.flush();
    // Issued at the same (manual) instant: ordered by attempt here.
    const children = (await store.children('tc-1')).sort((x, y) => (x.attempt ?? 0) - (y.attempt ?? 0));
    expect(children.map((c) => [c.agentId, c.stageId, c.attempt, c.descendant])).toEqual([
      ['ag-c1', 'build', 1, true],
      ['ag-c1', 'build', 2, true],
    ]);
    expect(children.every((c) => c.auditId !== undefined)).toBe(true);
    const creds = box.seen.filter((s) => s.env.type === 'agent.credentials.v2');
    expect(creds.map((c) => c.agentId)).toEqual(['ag-c1', 'ag-c1']);
    expect(creds.map((c) => c.env.type === 'agent.credentials.v2' && c.env.body.accessor)).toEqual(
      children.map((c) => c.accessor),
    );
    expect(creds[0]?.env.type === 'agent.credentials.v2' && creds[0].env.body).toMatchObject({
      runId: 'tc-1',
      stageId: 'build',
      attempt: 1,
    });
    await nextEvent('tc-1', 'child-issued');
    expect(events('tc-1', 'child-issued')[0]).toMatchObject({
      accessor: children[0]?.accessor,
      parentAccessor: run.accessor,
      agentId: 'ag-c1',
    });
    // A child key without stage or attempt.
    await a.issueChild('tc-1', 'ag-c2', undefined, undefined);
    expect(await store.hasChild('tc-1', 'ag-c2/-/0')).toBe(true);
    box.close();
  });

  it('issues no child token without a live run token: none issued, or the run revoked', async () => {
    const { a, store } = authority();
    await a.issueChild('tc-none', 'ag-x', 's', 1);
    expect(await store.children('tc-none')).toEqual([]);
    await a.issue({ runId: 'tc-rev', governance: governance() });
    await a.revoke('tc-rev', 'test', 'me', false);
    await onEvent(a, { runId: 'tc-rev', event: 'stage-accepted', stageId: 's', attempt: 1, agentId: 'ag-x' });
    expect(await store.children('tc-rev')).toEqual([]);
  });

  it('records agents that take or are sent a stage, not those only named by other events', async () => {
    const { a, store } = authority();
    await onEvent(a, { runId: 'tag', event: 'stage-dispatched', stageId: 's', attempt: 1, agentId: 'ag-d' });
    await onEvent(a, { runId: 'tag', event: 'stage-accepted', stageId: 's', attempt: 1, agentId: 'ag-a' });
    await onEvent(a, { runId: 'tag', event: 'stage-succeeded', stageId: 's', attempt: 1, agentId: 'ag-s' });
    expect(await store.agents('tag')).toEqual(['ag-a', 'ag-d']);
  });

  it('after a restart (secrets gone) makes children with its own token and revokes them explicitly with the run', async () => {
    const prefix = `agov:test-ta:${randomUUID().slice(0, 8)}`;
    const before = authority({ prefix }).a;
    const run = await before.issue({ runId: 'tr-1', governance: governance() });
    const after = authority({ prefix }).a;
    expect(after.status().secretsHeld).toBe(0);
    await after.issueChild('tr-1', 'ag-r', 'build', 1);
    const [child] = await after.store.children('tr-1');
    expect(child?.descendant).toBe(false);
    expect(await gone(child?.accessor ?? '')).toBe(false);
    const r = await after.revoke('tr-1', 'done', 'me', false);
    expect(r).toMatchObject({ revoked: true, accessor: run.accessor });
    expect(await gone(run.accessor)).toBe(true);
    expect(await gone(child?.accessor ?? '')).toBe(true);
  });
});

describe('token authority: revoke', () => {
  for (const end of ['run-succeeded', 'run-failed', 'run-cancelled', 'run-contained'] as const) {
    it(`revokes the run token and its children when the run ends (${end}), naming the end, suspending nobody`, async () => {
      const { a, store } = authority();
      const run = await a.issue({ runId: `te-${end}`, governance: governance() });
      await a.issueChild(`te-${end}`, 'ag-e', 'build', 1);
      const [child] = await store.children(`te-${end}`);
      await onEvent(a, { runId: `te-${end}`, event: end });
      expect(await gone(run.accessor)).toBe(true);
      expect(await gone(child?.accessor ?? '')).toBe(true);
      const rec = await store.getRun(`te-${end}`);
      expect(rec).toMatchObject({ state: 'revoked', revokedReason: end });
      expect(rec?.auditIds).toHaveLength(2);
      const revoked = await nextEvent(`te-${end}`, 'revoked');
      expect(revoked.type === 'token.event.v1' && revoked.body).toMatchObject({
        accessor: run.accessor,
        childAccessors: [child?.accessor],
        reason: end,
        by: 'ta-inbox',
      });
      expect(revoked.id).toBe(rec?.auditIds?.[1]);
      expect(a.status()).toEqual({ issued: 1, revoked: 1, secretsHeld: 0 });
      expect(events(`te-${end}`, 'agents-suspended')).toEqual([]);
    });
  }

  it('ignores run events that neither start nor end a run', async () => {
    const { a, store } = authority();
    await a.issue({ runId: 'tn-1', governance: governance() });
    await onEvent(a, { runId: 'tn-1', event: 'stage-failed', stageId: 's', attempt: 1 });
    expect((await store.getRun('tn-1'))?.state).toBe('live');
  });

  it('revoked before any token: leaves a tombstone, so a late run-accepted issues nothing', async () => {
    const { a, store } = authority();
    const now = env.clock.now();
    const r = await a.revoke('tt-1', 'budget exhausted', 'bm', false);
    expect(r).toEqual({
      runId: 'tt-1',
      revoked: false,
      revokedAt: now,
      reason: 'budget exhausted',
      suspendedAgents: [],
    });
    await onEvent(a, { runId: 'tt-1', event: 'run-accepted', governance: governance() });
    expect(await store.getRun('tt-1')).toMatchObject({ state: 'revoked', accessor: '' });
    expect(a.status().issued).toBe(0);
  });

  it('a second revoke changes nothing and answers the first one’s time and reason', async () => {
    const { a } = authority();
    const run = await a.issue({ runId: 'tw-1', governance: governance() });
    const first = await a.revoke('tw-1', 'first', 'me', false);
    env.clock.advance(1_000);
    const second = await a.revoke('tw-1', 'second', 'you', false);
    expect(second).toEqual({
      runId: 'tw-1',
      accessor: run.accessor,
      revoked: false,
      revokedAt: first.revokedAt,
      reason: 'first',
      suspendedAgents: [],
    });
    expect(events('tw-1', 'revoked')).toHaveLength(1);
    expect(a.status().revoked).toBe(1);
  });

  it('with suspendAgents tells every agent of the run to suspend, as T2, then reports them', async () => {
    const { a } = authority();
    const box = inboxes(['ag-s1', 'ag-s2', 'ag-s3']);
    await box.ready();
    const run = await a.issue({ runId: 'ts-1', governance: governance() });
    await onEvent(a, {
      runId: 'ts-1',
      event: 'stage-dispatched',
      stageId: 's',
      attempt: 1,
      agentId: 'ag-s2',
    });
    await onEvent(a, {
      runId: 'ts-1',
      event: 'stage-dispatched',
      stageId: 't',
      attempt: 1,
      agentId: 'ag-s1',
    });
    const r = await a.revoke('ts-1', 'breach', 'bm', true);
    expect(r).toMatchObject({ revoked: true, suspendedAgents: ['ag-s1', 'ag-s2'] });
    await env.client.flush();
    const cmds = box.seen.filter((s) => s.env.type === 'agent.command.v1');
    expect(cmds.map((c) => c.agentId).sort()).toEqual(['ag-s1', 'ag-s2']);
    expect(cmds.map((c) => c.env.type === 'agent.command.v1' && c.env.body)).toEqual([
      { command: 'suspend', byTier: 'T2', by: 'token-authority', reason: 'breach' },
      { command: 'suspend', byTier: 'T2', by: 'token-authority', reason: 'breach' },
    ]);
    expect(cmds.map((c) => c.env.run)).toEqual(['ts-1', 'ts-1']);
    const ev = await nextEvent('ts-1', 'agents-suspended');
    expect(ev.type === 'token.event.v1' && ev.body).toMatchObject({
      accessor: run.accessor,
      agentIds: ['ag-s1', 'ag-s2'],
      reason: 'breach',
    });
    box.close();
  });

  it('given agents, commands only those (deduplicated, sorted) with the given command, even when the run was revoked before or never had a token', async () => {
    const { a } = authority();
    const box = inboxes(['ag-q1', 'ag-q2', 'ag-other']);
    await box.ready();
    await a.issue({ runId: 'tq-1', governance: governance() });
    await onEvent(a, {
      runId: 'tq-1',
      event: 'stage-dispatched',
      stageId: 's',
      attempt: 1,
      agentId: 'ag-other',
    });
    const r = await a.revoke('tq-1', 'violation', 'ta', false, {
      ids: ['ag-q2', 'ag-q1', 'ag-q2'],
      command: 'quarantine',
    });
    expect(r.suspendedAgents).toEqual(['ag-q1', 'ag-q2']);
    const again = await a.revoke('tq-1', 'violation', 'ta', false, { ids: ['ag-q1'], command: 'suspend' });
    expect(again).toMatchObject({ revoked: false, suspendedAgents: ['ag-q1'] });
    const never = await a.revoke('tq-never', 'violation', 'ta', false, {
      ids: ['ag-q2'],
      command: 'quarantine',
    });
    expect(never.suspendedAgents).toEqual(['ag-q2']);
    await env.client.flush();
    const cmds = box.seen
      .filter((s) => s.env.type === 'agent.command.v1')
      .map((c) => [c.agentId, c.env.type === 'agent.command.v1' && c.env.body.command, c.env.run]);
    expect(cmds).toEqual([
      ['ag-q1', 'quarantine', 'tq-1'],
      ['ag-q2', 'quarantine', 'tq-1'],
      ['ag-q1', 'suspend', 'tq-1'],
      ['ag-q2', 'quarantine', 'tq-never'],
    ]);
    const tomb = await nextEvent('tq-never', 'agents-suspended');
    expect(tomb.type === 'token.event.v1' && tomb.body.accessor).toBeUndefined();
    box.close();
  });

  it('announces revoke-failed with the error and keeps the token live when Vault refuses the revoke', async () => {
    const prefix = `agov:test-ta:${randomUUID().slice(0, 8)}`;
    const { a, store } = authority({ prefix });
    const run = await a.issue({ runId: 'tf-1', governance: governance() });
    const bad = new VaultTokenClient({ addr: env.vault.addr, token: 'not-a-token', clock: env.clock });
    const broken = authority({ prefix, vaultFor: bad }).a;
    await expect(broken.revoke('tf-1', 'ended', 'me', false)).rejects.toThrow();
    const ev = await nextEvent('tf-1', 'revoke-failed');
    expect(ev.type === 'token.event.v1' && ev.body).toMatchObject({
      accessor: run.accessor,
      reason: 'ended',
      by: 'me',
      error: { code: expect.any(String) },
    });
    expect((await store.getRun('tf-1'))?.state).toBe('live');
    expect(await gone(run.accessor)).toBe(false);
  });
});

describe('token authority: requests and quarantine', () => {
  it('answers issue, revoke (the sender when no one is named; quarantineAgents suspended) and status requests, and nothing to others', async () => {
    const { a } = authority();
    const box = inboxes(['ag-h']);
    await box.ready();
    const issued = await a.handle(
      env.client.wrap({
        type: 'token.issue.v1',
        body: { runId: 'th-1', pipeline: 'p', governance: governance() },
      }),
    );
    expect(issued?.type === 'token.issued.v1' && issued.body).toMatchObject({ runId: 'th-1', created: true });
    const status = await a.handle(env.client.wrap({ type: 'token.status.v1', body: { runId: 'th-1' } }));
    expect(status?.type === 'token.state.v1' && status.body).toMatchObject({ runId: 'th-1', state: 'live' });
    const req = env.client.wrap({
      type: 'token.revoke.v1',
      body: { runId: 'th-1', reason: 'operator', suspendAgents: false, quarantineAgents: ['ag-h'] },
    });
    const revoked = await a.handle(req);
    expect(revoked?.type === 'token.revoked.v1' && revoked.body).toMatchObject({
      revoked: true,
      reason: 'operator',
      suspendedAgents: ['ag-h'],
    });
    await nextEvent('th-1', 'revoked');
    expect(events('th-1', 'revoked')[0]?.by).toBe(req.from);
    await env.client.flush();
    expect(box.seen.map((s) => s.env.type === 'agent.command.v1' && s.env.body.command)).toEqual(['suspend']);
    const named = await a.handle(
      env.client.wrap({
        type: 'token.revoke.v1',
        body: { runId: 'th-2', reason: 'x', by: 'someone', suspendAgents: true },
      }),
    );
    expect(named?.type === 'token.revoked.v1' && named.body.suspendedAgents).toEqual([]);
    expect(await a.handle(env.client.wrap({ type: 'actor.ping.v1', body: {} }))).toBeUndefined();
    box.close();
  });

  it('releases violation quarantines whose cool-down is over, as T2, and leaves the others held', async () => {
    const { a, quarantine } = authority();
    const box = inboxes(['ag-due', 'ag-later']);
    await box.ready();
    const now = env.clock.now();
    await quarantine?.hold({
      agentId: 'ag-due',
      runId: 'tq-r',
      reason: 'v',
      release: 'cool-down',
      since: now,
      releaseAt: now - 1,
    });
    await quarantine?.hold({
      agentId: 'ag-later',
      runId: 'tq-r',
      reason: 'v',
      release: 'cool-down',
      since: now,
      releaseAt: now + 60_000,
    });
    await a.releaseDue();
    await env.client.flush();
    expect(await quarantine?.held()).toEqual(['ag-later']);
    expect(
      box.seen.map((s) => [s.agentId, s.env.type === 'agent.command.v1' && s.env.body, s.env.run]),
    ).toEqual([
      [
        'ag-due',
        { command: 'release', byTier: 'T2', by: 'token-authority', reason: 'quarantine cool-down over' },
        'tq-r',
      ],
    ]);
    box.close();
    // Without a quarantine store there is nothing to release.
    await authority({ quarantine: false }).a.releaseDue();
  });

  it('refuses to start without a token store that has an outbox', () => {
    const { a } = authority();
    const ctx = {
      bus: env.client,
      clock: env.clock,
      log: createLogger({}, 'error'),
    } as unknown as ActorContext;
    expect(
      () =>
        new TokenAuthority(
          ctx,
          (a as unknown as { args: never }).args,
          vault,
          new TokenStore(redis, 'agov:no-outbox'),
        ),
    ).toThrow('the token authority needs a token store with an outbox');
  });

  it('writes the agov-run and tier policies into Vault', async () => {
    const { a } = authority();
    const names = Object.keys(policyDocuments());
    expect(names).toContain('agov-run');
    const url = (name: string) => `${env.vault.addr}/v1/sys/policy/${name}`;
    const headers = { 'X-Vault-Token': env.vault.rootToken };
    for (const name of names) await fetch(url(name), { method: 'DELETE', headers });
    expect((await fetch(url('agov-run'), { headers })).status).toBe(404);
    await a.ensurePolicies();
    for (const name of names) {
      const res = await fetch(url(name), { headers });
      expect(res.ok, name).toBe(true);
      const body = (await res.json()) as { data?: { rules?: string } };
      expect(body.data?.rules, name).toBe(policyDocuments()[name]);
    }
  });
});

describe('token authority actor', () => {
  it('issues from the audit stream, answers status and violation reports on its service subject, and reports its counts', async () => {
    const prefix = `agov:test-ta-actor:${randomUUID().slice(0, 8)}`;
    const beats = collect(env.client, heartbeatSubject('token-authority', 'ta-actor'));
    await beats.ready();
    const h = await runActor(tokenAuthorityKind, {
      id: 'ta-actor',
      // The real clock: its heartbeat (which carries the status) runs on it.
      heartbeatMs: 200,
      bus: { servers: env.natsUrl },
      args: {
        ...env.args,
        keyPrefix: prefix,
        quarantineKeyPrefix: `${prefix}:q`,
        durable: `ta-${randomUUID().slice(0, 8)}`,
        reporterAllowlist: ['auditor-ta'],
      },
    });
    const auditor = await Bus.connect({ servers: env.natsUrl, name: 'auditor-ta' });
    try {
      await publishRunEvent(env.client, {
        runId: 'ta-act-1',
        event: 'run-accepted',
        governance: governance(),
      });
      await nextEvent('ta-act-1', 'issued');
      const state = await env.client.ask(serviceSubject('token-authority'), {
        type: 'token.status.v1',
        body: { runId: 'ta-act-1' },
      });
      expect(state.type === 'token.state.v1' && state.body.state).toBe('live');
      const reply = await auditor.ask(serviceSubject('token-authority'), {
        type: 'violation.report.v1',
        body: { runId: 'ta-act-1', policy: 'pii', description: 'leaked an address' },
      });
      expect(reply.type === 'token.revoked.v1' && reply.body).toMatchObject({
        revoked: true,
        reason: 'policy-violation: pii',
      });
      const beat = await beats.next(
        (e) =>
          e.type === 'actor.heartbeat.v1' &&
          (e.body.status as { revoked?: number } | undefined)?.revoked === 1,
      );
      expect(beat.type === 'actor.heartbeat.v1' && beat.body.status).toEqual({
        issued: 1,
        revoked: 1,
        secretsHeld: 0,
      });
    } finally {
      await auditor.close();
      beats.close();
      await h.stop();
    }
  });

  it('sends an agent that asked for JSON deliveries its commands as JSON, even after events that do not repeat the choice, and the others msgpack', async () => {
    const { a } = authority();
    const raw = new Map<string, Uint8Array>();
    const subs = ['ag-json', 'ag-mp'].map((id) =>
      env.client.subscribeRaw(actorInbox(AGENT_KIND, id), (m) => raw.set(id, m.data)),
    );
    await env.client.flush();
    await onEvent(a, {
      runId: 'tj-1',
      event: 'stage-dispatched',
      stageId: 's',
      attempt: 1,
      agentId: 'ag-json',
      agentEncoding: 'json',
    });
    // A later event that does not repeat the choice does not undo it.
    await onEvent(a, {
      runId: 'tj-1',
      event: 'stage-succeeded',
      stageId: 's',
      attempt: 1,
      agentId: 'ag-json',
    });
    await onEvent(a, {
      runId: 'tj-1',
      event: 'stage-dispatched',
      stageId: 's',
      attempt: 1,
      agentId: 'ag-mp',
    });
    await a.revoke('tj-1', 'breach', 'bm', true);
    await env.client.flush();
    const text = (id: string) => new TextDecoder().decode(raw.get(id));
    expect(JSON.parse(text('ag-json'))).toMatchObject({ type: 'agent.command.v1' });
    expect(() => JSON.parse(text('ag-mp'))).toThrow();
    for (const s of subs) s.unsubscribe();
  });
});
