import { afterAll, describe, expect, it } from 'vitest';
import { TestServers } from '../harness/index.ts';

const servers = new TestServers();
afterAll(() => servers.stopAll());

describe('test harness', () => {
  it('starts isolated nats-server and redis-server instances on different free ports', async () => {
    const [a, b, r] = await Promise.all([servers.nats(), servers.nats(), servers.redis()]);
    expect(a.port).not.toBe(b.port);
    expect(a.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(r.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
  });

  it('restarts a killed nats-server on the same port', async () => {
    const s = await servers.nats();
    await s.kill();
    expect(s.exited).toBe(true);
    await s.restart();
    expect(s.exited).toBe(false);
    const res = await fetch(`http://127.0.0.1:${s.monitorPort}/healthz`);
    expect(res.ok).toBe(true);
  });
});
