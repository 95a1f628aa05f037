import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { counterKind } from '../../actors/counter.ts';
import { echoKind } from '../../actors/echo.ts';
import {
  type ActorContext,
  ActorHost,
  ActorRegistry,
  defineActorKind,
  runActor,
} from '../../actors/runtime/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import type { Bus } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import {
  ActorCrashedError,
  actorInbox,
  allDeadLetters,
  exitSubject,
  errorFromHeaders,
  heartbeatSubject,
  InvalidMessageError,
  NoRespondersError,
  TierForbiddenError,
  TimeoutError,
  UnhandledMessageError,
  UnknownSubjectError,
} from '../../protocols/index.ts';
import { collect, rawConnect, TestServers, testBus, waitFor } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
/** A bare connection, for sending what no Bus would (garbage bytes, a request without an envelope). */
let raw: NatsConnection;
let client: Bus;
let host: ActorHost;

beforeAll(async () => {
  nats = await servers.nats();
  raw = await rawConnect(nats);
  servers.onStop(() => raw.close());
  client = await testBus(nats.url);
  host = new ActorHost({
    registry: new ActorRegistry().register(echoKind, counterKind),
    bus: { servers: nats.url },
    heartbeatMs: 200,
  });
  servers.onStop(() => client.close());
  servers.onStop(() => host.stopAll());
});
afterAll(() => servers.stopAll());

