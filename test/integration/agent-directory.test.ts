import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { agentKind } from '../../actors/agent/agent.ts';
import { agentDirectoryKind } from '../../actors/agent-directory.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import type { Bus } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { RedisServer } from '../../infra/redis-server.ts';
import { commandAgents } from '../../cli/command-agents.ts';
import { actorInbox, type BodyIn, heartbeatSubject, serviceSubject } from '../../protocols/index.ts';
import { collect, TestServers, testBus, waitFor } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let redis: RedisServer;
let client: Bus;
let workRoot: string;
const handles: ActorHandle[] = [];

beforeAll(async () => {
  [nats, redis] = await Promise.all([servers.nats(), servers.redis()]);
  client = await testBus(nats.url);
  workRoot = servers.tempDir('agov-dir-work-');
  servers.onStop(() => client.close());
  servers.onStop(async () => {
    for (const h of handles) await h.stop('test over').catch(() => undefined);
  });
  handles.push(
    await runActor(agentDirectoryKind, { id: 'directory-1', bus: { servers: nats.url }, heartbeatMs: 100 }),
  );
});
afterAll(() => servers.stopAll());

async function startAgent(id: string, team: string, tier = 'T1'): Promise<ActorHandle> {
  const h = await runActor(agentKind, {
    id,
    args: { tier, team, role: 'worker', redisUrl: redis.url, workDir: join(workRoot, id) },
    bus: { servers: nats.url },
    heartbeatMs: 100,
  });
  handles.push(h);
  return h;
}

async function list(body: BodyIn<'agent.status.v1'> = {}) {
  const r = await client.ask(serviceSubject('agent-directory'), { type: 'agent.status.v1', body });
  if (r.type !== 'agent.states.v1') throw new Error(`unexpected ${r.type}`);
  return r.body.agents;
}

describe('agent directory over real servers', () => {
  it('lists every agent with its state, tier and last heartbeat, and filters by team', async () => {
    await Promise.all([
      startAgent('dir-a1', 'red'),
      startAgent('dir-a2', 'red', 'T0'),
      startAgent('dir-b1', 'blue', 'T2'),
    ]);
    const all = await waitFor('three agents listed with heartbeats', async () => {
      const agents = await list();
      return agents.length === 3 && agents.every((a) => a.lastHeartbeatMs !== undefined && a.state === 'idle')
        ? agents
        : undefined;
    });
    expect(all.map((a) => [a.agentId, a.tier, a.team, a.role])).toEqual([
      ['dir-a1', 'T1', 'red', 'worker'],
      ['dir-a2', 'T0', 'red', 'worker'],
      ['dir-b1', 'T2', 'blue', 'worker'],
    ]);
    expect((await list({ team: 'red' })).map((a) => a.agentId)).toEqual(['dir-a1', 'dir-a2']);
    expect((await list({ agentId: 'dir-b1' })).map((a) => a.agentId)).toEqual(['dir-b1']);
    expect(await list({ agentId: 'nobody' })).toEqual([]);
  });

  it('follows lifecycle transitions from the feed: a demotion at once, a promotion only up to the credential’s tier', async () => {
    await startAgent('dir-c1', 'green');
    await waitFor('dir-c1 listed', async () => (await list({ agentId: 'dir-c1' }))[0]?.tier === 'T1');
    await client.ask(actorInbox('agent', 'dir-c1'), {
      type: 'agent.command.v1',
      body: { command: 'demote', by: 'alice' },
    });
    await waitFor('demotion seen', async () => (await list({ agentId: 'dir-c1' }))[0]?.tier === 'T0');
    // Its credential is T1's (its registrations' subject): promoted in its lifecycle to T2, it states
    // T2 in its transitions and heartbeats, and is believed T1, never more.
    const promote = () =>
      client.ask(actorInbox('agent', 'dir-c1'), {
        type: 'agent.command.v1',
        body: { command: 'promote', by: 'alice' },
      });
    await promote();
    await promote();
    const self = await client.ask(actorInbox('agent', 'dir-c1'), { type: 'agent.status.v1', body: {} });
    expect(self.body).toMatchObject({ tier: 'T2' });
    await waitFor(
      'promotion seen up to T1',
      async () => (await list({ agentId: 'dir-c1' }))[0]?.tier === 'T1',
    );
    const heartbeats = collect(client, heartbeatSubject('agent', 'dir-c1'));
    await heartbeats.ready();
    await heartbeats.next((e) => (e.body as { status?: { tier?: string } }).status?.tier === 'T2');
    expect((await list({ agentId: 'dir-c1' }))[0]?.tier).toBe('T1');
    heartbeats.close();
  });

  it('marks an agent whose heartbeats stopped as unreachable', async () => {
    const h = await startAgent('dir-gone', 'grey');
    await waitFor('dir-gone listed', async () => (await list({ agentId: 'dir-gone' }))[0]?.state === 'idle');
    await h.kill();
    await waitFor(
      'dir-gone unreachable',
      async () => (await list({ agentId: 'dir-gone' }))[0]?.state === 'unreachable',
      5_000,
    );
  });

  it('agov agents prints the directory as JSON, filtered by team', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      expect(await commandAgents(['--json', '--team', 'red', '--nats', nats.url])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const agents = JSON.parse(out.join('')) as Array<{ agentId: string; lastHeartbeatAgeMs: number }>;
    expect(agents.map((a) => a.agentId)).toEqual(['dir-a1', 'dir-a2']);
    for (const a of agents) expect(a.lastHeartbeatAgeMs).toBeLessThan(5_000);
  });
});
