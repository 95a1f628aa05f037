/**
 * In-host actors on their host's shared connection (issue 17 item 3): a team's in-host agents hold one
 * NATS connection per tier and one Redis connection between them; a kill of one of them is still a
 * kill of that one only; and the host's credential speaks for its members and for no other agent.
 */
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseHostRedis } from '../../actors/runtime/host-redis.ts';
import {
  type ActorContext,
  type ActorHandle,
  defineActorKind,
  NO_START_ARGS,
  runActor,
} from '../../actors/runtime/index.ts';
import { type Bus, SharedConnection } from '../../bus/index.ts';
import { mintUser } from '../../infra/nats-auth/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { RedisServer } from '../../infra/redis-server.ts';
import { NoRespondersError } from '../../protocols/vocabulary/errors.ts';
import type { MemberPrincipal, Principal } from '../../protocols/permissions.ts';
import { actorInbox, obsSubject } from '../../protocols/subjects.ts';
import { collect, TestServers, testBus, waitFor } from '../harness/index.ts';
import { startSupervisor } from '../harness/supervision.ts';

const servers = new TestServers();
let nats: NatsServer;
let redis: RedisServer;
let client: Bus;

beforeAll(async () => {
  [nats, redis] = await Promise.all([servers.nats(), servers.redis()]);
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
});
afterAll(() => servers.stopAll());

