import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKind } from '../../actors/agent/agent.ts';
import { agentDirectoryKind } from '../../actors/agent-directory.ts';
import { checkpointKind, memoryKind, RestoreLog, workStatusKind } from '../../actors/context/index.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import { type Bus, ensureStreams } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { RedisServer } from '../../infra/redis-server.ts';
import {
  ACTOR_KIND,
  actorInbox,
  CheckpointNotFoundError,
  contextSubject,
  ForbiddenError,
  InvalidTargetError,
  MemoryNotFoundError,
  MemoryTooLargeError,
  serviceSubject,
  TierForbiddenError,
} from '../../protocols/index.ts';
import { auditStreamCounts, collect, TestServers, testBus, waitFor } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let redis: RedisServer;
let client: Bus;
let workRoot: string;
const handles: ActorHandle[] = [];
const mem = () => serviceSubject(ACTOR_KIND.memory);
const status = () => serviceSubject(ACTOR_KIND.workStatus);
const cps = () => serviceSubject(ACTOR_KIND.checkpoint);
/** Writes go where the broker vouches for tier and principal; the test bus (admin) may speak at any tier. */
const ctx = (kind: string, tier: 'T0' | 'T1' | 'T2') => contextSubject(kind, tier, client.principal());
const memAt = (tier: 'T0' | 'T1' | 'T2') => ctx(ACTOR_KIND.memory, tier);
const statusAt = (tier: 'T0' | 'T1' | 'T2') => ctx(ACTOR_KIND.workStatus, tier);
const cpsAt = (tier: 'T0' | 'T1' | 'T2') => ctx(ACTOR_KIND.checkpoint, tier);

beforeAll(async () => {
  [nats, redis] = await Promise.all([servers.nats(), servers.redis()]);
  client = await testBus(nats.url);
  workRoot = servers.tempDir('agov-ctx-');
  servers.onStop(() => client.close());
  await ensureStreams(client);
  servers.onStop(async () => {
    for (const h of handles) await h.stop('test over').catch(() => undefined);
  });
  const bus = { servers: nats.url };
  handles.push(await runActor(agentDirectoryKind, { id: 'directory-1', bus, heartbeatMs: 100 }));
  handles.push(await runActor(memoryKind, { id: 'memory-1', bus, args: { maxBlobBytes: 4096 } }));
  handles.push(await runActor(workStatusKind, { id: 'status-1', bus, args: { baseDir: workRoot } }));
  handles.push(
    await runActor(checkpointKind, {
      id: 'checkpoint-1',
      bus,
      // Sources that exist must answer even on a loaded machine (regression: at 500 ms the work-status
      // source timed out in CI and the checkpoint held no open work); absent ones fail at once (no responders).
      args: { everyMs: 0, sourceTimeoutMs: 5_000, keep: 5 },
    }),
  );
}, 60_000);
afterAll(() => servers.stopAll());