describe('actor runtime over a real nats-server', () => {
  it('answers an ask with a typed reply envelope carrying the correlation', async () => {
    await host.spawn('echo', 'ask-1');
    // A second listener on the actor's inbox sees the request envelope, so the correlation can be checked.
    const requests = collect(client, actorInbox('echo', 'ask-1'));
    await requests.ready();
    const req = { type: 'demo.echo.v1', body: { text: 'hello', seq: 7 } } as const;
    const reply = await client.ask(actorInbox('echo', 'ask-1'), req);
    const sent = await requests.next((e) => e.type === 'demo.echo.v1');
    requests.close();
    expect(reply.type).toBe('demo.echoed.v1');
    expect(reply.type === 'demo.echoed.v1' && reply.body).toEqual({
      text: 'hello',
      seq: 7,
      by: 'gov.actor.echo.ask-1',
    });
    expect(reply.from).toBe('gov.actor.echo.ask-1');
    expect(reply.cause).toBe(sent.id);
  });

  it('dead-letters undecodable and invalid messages with their reason, answers the asker with a typed error, and keeps serving', async () => {
    await host.spawn('echo', 'dlq-1');
    const inbox = actorInbox('echo', 'dlq-1');
    const dlq = collect(client, allDeadLetters());
    await dlq.ready();

    const garbage = new Uint8Array([0xc1, 0xff, 0x00]);
    raw.publish(inbox, garbage);
    const dl1 = await dlq.next(
      (e) =>
        e.type === 'dead-letter.v1' && e.body.subject === inbox && e.body.reason.code === 'GOV_ERR_DECODE',
    );
    expect(dl1.type === 'dead-letter.v1' && Buffer.from(dl1.body.payload, 'base64')).toEqual(
      Buffer.from(garbage),
    );

    const invalid = new TextEncoder().encode(
      JSON.stringify({ sv: 1, type: 'demo.echo.v1', id: 'x', ts: 1, from: 'me', body: { text: 3 } }),
    );
    const r = await raw.request(inbox, invalid, { timeout: 5000 });
    expect(() => client.readReply(r)).toThrow(InvalidMessageError);
    await dlq.next((e) => e.type === 'dead-letter.v1' && e.body.reason.code === 'GOV_ERR_INVALID_MESSAGE');

    await expect(client.ask(inbox, { type: 'demo.count.v1', body: { seq: 1 } })).rejects.toBeInstanceOf(
      UnhandledMessageError,
    );

    // regression: an undeliverable agent.credentials.v1 once put the child token in the dead letter.
    client.tell(inbox, {
      type: 'agent.credentials.v1',
      body: { runId: 'r', token: 'secret-token', accessor: 'acc', expiresAt: 1 },
    });
    const dl3 = await dlq.next(
      (e) =>
        e.type === 'dead-letter.v1' &&
        e.body.reason.code === 'GOV_ERR_UNHANDLED_MESSAGE' &&
        e.body.payload === '',
    );
    expect(JSON.stringify(dl3)).not.toContain('secret-token');

    const ok = await client.ask(inbox, { type: 'demo.echo.v1', body: { text: 'still here' } });
    expect(ok.type).toBe('demo.echoed.v1');
    dlq.close();
  });

  it('handles 10,000 messages to one actor in order, one at a time', async () => {
    await host.spawn('counter', 'order-1');
    const inbox = actorInbox('counter', 'order-1');
    for (let seq = 0; seq < 10_000; seq++) client.tell(inbox, { type: 'demo.count.v1', body: { seq } });
    await client.flush();
    let counted: { count: number; inOrder: boolean; maxConcurrent: number } | undefined;
    for (;;) {
      const r = await client.ask(inbox, { type: 'demo.get-count.v1', body: {} });
      if (r.type !== 'demo.counted.v1') throw new Error(`unexpected ${r.type}`);
      counted = r.body;
      if (counted.count >= 10_000) break;
    }
    expect(counted).toEqual({ count: 10_000, inOrder: true, maxConcurrent: 1 });
  });

  it('fails an ask to an address with no actor fast, with the typed no-responders error', async () => {
    const started = Date.now();
    await expect(
      client.ask(
        actorInbox('echo', 'nobody-home'),
        { type: 'actor.ping.v1', body: {} },
        { timeoutMs: 10_000 },
      ),
    ).rejects.toBeInstanceOf(NoRespondersError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('tells a subject outside the protocol (a typo) from an actor that is down', async () => {
    await expect(
      client.ask('gov.actors.echo.typo', { type: 'actor.ping.v1', body: {} }),
    ).rejects.toBeInstanceOf(UnknownSubjectError);
  });

  it('fails an ask to a slow handler with the typed timeout error', async () => {
    await host.spawn('echo', 'slow-1');
    await expect(
      client.ask(
        actorInbox('echo', 'slow-1'),
        { type: 'demo.slow.v1', body: { ms: 1_500 } },
        { timeoutMs: 200 },
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
  });

  it('crashes only the actor whose handler threw; the exit report carries the reason and the host keeps running', async () => {
    const victim = await host.spawn('echo', 'crash-1');
    await host.spawn('echo', 'bystander-1');
    const exits = collect(client, exitSubject('echo', 'crash-1'));
    await exits.ready();

    await expect(
      client.ask(victim.address, { type: 'demo.crash.v1', body: { message: 'kaboom' } }),
    ).rejects.toBeInstanceOf(ActorCrashedError);
    const exit = await exits.next();
    expect(exit.type === 'actor.exit.v1' && exit.body).toMatchObject({
      actorId: 'crash-1',
      reason: 'crash',
      error: { code: 'GOV_ERR_INTERNAL', message: 'kaboom' },
    });
    expect((await victim.exited).reason).toBe('crash');
    await expect(client.ask(victim.address, { type: 'actor.ping.v1', body: {} })).rejects.toBeInstanceOf(
      NoRespondersError,
    );

    const alive = await client.ask(actorInbox('echo', 'bystander-1'), {
      type: 'demo.echo.v1',
      body: { text: 'ok' },
    });
    expect(alive.type).toBe('demo.echoed.v1');
    expect(host.list().map((a) => a.id)).toContain('bystander-1');
    expect(host.list().map((a) => a.id)).not.toContain('crash-1');
  });

  it('answers a typed refusal without crashing: the asker gets the error, a tell is dead-lettered', async () => {
    const a = await host.spawn('echo', 'refuse-1');
    const dlq = collect(client, allDeadLetters());
    await dlq.ready();
    await expect(
      client.ask(a.address, { type: 'demo.echo.v1', body: { text: 'refuse me' } }),
    ).rejects.toBeInstanceOf(TierForbiddenError);
    client.tell(a.address, { type: 'demo.echo.v1', body: { text: 'refuse me' } });
    await dlq.next(
      (e) =>
        e.type === 'dead-letter.v1' &&
        e.body.subject === a.address &&
        e.body.reason.code === 'GOV_ERR_TIER_FORBIDDEN',
    );
    expect(a.state).toBe('running');
    expect((await client.ask(a.address, { type: 'demo.echo.v1', body: { text: 'fine' } })).type).toBe(
      'demo.echoed.v1',
    );
    dlq.close();
  });

  it('publishes heartbeats at its interval and a shutdown exit on graceful stop', async () => {
    const hb = collect(client, heartbeatSubject('echo', 'hb-1'));
    const exits = collect(client, exitSubject('echo', 'hb-1'));
    await hb.ready();
    const a = await runActor(echoKind, { id: 'hb-1', bus: { servers: nats.url }, heartbeatMs: 50 });
    await hb.next((e) => e.type === 'actor.heartbeat.v1' && e.body.seq >= 3);
    await a.stop('test over');
    const exit = await exits.next();
    expect(exit.type === 'actor.exit.v1' && exit.body.reason).toBe('shutdown');
  });

  it('answers every ask exactly once, a refused one too: one error reply and no ack after it', async () => {
    const a = await host.spawn('echo', 'once-1');
    const inbox = createInbox();
    const replies: Msg[] = [];
    const sub = raw.subscribe(inbox, {
      callback: (_err, m) => {
        replies.push(m);
      },
    });
    await raw.flush();
    const ask = (msg: Parameters<Bus['wrap']>[0]) =>
      raw.publish(a.address, client.encode(client.wrap(msg)), { reply: inbox });
    ask({ type: 'demo.echo.v1', body: { text: 'refuse me' } });
    ask({ type: 'demo.echo.v1', body: { text: 'fine' } });
    ask({ type: 'demo.no-such.v1' as 'demo.echo.v1', body: { text: 'unhandled' } });
    // The actor answers in mailbox order on one connection: once the ping's pong is in, any second
    // reply to an earlier ask would have arrived before it.
    ask({ type: 'actor.ping.v1', body: {} });
    await waitFor('the pong', () =>
      replies.some((m) => client.decode(m.data).ok && client.readReply(m).type === 'actor.pong.v1'),
    );
    sub.unsubscribe();
    const kinds = replies.map(
      (m) => errorFromHeaders((n) => m.headers?.get(n) || undefined)?.code ?? client.readReply(m).type,
    );
    expect(kinds).toEqual([
      'GOV_ERR_TIER_FORBIDDEN',
      'demo.echoed.v1',
      'GOV_ERR_INVALID_MESSAGE',
      'actor.pong.v1',
    ]);
    expect(a.state).toBe('running');
  });

  it('kills as SIGKILL would: no stop routine, no exit report, no reply, no timer, and code awaiting the bus never resumes', async () => {
    const clock = new ManualClock(Date.now());
    const seen = { stopped: 0, ticks: 0, dropped: 0, resumed: 0, failed: 0 };
    let actorCtx: ActorContext | undefined;
    const victimKind = defineActorKind({
      kind: 'echo',
      args: z.object({}),
      description: 'a test actor that shows what of it still runs after a kill',
      start(ctx) {
        actorCtx = ctx as ActorContext;
        ctx.hold({ socket: 'open' }, () => seen.dropped++);
        ctx.clock.setInterval(() => seen.ticks++, 1_000);
        return {
          accepts: ['demo.echo.v1'],
          async handle(env) {
            if (env.type !== 'demo.echo.v1') return;
            try {
              await ctx.bus.ask(actorInbox('echo', 'kill-peer'), { type: 'actor.ping.v1', body: {} });
              seen.resumed++;
            } catch {
              seen.failed++;
            }
            return { type: 'demo.echoed.v1', body: { text: env.body.text, by: ctx.address } };
          },
          stop: () => {
            seen.stopped++;
          },
        };
      },
    });
    const held: Msg[] = [];
    const peer = client.subscribeRaw(actorInbox('echo', 'kill-peer'), (m) => held.push(m));
    const exits = collect(client, exitSubject('echo', 'kill-1'));
    await exits.ready();
    const victim = await runActor(victimKind, { id: 'kill-1', bus: { servers: nats.url }, clock });
    clock.advance(1_000);
    expect(seen.ticks).toBe(1); // premise: the timer is live before the kill
    const first = client.ask(
      victim.address,
      { type: 'demo.echo.v1', body: { text: 'one' } },
      { timeoutMs: 1_000 },
    );
    const queued = client.ask(
      victim.address,
      { type: 'demo.echo.v1', body: { text: 'two' } },
      { timeoutMs: 1_000 },
    );
    // Premise: the first handler is mid-await on the bus (its ask reached the peer), the second is queued.
    await waitFor('the handler asking its peer', () => held.length === 1);

    await victim.kill();
    expect(victim.state).toBe('crashed');
    expect((await victim.exited).reason).toBe('crash');
    // A dead process answers nobody: both askers time out.
    await expect(first).rejects.toBeInstanceOf(TimeoutError);
    await expect(queued).rejects.toBeInstanceOf(TimeoutError);
    client.respond(held[0]!, {
      type: 'actor.pong.v1',
      body: { actorId: 'kill-peer', kind: 'echo', pid: 1, processed: 1 },
    });
    clock.advance(10_000);
    // What is still alive of its code talks into a void and throws nothing.
    expect(() =>
      actorCtx!.bus.tell(actorInbox('echo', 'kill-peer'), { type: 'actor.ping.v1', body: {} }),
    ).not.toThrow();
    await client.flush();
    expect(seen).toEqual({ stopped: 0, ticks: 1, dropped: 1, resumed: 0, failed: 0 });
    expect(held).toHaveLength(1);
    expect(exits.seen).toHaveLength(0);
    peer.unsubscribe();
    exits.close();
  });
});
