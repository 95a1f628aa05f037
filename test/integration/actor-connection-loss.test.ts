/**
 * An actor whose connection is gone for good, or that crashes before it has started, must end as a
 * crash its supervisor sees, never linger as a "running" actor nobody can reach.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { echoKind } from '../../actors/echo.ts';
import { defineActorKind, runActor } from '../../actors/runtime/index.ts';
import type { Bus } from '../../bus/index.ts';
import { ClaimsPusher, mintUser } from '../../infra/nats-auth/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { actorInbox, NoRespondersError } from '../../protocols/index.ts';
import { TestServers, testBus, waitFor } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let client: Bus;

beforeAll(async () => {
  nats = await servers.nats();
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
});
afterAll(() => servers.stopAll());

/** Resolves with `p`, or with 'pending' if it has not settled within `ms`. */
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'pending'> =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

describe('an actor and the end of its connection', () => {
  it('regression: an actor that crashes while it starts fails its start, its behaviour stopped (a supervisor escalating during its init came back as a running actor on a closed connection, heartbeating into BusClosedError for ever)', async () => {
    let stopped = 0;
    const kind = defineActorKind({
      kind: 'echo',
      args: z.object({}),
      description: 'crashes before its start returns, as a supervisor whose init escalates does',
      start(ctx) {
        ctx.crash(new Error('escalated during init'));
        return {
          accepts: [],
          stop: () => {
            stopped++;
          },
          handle: async () => undefined,
        };
      },
    });
    await expect(runActor(kind, { id: 'crash-in-start', bus: { servers: nats.url } })).rejects.toThrow(
      /escalated during init/,
    );
    expect(stopped).toBe(1);
    await expect(
      client.ask(actorInbox('echo', 'crash-in-start'), { type: 'actor.ping.v1', body: {} }),
    ).rejects.toBeInstanceOf(NoRespondersError);
  });

  it('an actor whose connection the server closes for good (its credential revoked) crashes with GOV_ERR_BUS_CLOSED, so its supervisor can replace it', async () => {
    const user = await mintUser(nats.auth, { role: 'actor', kind: 'echo', id: 'revoked-1' });
    const actor = await runActor(echoKind, {
      id: 'revoked-1',
      bus: { servers: nats.url, credentials: { kind: 'jwt', jwt: user.jwt, seed: user.seed } },
    });
    const pong = await client.ask(actor.address, { type: 'actor.ping.v1', body: {} });
    expect(pong.type).toBe('actor.pong.v1'); // premise: it was reachable
    const pusher = await ClaimsPusher.connect(nats.url, nats.auth);
    servers.onStop(() => pusher.close());
    await pusher.revoke([{ publicKey: user.publicKey, expiresAtMs: user.expiresAtMs }]);
    // nats.js gives up after two refusals in a row; the actor must not outlive its connection.
    const exit = await within(actor.exited, 30_000);
    expect(exit).not.toBe('pending');
    expect(exit).toMatchObject({ reason: 'crash', error: { code: 'GOV_ERR_BUS_CLOSED' } });
    expect(actor.state).toBe('crashed');
    await waitFor('nobody answering at its address', () =>
      client
        .ask(actor.address, { type: 'actor.ping.v1', body: {} }, { timeoutMs: 1_000 })
        .then(() => false)
        .catch((err: unknown) => err instanceof NoRespondersError),
    );
  });
});