describe('external memory', () => {
  it('stores a blob by its sha256 once, summarises it on write and serves content, summary, list and stats', async () => {
    const feed = collect(client, 'gov.obs.context.memory');
    await feed.ready();
    const log =
      '2026-01-01 10:00:00 INFO start\n2026-01-01 10:00:01 ERROR disk full\n2026-01-01 10:00:02 INFO done\n';
    const put = await client.ask(memAt('T1'), {
      type: 'memory.put.v1',
      body: { content: log, contentType: 'text/plain', tags: ['build'], runId: 'r-ctx-1' },
    });
    if (put.type !== 'memory.entry.v1') throw new Error(put.type);
    expect(put.body.id).toMatch(/^[0-9a-f]{64}$/);
    expect(put.body.author).toBe(client.principal());
    expect(put.body.summary).toMatchObject({ format: 'log', lines: 3, errorCount: 1 });
    expect(put.body.summary.errorLines[0]).toEqual({ line: 2, text: '2026-01-01 10:00:01 ERROR disk full' });
    const again = await client.ask(memAt('T1'), {
      type: 'memory.put.v1',
      body: { content: log, tags: ['again'] },
    });
    expect(again.body).toMatchObject({ id: put.body.id, tags: ['build', 'again'] });

    const full = await client.ask(mem(), { type: 'memory.get.v1', body: { id: put.body.id } });
    expect(full.body).toMatchObject({ content: log, encoding: 'utf8' });
    const summary = await client.ask(mem(), {
      type: 'memory.get.v1',
      body: { id: put.body.id, summaryOnly: true },
    });
    expect(summary.body).not.toHaveProperty('content');

    const json = await client.ask(memAt('T1'), {
      type: 'memory.put.v1',
      body: { content: '{"a":1,"b":[2]}', tags: ['build'] },
    });
    expect(json.body).toMatchObject({ summary: { format: 'json', jsonKeys: ['a', 'b'] } });
    const list = await client.ask(mem(), { type: 'memory.list.v1', body: { limit: 1 } });
    expect(list.body).toMatchObject({ total: 2, entries: [{ id: (json.body as { id: string }).id }] });
    const stats = await client.ask(mem(), { type: 'memory.stats.v1', body: {} });
    expect(stats.body).toMatchObject({
      count: 2,
      byRun: { 'r-ctx-1': { count: 1 } },
      byTag: { build: { count: 2 } },
    });
    const stored = await feed.next((e) => e.type === 'memory.stored.v1' && e.body.id === put.body.id);
    expect(stored.body).toMatchObject({ event: 'stored', author: client.principal(), runId: 'r-ctx-1' });
    feed.close();
  });

  it('refuses an unknown id, an oversized blob, a T0 writer, a T1 deleter and writes off gov.ctx whatever tier the body claims, storing nothing', async () => {
    await expect(
      client.ask(mem(), { type: 'memory.get.v1', body: { id: 'f'.repeat(64) } }),
    ).rejects.toBeInstanceOf(MemoryNotFoundError);
    await expect(
      client.ask(mem(), { type: 'memory.get.v1', body: { id: '../etc/passwd' } }),
    ).rejects.toBeInstanceOf(MemoryNotFoundError);
    const before = await client.ask(mem(), { type: 'memory.stats.v1', body: {} });
    await expect(
      client.ask(memAt('T1'), { type: 'memory.put.v1', body: { content: 'x'.repeat(5000) } }),
    ).rejects.toBeInstanceOf(MemoryTooLargeError);
    // The body's tier is not the caller's: T0 on the subject is T0 whatever the body says.
    await expect(
      client.ask(memAt('T0'), { type: 'memory.put.v1', body: { content: 'from T0', byTier: 'T2' } }),
    ).rejects.toBeInstanceOf(TierForbiddenError);
    const victim = (
      (await client.ask(mem(), { type: 'memory.list.v1', body: { limit: 100 } })).body as {
        entries: Array<{ id: string }>;
      }
    ).entries[0]!.id;
    await expect(
      client.ask(memAt('T1'), { type: 'memory.delete.v1', body: { id: victim, byTier: 'T2' } }),
    ).rejects.toBeInstanceOf(TierForbiddenError);
    // On the service subject the broker names no caller, so no write is taken there at all.
    await expect(
      client.ask(mem(), { type: 'memory.put.v1', body: { content: 'unvouched', byTier: 'T2' } }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    await expect(
      client.ask(mem(), { type: 'memory.delete.v1', body: { id: victim, byTier: 'T2' } }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    const after = await client.ask(mem(), { type: 'memory.stats.v1', body: {} });
    expect(after.body).toEqual(before.body);
  });

  it('lets T2 delete a blob, after which it is not found', async () => {
    const put = await client.ask(memAt('T1'), { type: 'memory.put.v1', body: { content: 'to delete' } });
    const id = (put.body as { id: string }).id;
    await client.ask(memAt('T2'), { type: 'memory.delete.v1', body: { id } });
    await expect(client.ask(mem(), { type: 'memory.get.v1', body: { id } })).rejects.toBeInstanceOf(
      MemoryNotFoundError,
    );
  });
});

describe('work status', () => {
  it('tracks targets, draws the dashboard, and a sweep flags a missing path, a stale target and a gone owner', async () => {
    mkdirSync(join(workRoot, 'api'));
    await client.ask(statusAt('T1'), {
      type: 'status.update.v1',
      body: { target: 'api', phase: 'in-progress', task: 'routes', progress: 50 },
    });
    await client.ask(statusAt('T1'), {
      type: 'status.update.v1',
      body: { target: 'gone-dir', phase: 'complete' },
    });
    await client.ask(statusAt('T1'), {
      type: 'status.update.v1',
      body: { target: 'service:billing', phase: 'in-progress', owner: 'agent-nobody', staleAfterMs: 1 },
    });
    const dash = await client.ask(status(), { type: 'status.query.v1', body: {} });
    expect(dash.body).toMatchObject({ overall: 50, byPhase: { 'in-progress': 2, complete: 1 } });
    await new Promise((r) => setTimeout(r, 20));
    const swept = await client.ask(status(), { type: 'status.sweep.v1', body: {} });
    if (swept.type !== 'status.dashboard.v1') throw new Error(swept.type);
    const flags = Object.fromEntries(swept.body.targets.map((t) => [t.target, t.flags]));
    expect(flags).toEqual({ api: [], 'gone-dir': ['missing'], 'service:billing': ['stale', 'owner-gone'] });
  });

  it('refuses a malformed target, a T0 update, a T1 delete and an update off gov.ctx with typed errors', async () => {
    for (const target of ['', '../outside', 'a\u0007b', 'x'.repeat(600)])
      await expect(
        client.ask(statusAt('T1'), { type: 'status.update.v1', body: { target, phase: 'blocked' } }),
      ).rejects.toBeInstanceOf(InvalidTargetError);
    await expect(
      client.ask(statusAt('T0'), {
        type: 'status.update.v1',
        body: { target: 'api', phase: 'blocked', byTier: 'T2' },
      }),
    ).rejects.toBeInstanceOf(TierForbiddenError);
    await expect(
      client.ask(statusAt('T1'), { type: 'status.delete.v1', body: { target: 'api', byTier: 'T2' } }),
    ).rejects.toBeInstanceOf(TierForbiddenError);
    await expect(
      client.ask(status(), {
        type: 'status.update.v1',
        body: { target: 'api', phase: 'blocked', byTier: 'T2' },
      }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    const one = await client.ask(status(), { type: 'status.query.v1', body: { target: 'api' } });
    expect(one.body).toMatchObject({ targets: [{ target: 'api', phase: 'in-progress' }] });
  });
});

describe('checkpoints', () => {
  it('gathers agents, open work and recent memory over the bus, says which sources were missing, and lists a timeline', async () => {
    const agent = await runActor(agentKind, {
      id: 'cp-agent-1',
      args: { tier: 'T1', redisUrl: redis.url, workDir: join(workRoot, 'cp-agent-1') },
      bus: { servers: nats.url },
      heartbeatMs: 100,
    });
    handles.push(agent);
    await waitFor('agent in the directory', async () => {
      const r = await client.ask(serviceSubject(ACTOR_KIND.agentDirectory), {
        type: 'agent.status.v1',
        body: {},
      });
      return (r.body as { agents: Array<{ agentId: string; state: string }> }).agents.some(
        (a) => a.agentId === 'cp-agent-1' && a.state === 'idle',
      );
    });
    const first = await client.ask(
      cps(),
      { type: 'checkpoint.take.v1', body: { notes: 'first' } },
      { timeoutMs: 10_000 },
    );
    if (first.type !== 'checkpoint.v1') throw new Error(first.type);
    expect(first.body).toMatchObject({ id: 'cp-000001', seq: 1, notes: 'first', version: 1 });
    expect(first.body.agents.map((a) => a.agentId)).toContain('cp-agent-1');
    expect(first.body.work.map((t) => t.target).sort()).toEqual(['api', 'service:billing']);
    expect(first.body.memory.length).toBeGreaterThan(0);
    expect(first.body.sources.agents?.ok).toBe(true);
    expect(first.body.sources.ledger?.ok).toBe(false);
    await client.ask(statusAt('T1'), { type: 'status.update.v1', body: { target: 'api', progress: 80 } });
    await client.ask(cps(), { type: 'checkpoint.take.v1', body: { notes: 'second' } }, { timeoutMs: 10_000 });
    const latest = await client.ask(cps(), { type: 'checkpoint.get.v1', body: {} });
    expect(latest.body).toMatchObject({ id: 'cp-000002', notes: 'second' });
    const timeline = await client.ask(cps(), { type: 'checkpoint.list.v1', body: {} });
    if (timeline.type !== 'checkpoint.timeline.v1') throw new Error(timeline.type);
    expect(timeline.body.checkpoints.map((c) => c.id)).toEqual(['cp-000001', 'cp-000002']);
    expect(timeline.body.checkpoints[1]!.changes).toContain('target api: in-progress 50% → in-progress 80%');
  });

  it('restores an agent quarantine from a checkpoint (T2), taking a checkpoint first, and refuses T1 and unknown ids', async () => {
    await client.ask(actorInbox(ACTOR_KIND.agent, 'cp-agent-1'), {
      type: 'agent.command.v1',
      body: { command: 'quarantine', byTier: 'T2', by: 'test', reason: 'test' },
    });
    await waitFor('agent quarantined in the directory', async () => {
      const r = await client.ask(serviceSubject(ACTOR_KIND.agentDirectory), {
        type: 'agent.status.v1',
        body: { agentId: 'cp-agent-1' },
      });
      const body = r.body as { agents?: Array<{ state: string }>; state?: string };
      return (body.state ?? body.agents?.[0]?.state) === 'quarantined';
    });
    const held = await client.ask(
      cps(),
      { type: 'checkpoint.take.v1', body: { notes: 'quarantined' } },
      { timeoutMs: 10_000 },
    );
    await client.ask(actorInbox(ACTOR_KIND.agent, 'cp-agent-1'), {
      type: 'agent.command.v1',
      body: { command: 'release', byTier: 'T2', by: 'test' },
    });
    await waitFor('agent released', async () => {
      const r = await client.ask(serviceSubject(ACTOR_KIND.agentDirectory), {
        type: 'agent.status.v1',
        body: { agentId: 'cp-agent-1' },
      });
      const body = r.body as { agents?: Array<{ state: string }>; state?: string };
      return (body.state ?? body.agents?.[0]?.state) !== 'quarantined';
    });
    const id = (held.body as { id: string }).id;
    await expect(
      client.ask(cpsAt('T1'), { type: 'checkpoint.restore.v1', body: { id, byTier: 'T2', by: 'ops' } }),
    ).rejects.toBeInstanceOf(TierForbiddenError);
    await expect(
      client.ask(cps(), { type: 'checkpoint.restore.v1', body: { id, byTier: 'T2', by: 'ops' } }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    await expect(
      client.ask(cps(), { type: 'checkpoint.get.v1', body: { id: 'cp-999999' } }),
    ).rejects.toBeInstanceOf(CheckpointNotFoundError);
    const restored = await client.ask(
      cpsAt('T2'),
      { type: 'checkpoint.restore.v1', body: { id, by: 'someone-else' } },
      { timeoutMs: 15_000 },
    );
    if (restored.type !== 'checkpoint.restored.v1') throw new Error(restored.type);
    expect(restored.body.before).toMatch(/^cp-/);
    expect(restored.body.actions).toContainEqual(
      expect.objectContaining({ kind: 'agent-quarantine', target: 'cp-agent-1', outcome: 'applied' }),
    );
    await waitFor('agent quarantined again', async () => {
      const r = await client.ask(serviceSubject(ACTOR_KIND.agentDirectory), {
        type: 'agent.status.v1',
        body: { agentId: 'cp-agent-1' },
      });
      const body = r.body as { agents?: Array<{ state: string }>; state?: string };
      return (body.state ?? body.agents?.[0]?.state) === 'quarantined';
    });
    // The restore is on the audit trail once, through the outbox kept in its restore record.
    const log = await RestoreLog.open(client);
    const rec = (await log.all()).find((r) => r.id === restored.body.before);
    expect(rec?.auditIds).toHaveLength(1);
    // The restorer is the principal the broker vouched for, not the body's `by`.
    expect(rec?.by).toBe(client.principal());
    await waitFor('the restore record outbox emptied once acknowledged', async () =>
      (await log.all()).some((r) => r.id === restored.body.before && r.outbox.length === 0),
    );
    expect((await auditStreamCounts(client)).get(rec!.auditIds[0]!)?.count).toBe(1);
  });

  it('publishes at restart, once, a restore event whose record was stored but whose publish a SIGKILL cut off', async () => {
    const checkpoint = handles.find((h) => h.id === 'checkpoint-1')!;
    await checkpoint.kill();
    // What a SIGKILL between the restore record's put and the publish leaves: the event in the record only.
    const log = await RestoreLog.open(client);
    const cut = client.wrap({
      type: 'checkpoint.event.v1',
      body: { checkpointId: 'cp-000001', event: 'restored', by: 'ops', actions: 1 },
    });
    await log.record({
      id: 'cp-cut',
      checkpointId: 'cp-000001',
      by: 'ops',
      at: Date.now(),
      actions: 1,
      auditIds: [cut.id],
      outbox: [{ category: 'context', env: cut }],
    });
    expect((await auditStreamCounts(client)).has(cut.id)).toBe(false);
    handles.push(
      await runActor(checkpointKind, {
        id: 'checkpoint-1',
        bus: { servers: nats.url },
        args: { everyMs: 0, sourceTimeoutMs: 5_000, keep: 5 },
      }),
    );
    await waitFor('the cut-off restore event republished and the record emptied', async () =>
      (await log.all()).some((r) => r.id === 'cp-cut' && r.outbox.length === 0),
    );
    const counts = await auditStreamCounts(client);
    const implied = (await log.all()).flatMap((r) => r.auditIds);
    expect(implied).toContain(cut.id);
    expect(implied.filter((id) => counts.get(id)?.count !== 1)).toEqual([]);
  });
});
