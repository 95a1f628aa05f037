import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKind } from '../../actors/agent/agent.ts';
import { LifecycleStore } from '../../actors/agent/lifecycle-store.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import type { Bus } from '../../bus/index.ts';
import { ensureStreams } from '../../bus/streams.ts';
import { actorInbox } from '../../protocols/index.ts';
import { auditStreamCounts, TestServers, testBus, waitFor } from '../harness/index.ts';

/**
 * The agent's transactional outbox, as a SIGKILL leaves it: its audit events are stored in its
 * lifecycle record with the state that implies them, so an event whose write landed but whose publish
 * never did is published when the agent starts again, under its id, once.
 */
const servers = new TestServers();
let client: Bus;
let natsUrl: string;
let redisUrl: string;
let workRoot: string;
let redis: Redis;

beforeAll(async () => {
  const [nats, r] = await Promise.all([servers.nats(), servers.redis()]);
  natsUrl = nats.url;
  redisUrl = r.url;
  client = await testBus(nats.url);
  await ensureStreams(client);
  workRoot = servers.tempDir('agov-agent-outbox-');
  redis = new Redis(redisUrl);
  servers.onStop(async () => {
    redis.disconnect();
    await client.close();
  });
});
afterAll(() => servers.stopAll());

const start = (id: string): Promise<ActorHandle> =>
  runActor(agentKind, {
    id,
    args: { tier: 'T1', redisUrl, workDir: join(workRoot, id), requireCredentials: false },
    bus: { servers: natsUrl },
    heartbeatMs: 200,
  });

const idle = (id: string) =>
  waitFor(`${id} idle`, async () => {
    const r = await client.ask(
      actorInbox('agent', id),
      { type: 'agent.status.v1', body: {} },
      { timeoutMs: 2_000 },
    );
    return r.type === 'agent.state.v1' && r.body.state === 'idle';
  });

describe('the agent outbox under SIGKILL', () => {
  it('publishes at restart, once, an audit event whose lifecycle write landed but whose publish a SIGKILL cut off, and every event its record implies is in the audit stream once', async () => {
    const store = new LifecycleStore(redis);
    const first = await start('ag-ob');
    await idle('ag-ob');
    // Premise: the live path lists its transitions' events in the record, and they reached the stream.
    await waitFor('bootstrap transitions audited', async () => {
      const ids = (await store.load('ag-ob'))?.auditIds ?? [];
      const counts = await auditStreamCounts(client);
      return ids.length >= 2 && ids.every((id) => counts.get(id)?.count === 1);
    });
    await first.kill();

    // What a SIGKILL between the record's write and the publish leaves: the event in the record only.
    const rec = (await store.load('ag-ob'))!;
    const cut = client.wrap({
      type: 'agent.transition.v1',
      body: { agentId: 'ag-ob', from: 'idle', to: 'suspended', event: 'SUSPEND', tier: 'T1', restarts: 0 },
    });
    expect((await auditStreamCounts(client)).has(cut.id)).toBe(false);
    await store.save({
      ...rec,
      outbox: [...(rec.outbox ?? []), { category: 'agent', env: cut }],
      auditIds: [...(rec.auditIds ?? []), cut.id],
    });

    const second = await start('ag-ob');
    servers.onStop(async () => {
      await second.stop();
    });
    await waitFor('the cut-off event republished', async () => (await auditStreamCounts(client)).has(cut.id));
    await idle('ag-ob');
    // The restart's own RESTORE transition is audited through the outbox too.
    await waitFor('the restart audited', async () => {
      const ids = (await store.load('ag-ob'))?.auditIds ?? [];
      const counts = await auditStreamCounts(client);
      return ids.length > (rec.auditIds?.length ?? 0) + 1 && ids.every((id) => counts.has(id));
    });
    const counts = await auditStreamCounts(client);
    const implied = (await store.load('ag-ob'))?.auditIds ?? [];
    expect(implied).toContain(cut.id);
    expect(implied.filter((id) => counts.get(id)?.count !== 1)).toEqual([]);
  });
});