/** The server's connections, by name (its monitoring endpoint). */
async function connectionNames(): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${nats.monitorPort}/connz?limit=10000`);
  const body = (await res.json()) as { connections?: Array<{ name?: string }> };
  return (body.connections ?? []).map((c) => c.name ?? '');
}

async function redisClients(): Promise<number> {
  const r = new Redis(redis.url);
  try {
    return (
      String(await r.client('LIST'))
        .split('\n')
        .filter(Boolean).length - 1
    ); // this one
  } finally {
    r.disconnect();
  }
}

const agents = (n: number, tier: 'T0' | 'T1') =>
  Array.from({ length: n }, (_, i) => ({
    id: `${tier.toLowerCase()}-${i}`,
    start: {
      kind: 'actor' as const,
      actorKind: 'agent',
      actorId: `share-${tier.toLowerCase()}-${i}`,
      args: {
        tier,
        redisUrl: redis.url,
        workDir: join(servers.tempDir('agov-share-work-'), String(i)),
        requireCredentials: false,
      },
    },
    shutdownMs: 5_000,
  }));

async function hostConnection(members: MemberPrincipal[], name = 'test-host'): Promise<SharedConnection> {
  const u = await mintUser(nats.auth, { role: 'host', name, members });
  const shared = await SharedConnection.open({
    servers: nats.url,
    name: `host-${name}`,
    credentials: { kind: 'jwt', jwt: u.jwt, seed: u.seed },
  });
  servers.onStop(() => shared.close());
  return shared;
}

/** An agent-kind actor that shows what of it still runs after a kill (its context, kept). */
function probeKind(seen: Map<string, ActorContext>) {
  return defineActorKind({
    kind: 'agent',
    description: 'a test agent that keeps its context',
    args: NO_START_ARGS,
    start(ctx) {
      seen.set(ctx.id, ctx as ActorContext);
      return { accepts: [], service: false, handle: () => undefined };
    },
  });
}

describe('in-host actors on their host connection', () => {
  it("a team's in-host agents hold one NATS connection per tier and one Redis connection between them", async () => {
    const before = await redisClients();
    const team = await startSupervisor(nats.url, {
      id: 'team-share',
      strategy: 'one_for_one',
      intensity: 10,
      periodMs: 60_000,
      children: [...agents(12, 'T1'), ...agents(3, 'T0')],
    });
    try {
      for (const id of ['share-t1-0', 'share-t1-11', 'share-t0-2']) {
        const pong = await client.ask(actorInbox('agent', id), { type: 'actor.ping.v1', body: {} });
        expect(pong.body).toMatchObject({ actorId: id });
      }
      const names = await connectionNames();
      expect(names.filter((n) => n.startsWith('host-team-share-')).sort()).toEqual([
        'host-team-share-T0-0',
        'host-team-share-T1-0',
      ]);
      // Before: one connection per agent, named by its address.
      expect(names.filter((n) => n.startsWith(actorInbox('agent', 'x').slice(0, -1)))).toEqual([]);
      expect((await redisClients()) - before).toBe(1);
    } finally {
      await team.stop('test over', 30_000);
    }
    expect((await connectionNames()).filter((n) => n.startsWith('host-team-share-'))).toEqual([]);
    expect(await redisClients()).toBe(before);
  }, 60_000);

  it('a kill of one actor on a shared connection is a kill of that one only: its host-mate still answers, it has no responder, and what its code still sends never arrives', async () => {
    const ctxs = new Map<string, ActorContext>();
    const kind = probeKind(ctxs);
    const members: MemberPrincipal[] = ['victim', 'mate'].map((id) => ({ role: 'agent', id, tier: 'T0' }));
    const shared = await hostConnection(members, 'kill-host');
    const start = (id: string): Promise<ActorHandle> =>
      runActor(kind, {
        id,
        bus: { servers: nats.url },
        host: { connection: shared, principal: `agent-${id}` },
      });
    const [victim, mate] = await Promise.all([start('victim'), start('mate')]);
    const victimFeed = collect(client, obsSubject('agent', 'victim'));
    const mateFeed = collect(client, obsSubject('agent', 'mate'));
    await client.flush();
    expect(shared.leases).toBe(2);

    await victim.kill();
    expect(shared.leases).toBe(1);
    // Sent by the dead actor's code first, by its host-mate second, on the same socket.
    ctxs.get('victim')!.bus.tell(obsSubject('agent', 'victim'), { type: 'actor.ping.v1', body: {} });
    ctxs.get('mate')!.bus.tell(obsSubject('agent', 'mate'), { type: 'actor.ping.v1', body: {} });
    await mateFeed.next();
    expect(victimFeed.seen).toEqual([]);
    // Its ask never settles, as in a dead process.
    let settled = false;
    void ctxs
      .get('victim')!
      .bus.ask(actorInbox('agent', 'mate'), { type: 'actor.ping.v1', body: {} })
      .finally(() => {
        settled = true;
      });

    const pong = await client.ask(actorInbox('agent', 'mate'), { type: 'actor.ping.v1', body: {} });
    expect(pong.body).toMatchObject({ actorId: 'mate' });
    await waitFor('the killed actor has no responder', async () => {
      const err = await client
        .ask(actorInbox('agent', 'victim'), { type: 'actor.ping.v1', body: {} }, { timeoutMs: 1_000 })
        .catch((e: unknown) => e);
      return err instanceof NoRespondersError;
    });
    expect(settled).toBe(false);
    expect(shared.isClosed()).toBe(false);
    await mate.stop();
    expect(shared.leases).toBe(0);
  }, 30_000);

  it("a killed actor's lease of the host's Redis client sends nothing more, and its host-mate's commands go on", async () => {
    const victim = leaseHostRedis(redis.url, { lazyConnect: true });
    const mate = leaseHostRedis(redis.url, { lazyConnect: true });
    await Promise.all([victim.redis.connect(), mate.redis.connect()]);
    victim.kill();
    let settled = false;
    void victim.redis
      .set('share:victim', 'written after death')
      .catch(() => undefined)
      .finally(() => {
        settled = true;
      });
    expect(await mate.redis.set('share:mate', 'ok')).toBe('OK');
    expect(await mate.redis.get('share:victim')).toBeNull();
    expect(settled).toBe(false);
    await mate.redis.quit();
  });

  it("a host's credential speaks for its members only: another agent's subjects, a higher tier and others' inboxes are refused by the broker", async () => {
    const members: MemberPrincipal[] = [
      { role: 'agent', id: 'h1', tier: 'T1' },
      { role: 'agent', id: 'h2', tier: 'T1' },
    ];
    const host: Principal = { role: 'host', name: 'attacker-host', members };
    const u = await mintUser(nats.auth, host);
    const nc: NatsConnection = await connect({
      servers: nats.url,
      authenticator: credsAuthenticator(new TextEncoder().encode(u.creds)),
      inboxPrefix: u.inboxPrefix,
    });
    servers.onStop(() => nc.close());
    const violations: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error') violations.push(String(s.error));
    })();
    const forbidden = [
      'gov.sys.hb.agent.h3',
      'gov.results.noop.h3',
      'gov.audit.agent.agent-h3',
      'gov.agents.register.T2.h1',
      'gov.ctl.T2.agent-h1',
      'gov.actor.agent.h3',
      'gov.svc.orchestrator',
    ];
    const reached: string[] = [];
    const sub = client.subscribeRaw('gov.>', (m) => reached.push(m.subject));
    await client.flush();
    for (const s of forbidden) nc.publish(s, new TextEncoder().encode('{}'));
    nc.subscribe('gov.actor.agent.h3');
    nc.subscribe('_INBOX.agent-h3.>');
    await waitFor('every forbidden act refused', async () => violations.length >= forbidden.length + 2);
    for (const s of forbidden) expect(violations.join('\n')).toContain(`Publish to "${s}"`);
    expect(violations.join('\n')).toContain('Subscription to "gov.actor.agent.h3"');
    expect(violations.join('\n')).toContain('Subscription to "_INBOX.agent-h3.>"');
    // Its members' own subjects pass, and nothing forbidden reached a subscriber before them.
    nc.publish('gov.sys.hb.agent.h1', new TextEncoder().encode('{}'));
    await waitFor('a member heartbeat delivered', async () => reached.includes('gov.sys.hb.agent.h1'));
    sub.unsubscribe();
    expect(reached.filter((s) => forbidden.includes(s))).toEqual([]);
  }, 30_000);
});
