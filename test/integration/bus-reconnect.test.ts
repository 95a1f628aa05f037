import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bus, type ConnectionState, ensureStreams } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { TestServers, testBus } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let publisher: Bus;

beforeAll(async () => {
  nats = await servers.nats();
  publisher = await testBus(nats.url, 'publisher');
  servers.onStop(() => publisher.close());
  await ensureStreams(publisher, [
    { name: 'TESTSTREAM', subjects: ['gov.test.>'], duplicate_window: 60_000_000_000 },
  ]);
});
afterAll(() => servers.stopAll());

describe('bus across a nats-server restart', () => {
  it('creates declared streams idempotently', async () => {
    await ensureStreams(publisher, [
      { name: 'TESTSTREAM', subjects: ['gov.test.>'], duplicate_window: 60_000_000_000 },
    ]);
    const jsm = await publisher.jetstreamManager();
    expect((await jsm.streams.info('TESTSTREAM')).config.subjects).toEqual(['gov.test.>']);
  });

  it('reconnects on its own after the server is killed mid-stream, and loses no JetStream message', async () => {
    const states: ConnectionState[] = [];
    publisher.onStatus((s) => states.push(s));
    const total = 400;
    const ids: string[] = [];
    let restart: Promise<void> | undefined;
    for (let i = 0; i < total; i++) {
      if (i === total / 2) {
        await nats.kill();
        restart = new Promise((r) => setTimeout(r, 300)).then(() => nats.restart());
      }
      const env = publisher.wrap({ type: 'demo.count.v1', body: { seq: i } });
      ids.push(env.id);
      // A publisher that keeps retrying the same envelope (same Nats-Msg-Id) until the stream acks it.
      for (let attempt = 0; ; attempt++) {
        try {
          await publisher.publishDurable('gov.test.seq', env, { timeoutMs: 1_000 });
          break;
        } catch (err) {
          if (attempt > 200) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
    await restart;
    expect(states).toContain('disconnected');
    expect(publisher.state).toBe('connected');

    const jsm = await publisher.jetstreamManager();
    const info = await jsm.streams.info('TESTSTREAM');
    expect(info.state.messages).toBe(total);
    const seen = new Set<number>();
    for (let s = 1; s <= total; s++) {
      const m = await jsm.streams.getMessage('TESTSTREAM', { seq: s });
      const d = publisher.decode(m!.data);
      if (d.ok && d.env.type === 'demo.count.v1') seen.add(d.env.body.seq);
    }
    expect(seen.size).toBe(total);
  });
});
