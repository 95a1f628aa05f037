/**
 * The compose stack itself, with testcontainers' compose module: `docker compose up --build` of
 * compose.yaml, then the gateway answers on the published port, a pipeline runs end to end
 * through it, and NATS refuses a client without a credential. Needs a Docker engine: it runs only with AGOV_TEST_COMPOSE=1 (none exists on the
 * machines this project is developed on; test/unit/compose.test.ts checks the file without one).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const enabled = process.env.AGOV_TEST_COMPOSE === '1';
if (!enabled)
  console.warn(
    'skipping the compose suite: set AGOV_TEST_COMPOSE=1 where a Docker engine runs (needs docker compose)',
  );

describe.skipIf(!enabled)('compose.yaml under Docker (AGOV_TEST_COMPOSE=1)', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));
  let stack: {
    down(): Promise<unknown>;
    getContainer(name: string): {
      getMappedPort(p: number): number;
      getHost(): string;
      exec(cmd: string[]): Promise<{ output: string; exitCode: number }>;
    };
  };
  const gateway = () => {
    const agov = stack.getContainer('agov-1');
    return `http://${agov.getHost()}:${agov.getMappedPort(8080)}`;
  };

  beforeAll(async () => {
    const { DockerComposeEnvironment, Wait } = await import('testcontainers');
    stack = await new DockerComposeEnvironment(ROOT, 'compose.yaml')
      .withBuild()
      .withWaitStrategy('agov-1', Wait.forHealthCheck())
      .withStartupTimeout(300_000)
      .up();
  }, 600_000);
  afterAll(async () => {
    await stack?.down();
  });

  it('serves the gateway on the published port, listening on every interface in its container', async () => {
    const res = await fetch(`${gateway()}/health`);
    expect(res.ok).toBe(true);
  });

  it('runs a pipeline end to end through the gateway with the generated admin key', async () => {
    const keys = await stack.getContainer('agov-1').exec(['cat', '/data/api-keys']);
    const admin = /^admin:T2:(\S+)$/m.exec(keys.output)![1]!;
    const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const yaml = readFileSync(join(ROOT, 'examples/hello.yaml'), 'utf8');
    const started = await fetch(`${gateway()}/api/pipelines`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ yaml }),
    });
    expect(started.status).toBe(202);
    const { location } = (await started.json()) as { location: string };
    let status = 'pending';
    for (let i = 0; i < 120 && !['succeeded', 'failed', 'cancelled'].includes(status); i++) {
      const r = await fetch(`${gateway()}${location}`, { headers });
      status = ((await r.json()) as { status: string }).status;
      if (status === 'pending' || status === 'running') await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe('succeeded');
  });

  it('runs NATS with auth: a client without a credential is refused', async () => {
    const { connect } = await import('@nats-io/transport-node');
    const nats = stack.getContainer('nats-1');
    await expect(
      connect({ servers: `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`, reconnect: false }),
    ).rejects.toThrow(/Authorization/i);
  });
});
