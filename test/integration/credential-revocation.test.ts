/**
 * Revoking a NATS credential on a running server (infra/nats-auth/revocation.ts): the claim update over
 * `$SYS` drops the revoked user's connection at once and refuses it ever after, across a restart of
 * the server from the saved revocations, while everyone else stays connected; revocations of expired
 * users are pruned from what the server is sent.
 */
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ClaimsPusher,
  loadOrCreateNatsAuthority,
  type MintedUser,
  mintUser,
  type NatsAuthority,
} from '../../infra/nats-auth/index.ts';
import { startNatsServer } from '../../infra/nats-server.ts';
import { TestServers } from '../harness/index.ts';

const servers = new TestServers();
afterAll(() => servers.stopAll());

const connectAs = (url: string, u: MintedUser): Promise<NatsConnection> =>
  connect({
    servers: url,
    authenticator: jwtAuthenticator(u.jwt, new TextEncoder().encode(u.seed)),
    inboxPrefix: u.inboxPrefix,
    reconnect: false,
  });

async function serverWith(dir: string, auth: NatsAuthority) {
  const nats = await startNatsServer({ dataDir: dir, auth });
  servers.onStop(() => nats.kill());
  return nats;
}

describe('revoking a credential on a running server', () => {
  it('drops the revoked agent at once, refuses it ever after (a restart too), and leaves the others connected', async () => {
    const keys = servers.tempDir('agov-revoke-keys-');
    const auth = await loadOrCreateNatsAuthority(keys);
    const nats = await serverWith(servers.tempDir('agov-revoke-nats-'), auth);
    const mallory = await mintUser(auth, { role: 'agent', id: 'mallory', tier: 'T1' });
    const bystander = await mintUser(auth, { role: 'agent', id: 'bystander', tier: 'T1' });
    const m = await connectAs(nats.url, mallory);
    const b = await connectAs(nats.url, bystander);
    const dropped = m.closed();

    const pusher = await ClaimsPusher.connect(nats.url, auth);
    await pusher.revoke([{ publicKey: mallory.publicKey, expiresAtMs: mallory.expiresAtMs }]);
    await pusher.close();
    await dropped;
    expect(m.isClosed()).toBe(true);
    await expect(connectAs(nats.url, mallory)).rejects.toThrow(/authorization/i);
    await b.flush();
    expect(b.isClosed()).toBe(false);
    await b.close();

    // The server keeps nothing (memory resolver): the saved revocations are signed in at the next start.
    await nats.stop();
    const again = await serverWith(
      servers.tempDir('agov-revoke-nats2-'),
      await loadOrCreateNatsAuthority(keys),
    );
    await expect(connectAs(again.url, mallory)).rejects.toThrow(/authorization/i);
    const b2 = await connectAs(again.url, bystander);
    await b2.close();
  });

  it('holds a revocation pushed while no client of the account is connected, and does not refuse a credential reissued for the same agent after it (regression: the memory resolver answered "jwt updated" for an account it had not loaded, then forgot it, and the revoked user connected)', async () => {
    const auth = await loadOrCreateNatsAuthority(servers.tempDir('agov-revoke-keys-'));
    const nats = await serverWith(servers.tempDir('agov-revoke-nats-'), auth);
    const old = await mintUser(auth, { role: 'agent', id: 'promoted', tier: 'T1' });
    const pusher = await ClaimsPusher.connect(nats.url, auth);
    await pusher.revoke([old.publicKey]);
    await pusher.close();
    const reissued = await mintUser(auth, { role: 'agent', id: 'promoted', tier: 'T2' });
    const nc = await connectAs(nats.url, reissued);
    await nc.flush();
    await nc.close();
    await expect(connectAs(nats.url, old)).rejects.toThrow(/authorization/i);
  });
});
