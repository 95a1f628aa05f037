/**
 * Dead letters on the JSON feed: a JSON-only observer (plain nats.js, JSON.parse) reads every dead
 * letter on `gov.obs.dlq.<code>` — summarised, never the bytes, so a secret never reaches the feed.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoKind } from '../../actors/echo.ts';
import { ActorHost, ActorRegistry } from '../../actors/runtime/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { actorInbox } from '../../protocols/index.ts';
import { rawConnect, TestServers } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let observer: NatsConnection;
let sender: NatsConnection;
let host: ActorHost;
const feed: Array<{ subject: string; raw: string; env: { type: string; body: Record<string, unknown> } }> =
  [];

beforeAll(async () => {
  nats = await servers.nats();
  host = new ActorHost({ registry: new ActorRegistry().register(echoKind), bus: { servers: nats.url } });
  servers.onStop(() => host.stopAll());
  // A JSON-only observer with an observer's own credential; a sender allowed to reach actor inboxes.
  observer = await rawConnect(nats, { role: 'observer', name: 'dlq-observer' });
  servers.onStop(() => observer.close());
  sender = await rawConnect(nats);
  servers.onStop(() => sender.close());
  observer.subscribe('gov.obs.dlq.>', {
    callback: (_e, m) => {
      const raw = new TextDecoder().decode(m.data);
      feed.push({ subject: m.subject, raw, env: JSON.parse(raw) });
    },
  });
  await observer.flush();
  await host.spawn('echo', 'dlq-feed-1');
});
afterAll(() => servers.stopAll());

async function next(pred: (e: (typeof feed)[number]) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const hit = feed.find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no such dead letter on the feed: ${JSON.stringify(feed)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('dead letters on the JSON feed', () => {
  it('publishes an undecodable message’s dead letter as JSON on gov.obs.dlq.<code>, without its bytes', async () => {
    sender.publish(actorInbox('echo', 'dlq-feed-1'), new Uint8Array([0xc1, 0xff, 0x00]));
    const dl = await next((e) => e.subject === 'gov.obs.dlq.GOV_ERR_DECODE');
    expect(dl.env).toMatchObject({
      type: 'dead-letter.v1',
      body: {
        subject: 'gov.actor.echo.dlq-feed-1',
        reason: { code: 'GOV_ERR_DECODE' },
        size: 3,
        payload: '',
        truncated: true,
        summary: { format: 'msgpack' },
      },
    });
  });

  it('summarises a refused message by type, id and sender, and never carries a secret (credentials) to the feed', async () => {
    const secret = 'hvs.SECRET-token-never-on-the-feed';
    // A credentials message to an actor that does not handle it: refused and dead-lettered.
    sender.publish(
      actorInbox('echo', 'dlq-feed-1'),
      pack({
        sv: 1,
        type: 'agent.credentials.v1',
        id: 'cred-1',
        ts: Date.now(),
        from: 'gov.actor.token-authority.t1',
        body: { runId: 'r-1', token: secret, accessor: 'acc', expiresAt: Date.now() + 1000 },
      }),
    );
    const dl = await next(
      (e) => e.env.body.summary !== undefined && (e.env.body.summary as { id?: string }).id === 'cred-1',
    );
    expect(dl.env.body.summary).toEqual({
      format: 'msgpack',
      type: 'agent.credentials.v1',
      id: 'cred-1',
      from: 'gov.actor.token-authority.t1',
    });
    expect(dl.raw).not.toContain(secret);
    expect(dl.env.body.payload).toBe('');
  });
});
