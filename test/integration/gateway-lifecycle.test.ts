import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayKind } from '../../actors/gateway/gateway.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import type { Bus } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { ConfigError } from '../../protocols/vocabulary/errors.ts';
import { heartbeatSubject } from '../../protocols/subjects.ts';
import { collect, TestServers, testBus, waitFor } from '../harness/index.ts';

const FILE_KEY = 'file-key-0123456789abcdef0123';
const METRICS_KEY = 'metrics-key-0123456789abcdef';

const servers = new TestServers();
let nats: NatsServer;
let client: Bus;
let gateway: ActorHandle;
let base: string;

async function startGateway(
  id: string,
  args: Record<string, unknown>,
): Promise<{ handle: ActorHandle; url: string }> {
  const hb = collect(client, heartbeatSubject('gateway', id));
  await hb.ready();
  const handle = await runActor(gatewayKind, { id, args, bus: { servers: nats.url }, heartbeatMs: 100 });
  const beat = (await hb.next(
    (e) => e.type === 'actor.heartbeat.v1' && typeof e.body.status?.url === 'string',
  )) as Envelope<'actor.heartbeat.v1'>;
  hb.close();
  return { handle, url: beat.body.status!.url as string };
}

beforeAll(async () => {
  nats = await servers.nats();
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
  const keysFile = join(servers.tempDir(), 'keys');
  writeFileSync(keysFile, `# operators\nfile-admin:T2:${FILE_KEY}\n\n`);
  const started = await startGateway('gw-life', {
    port: 0,
    apiKeysFile: keysFile,
    metricsKey: METRICS_KEY,
    askTimeoutMs: 300,
  });
  gateway = started.handle;
  base = started.url;
  servers.onStop(async () => {
    await gateway.stop();
  });
});
afterAll(() => servers.stopAll());

describe('gateway lifecycle and configuration', () => {
  it('accepts keys from a key file', async () => {
    const r = await fetch(`${base}/api/agents`, { headers: { authorization: `Bearer ${FILE_KEY}` } });
    // Authenticated: the request reached the bus, where no agent directory runs.
    expect(r.status).toBe(503);
  });

  it('protects /metrics with the metrics key when one is configured', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect(
      (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${FILE_KEY}` } })).status,
    ).toBe(401);
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_KEY}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('agov_gateway_http_requests_total');
  });

  it('fails to start, naming the address, when its port is taken', async () => {
    const port = new URL(base).port;
    await expect(
      runActor(gatewayKind, {
        id: 'gw-clash',
        args: { port, apiKeys: `x:T0:${FILE_KEY}` },
        bus: { servers: nats.url },
      }),
    ).rejects.toThrow(ConfigError);
    await expect(
      runActor(gatewayKind, {
        id: 'gw-clash',
        args: { port, apiKeys: `x:T0:${FILE_KEY}` },
        bus: { servers: nats.url },
      }),
    ).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${port}`));
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('refuses to start with a malformed key, without echoing it', async () => {
    const err = await runActor(gatewayKind, {
      id: 'gw-badkey',
      args: { port: 0, apiKeys: 'x:T7:some-secret-value-0000' },
      bus: { servers: nats.url },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String(err)).not.toContain('some-secret-value');
  });

  it('closes its port on graceful stop', async () => {
    const other = await startGateway('gw-stop', { port: 0, apiKeys: `x:T0:${FILE_KEY}` });
    expect((await fetch(`${other.url}/health`)).status).toBe(200);
    const exit = await other.handle.stop();
    expect(exit.reason).toBe('shutdown');
    await expect(fetch(`${other.url}/health`)).rejects.toThrow();
  });

  it('reports 503 on /health while NATS is down and keeps serving HTTP', async () => {
    await nats.kill();
    await waitFor(
      'the gateway to notice NATS is down',
      async () => (await fetch(`${base}/health`)).status === 503,
    );
    const down = await fetch(`${base}/health`);
    expect(await down.json()).toMatchObject({ status: 'unavailable' });
    expect(gateway.state).toBe('running');
  });
});
