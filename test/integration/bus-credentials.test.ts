import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { echoKind } from '../../actors/echo.ts';
import { runActor } from '../../actors/runtime/actor.ts';
import { Bus } from '../../bus/bus.ts';
import { createNatsAuthority, mintUser } from '../../infra/nats-auth/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { UnauthenticatedError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox } from '../../protocols/subjects.ts';
import { credsFor, observerCreds, TestServers } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;

beforeAll(async () => {
  nats = await servers.nats();
});
afterAll(() => servers.stopAll());

describe('per-actor credentials (operator mode)', () => {
  it('an actor connects with its own minted user and serves asks from a client credential', async () => {
    const echo = await runActor(echoKind, {
      id: 'cred-echo',
      bus: {
        servers: nats.url,
        credentials: await credsFor(nats, { role: 'actor', kind: 'echo', id: 'cred-echo' }),
      },
    });
    const client = await Bus.connect({
      servers: nats.url,
      name: 'client',
      credentials: await credsFor(nats, { role: 'client', name: 'cli' }),
    });
    const r = await client.ask(actorInbox('echo', 'cred-echo'), {
      type: 'demo.echo.v1',
      body: { text: 'authenticated' },
    });
    expect(r.type).toBe('demo.echoed.v1');
    await client.close();
    await echo.stop();
  });

  it('refuses an anonymous connection: the server has no anonymous user', async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(
      /Authorization Violation/i,
    );
    await expect(
      Bus.connect({ servers: nats.url, name: 'anonymous', credentials: { kind: 'none' } }),
    ).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('refuses a user signed by another operator instead of retrying forever', async () => {
    const foreign = await mintUser(await createNatsAuthority(), { role: 'admin', name: 'forger' });
    await expect(
      Bus.connect({
        servers: nats.url,
        name: 'intruder',
        credentials: { kind: 'jwt', jwt: foreign.jwt, seed: foreign.seed },
      }),
    ).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('lets the broker enforce what an observer may publish: an observer cannot tell an actor anything', async () => {
    const observer = await Bus.connect({
      servers: nats.url,
      name: 'observer',
      credentials: await observerCreds(nats),
    });
    const errors: string[] = [];
    observer.onConnectionError((e) => errors.push(e));
    observer.tell(actorInbox('echo', 'anyone'), { type: 'demo.echo.v1', body: { text: 'not allowed' } });
    await observer.flush().catch(() => {});
    await expect
      .poll(() => errors.join(' '), { timeout: 10_000 })
      .toMatch(/Permissions Violation for Publish/i);
    await observer.close();
  });
});
