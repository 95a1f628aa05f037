/**
 * The credential authority actor (issue #11 item 4): it mints credentials for public keys it is sent,
 * revokes an agent's credential as soon as a suspend command is sent to the agent (its connection is
 * dropped and the credential refused from then on), reissues on promotion (the agent makes a new key,
 * gets a JWT of the new tier, reconnects; the old credential is refused) and renews credentials before
 * they expire (the holder keeps working past its first JWT's expiry).
 */
import { join } from 'node:path';
import { createUser } from '@nats-io/jwt';
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKind } from '../../actors/agent/agent.ts';
import { credentialAuthorityKind } from '../../actors/credentials/index.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import { Bus, ensureStreams } from '../../bus/index.ts';
import type { BusCredentials } from '../../bus/bus-options.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { RedisServer } from '../../infra/redis-server.ts';
import { ACTOR_KIND, actorInbox, serviceSubject } from '../../protocols/index.ts';
import type { Tier } from '../../protocols/vocabulary/tiers.ts';
import { CLOCK_SLACK_MS, collect, credsFor, TestServers, testBus } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let redis: RedisServer;
let client: Bus;
let supervisorBus: Bus;
const handles: ActorHandle[] = [];

beforeAll(async () => {
  [nats, redis] = await Promise.all([servers.nats(), servers.redis()]);
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
  await ensureStreams(client);
  // Asks as a supervisor would: the only non-admin kind besides the client allowed to.
  supervisorBus = await Bus.connect({
    servers: nats.url,
    name: 'sup-ca',
    credentials: await credsFor(nats, { role: 'actor', kind: 'supervisor', id: 'sup-ca' }),
  });
  servers.onStop(() => supervisorBus.close());
  servers.onStop(async () => {
    for (const h of handles.reverse()) await h.stop('test over').catch(() => undefined);
  });
  handles.push(
    await runActor(credentialAuthorityKind, {
      id: 'ca-1',
      // Its own credential: the permission table's grants for the kind are what it runs with.
      bus: {
        servers: nats.url,
        credentials: await credsFor(nats, { role: 'actor', kind: 'credential-authority', id: 'ca-1' }),
      },
      args: { ttlMs: 6_000, renewBeforeMs: 4_000, renewCheckMs: 250 },
    }),
  );
}, 60_000);
afterAll(() => servers.stopAll());

/** A credential from the authority for a key made here, as a supervisor gets one for its child. */
async function mintFromAuthority(agentId: string, tier: Tier): Promise<BusCredentials & { kind: 'jwt' }> {
  const kp = createUser();
  const reply = await supervisorBus.ask(serviceSubject(ACTOR_KIND.credentialAuthority), {
    type: 'credentials.mint.v1',
    body: { principal: { role: 'agent', id: agentId, tier }, publicKey: kp.getPublicKey() },
  });
  if (reply.type !== 'credentials.minted.v1') throw new Error(reply.type);
  return { kind: 'jwt', jwt: reply.body.jwt, seed: new TextDecoder().decode(kp.getSeed()) };
}

function rawWith(
  c: { jwt: string; seed: string },
  agentId: string,
  reconnect = true,
): Promise<NatsConnection> {
  return connect({
    servers: nats.url,
    authenticator: jwtAuthenticator(c.jwt, new TextEncoder().encode(c.seed)),
    inboxPrefix: `_INBOX.agent-${agentId}`,
    reconnect,
  });
}

async function startAgent(id: string, tier: Tier, credentials: BusCredentials): Promise<ActorHandle> {
  const h = await runActor(agentKind, {
    id,
    args: { tier, redisUrl: redis.url, workDir: join(servers.tempDir('agov-ca-'), id) },
    bus: { servers: nats.url, credentials },
    heartbeatMs: 100,
  });
  handles.push(h);
  return h;
}

describe('credential authority', () => {
  it('refuses an agent credential the moment a suspend command is sent to the agent: connection dropped, reconnect refused', async () => {
    const creds = await mintFromAuthority('victim-1', 'T1');
    const nc = await rawWith(creds, 'victim-1', false);
    const closed = nc.closed();
    const feed = collect(client, 'gov.obs.credentials.revoked');
    await feed.ready();
    const t0 = performance.now();
    client.tell(actorInbox(ACTOR_KIND.agent, 'victim-1'), {
      type: 'agent.command.v1',
      body: { command: 'suspend', by: 'test', reason: 'compromised' },
    });
    await closed;
    const tookMs = performance.now() - t0;
    const revoked = await feed.next(
      (e) => e.type === 'credentials.event.v1' && e.body.name === 'agent-victim-1',
    );
    expect(revoked.body).toMatchObject({ event: 'revoked', reason: 'suspend by test' });
    expect(tookMs).toBeLessThan(100 + CLOCK_SLACK_MS);
    await expect(rawWith(creds, 'victim-1', false)).rejects.toThrow(/authoriz/i);
    feed.close();
  });

  it('reissues a credential of the new tier on promotion: the agent reconnects with a new key, registers at T1, and its old credential is refused', async () => {
    const old = await mintFromAuthority('climber-1', 'T0');
    const regs = collect(client, 'gov.agents.register.T1.climber-1');
    const feed = collect(client, 'gov.obs.credentials.>');
    await Promise.all([regs.ready(), feed.ready()]);
    await startAgent('climber-1', 'T0', old);
    // Before the promotion the old credential works (a second connection with it is accepted).
    await (await rawWith(old, 'climber-1', false)).close();
    const reply = await client.ask(actorInbox(ACTOR_KIND.agent, 'climber-1'), {
      type: 'agent.command.v1',
      body: { command: 'promote', by: 'test', reason: 'earned it' },
    });
    expect(reply.type).not.toBe('error.v1');
    const reissued = await feed.next((e) => e.type === 'credentials.event.v1' && e.body.event === 'reissued');
    expect(reissued.body).toMatchObject({ name: 'agent-climber-1', tier: 'T1' });
    const revoked = await feed.next((e) => e.type === 'credentials.event.v1' && e.body.event === 'revoked');
    expect((revoked.body as { reason?: string }).reason).toContain('reissued at T1');
    // The agent, with its new key, may now publish what only T1 may: its T1 registration.
    await regs.next(() => true);
    await expect(rawWith(old, 'climber-1', false)).rejects.toThrow(/authoriz/i);
    regs.close();
    feed.close();
  });

  it('renews a credential before it expires, so its holder keeps working past the first JWT expiry', async () => {
    const creds = await mintFromAuthority('steady-1', 'T0');
    const firstExpiry = JSON.parse(Buffer.from(creds.jwt.split('.')[1]!, 'base64url').toString()).exp * 1000;
    const feed = collect(client, 'gov.obs.credentials.renewed');
    const beats = collect(client, 'gov.sys.hb.agent.steady-1');
    await Promise.all([feed.ready(), beats.ready()]);
    await startAgent('steady-1', 'T0', creds);
    await feed.next((e) => e.type === 'credentials.event.v1' && e.body.name === 'agent-steady-1');
    // A heartbeat sent well after the first JWT expired: the server accepted the renewed one.
    await beats.next(
      (e) => e.type === 'actor.heartbeat.v1' && e.ts > firstExpiry + 1_000,
      firstExpiry - Date.now() + 10_000 + CLOCK_SLACK_MS,
    );
    feed.close();
    beats.close();
  }, 60_000);
});
