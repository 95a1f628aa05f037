import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startOnFreePort, startRedisServer } from '../../infra/index.ts';
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

describe('servers placed on free ports', () => {
  it('move to fresh ports when the port they were given is taken before they bind (the CI failure: "bind: address already in use")', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as { port: number }).port;
    const tried: number[] = [];
    const dataDir = mkdtempSync(join(tmpdir(), 'agov-port-'));
    try {
      const redis = await startOnFreePort((port) => {
        const use = tried.length === 0 ? taken : port;
        tried.push(use);
        return startRedisServer({ dataDir, port: use });
      });
      try {
        expect(tried[0]).toBe(taken);
        expect(tried).toHaveLength(2);
        expect(redis.port).toBe(tried[1]);
        expect(redis.exited).toBe(false);
      } finally {
        await redis.stop();
      }
    } finally {
      squatter.close();
    }
  });

  it('fail at once when the start fails for any other reason', async () => {
    let calls = 0;
    await expect(
      startOnFreePort(async () => {
        calls++;
        throw new Error('config invalid');
      }),
    ).rejects.toThrow('config invalid');
    expect(calls).toBe(1);
  });
});
