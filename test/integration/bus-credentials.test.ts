import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoKind } from '../../actors/echo.ts';
import { runActor } from '../../actors/runtime/actor.ts';
import { Bus } from '../../bus/bus.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { UnauthenticatedError } from '../../protocols/errors.ts';
import { actorInbox } from '../../protocols/subjects.ts';
import { TestServers } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;

// A broker that knows each actor by its own user, and limits what an observer-tier user may publish.
const AUTH = `
authorization {
  users = [
    { user: "svc-echo", password: "echo-secret" }
    { user: "client", password: "client-secret" }
    { user: "observer", password: "observer-secret", permissions: { publish: { deny: ["gov.actor.>"] }, subscribe: { allow: ["gov.obs.>", "_INBOX.>"] } } }
  ]
}
`;

beforeAll(async () => {
  nats = await servers.nats(AUTH);
});
afterAll(() => servers.stopAll());

describe('per-actor credentials', () => {
  it('an actor connects with its own user and password and serves asks from another authenticated client', async () => {
    const echo = await runActor(echoKind, {
      id: 'cred-echo',
      bus: {
        servers: nats.url,
        credentials: { kind: 'user-password', user: 'svc-echo', pass: 'echo-secret' },
      },
    });
    const client = await Bus.connect({
      servers: nats.url,
      name: 'client',
      credentials: { kind: 'user-password', user: 'client', pass: 'client-secret' },
    });
    const r = await client.ask(actorInbox('echo', 'cred-echo'), {
      type: 'demo.echo.v1',
      body: { text: 'authenticated' },
    });
    expect(r.type).toBe('demo.echoed.v1');
    await client.close();
    await echo.stop();
  });

  it('refuses a connection with a wrong password instead of retrying forever', async () => {
    await expect(
      Bus.connect({
        servers: nats.url,
        name: 'intruder',
        credentials: { kind: 'user-password', user: 'client', pass: 'wrong' },
      }),
    ).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('lets the broker enforce what a tier may publish: an observer cannot tell an actor anything', async () => {
    const observer = await Bus.connect({
      servers: nats.url,
      name: 'observer',
      credentials: { kind: 'user-password', user: 'observer', pass: 'observer-secret' },
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
