import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentDirectoryKind } from '../../actors/agent-directory.ts';
import { checkpointKind, memoryKind, workStatusKind } from '../../actors/context/index.ts';
import { gatewayKind } from '../../actors/gateway/gateway.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import { type Bus, ensureStreams } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { ACTOR_KIND, heartbeatSubject, serviceSubject } from '../../protocols/index.ts';
import { collect, credsFor, TestServers, testBus } from '../harness/index.ts';

const KEYS = {
  viewer: 'viewer-key-0123456789abcdef',
  ops: 'ops-key-0123456789abcdef0123',
  admin: 'admin-key-0123456789abcdef01',
};
const API_KEYS = `viewer:T0:${KEYS.viewer},ops:T1:${KEYS.ops},admin:T2:${KEYS.admin}`;
const servers = new TestServers();
let nats: NatsServer;
let client: Bus;
let base: string;
const handles: ActorHandle[] = [];

async function call(method: string, path: string, key?: keyof typeof KEYS, body?: unknown) {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${KEYS[key]}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  nats = await servers.nats();
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
  await ensureStreams(client);
  const bus = { servers: nats.url };
  handles.push(await runActor(agentDirectoryKind, { id: 'directory-1', bus }));
  handles.push(await runActor(memoryKind, { id: 'memory-1', bus, args: { maxBlobBytes: 2048 } }));
  handles.push(await runActor(workStatusKind, { id: 'status-1', bus }));
  handles.push(
    await runActor(checkpointKind, { id: 'checkpoint-1', bus, args: { everyMs: 0, sourceTimeoutMs: 300 } }),
  );
  const hb = collect(client, heartbeatSubject('gateway', 'gw-ctx'));
  await hb.ready();
  handles.push(
    await runActor(gatewayKind, {
      id: 'gw-ctx',
      args: { port: 0, apiKeys: API_KEYS, askTimeoutMs: 5_000 },
      // Its own credential: context writes go out on gov.ctx.<key tier>.gateway-gw-ctx, as in the system.
      bus: { ...bus, credentials: await credsFor(nats, { role: 'actor', kind: 'gateway', id: 'gw-ctx' }) },
      heartbeatMs: 200,
    }),
  );
  const beat = await hb.next(
    (e) => e.type === 'actor.heartbeat.v1' && typeof e.body.status?.url === 'string',
  );
  base = (beat as Envelope<'actor.heartbeat.v1'>).body.status!.url as string;
  hb.close();
  servers.onStop(async () => {
    for (const h of handles.reverse()) await h.stop('test over').catch(() => undefined);
  });
}, 60_000);
afterAll(() => servers.stopAll());

describe('context over HTTP', () => {
  it('lets T0 read but not write memory, T1 write but not delete, T2 delete; a forbidden call changes nothing', async () => {
    expect((await call('POST', '/api/memory', undefined, { content: 'x' })).status).toBe(401);
    const denied = await call('POST', '/api/memory', 'viewer', { content: 'from a viewer' });
    expect(denied.status).toBe(403);
    expect((await call('GET', '/api/memory/stats', 'viewer')).json).toMatchObject({ count: 0 });
    const put = await call('POST', '/api/memory', 'ops', {
      content: '{"k":1}',
      tags: ['cfg'],
      runId: 'r-http-1',
    });
    expect(put.status).toBe(201);
    expect(put.json).toMatchObject({ summary: { format: 'json', jsonKeys: ['k'] }, runId: 'r-http-1' });
    const id = put.json.id as string;
    const got = await call('GET', `/api/memory/${id}?summary=true`, 'viewer');
    expect(got.status).toBe(200);
    expect(got.json.content).toBeUndefined();
    expect((await call('POST', `/api/memory/${id}/delete`, 'ops')).status).toBe(403);
    expect((await call('GET', '/api/memory', 'viewer')).json).toMatchObject({ total: 1 });
    expect((await call('POST', `/api/memory/${id}/delete`, 'admin')).status).toBe(200);
    expect((await call('GET', `/api/memory/${id}`, 'viewer')).json.error.code).toBe(
      'GOV_ERR_MEMORY_NOT_FOUND',
    );
  });

  it('answers bad input with typed errors: oversized blob 413, unknown id 404, malformed target 400', async () => {
    const big = await call('POST', '/api/memory', 'ops', { content: 'y'.repeat(3000) });
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('GOV_ERR_MEMORY_TOO_LARGE');
    const unknown = await call('GET', `/api/memory/${'0'.repeat(64)}`, 'viewer');
    expect(unknown.status).toBe(404);
    const target = await call('POST', '/api/status', 'ops', { target: '../../etc', phase: 'blocked' });
    expect(target.status).toBe(400);
    expect(target.json.error.code).toBe('GOV_ERR_INVALID_TARGET');
    const cp = await call('GET', '/api/checkpoints/cp-404', 'viewer');
    expect(cp.status).toBe(404);
    expect(cp.json.error.code).toBe('GOV_ERR_CHECKPOINT_NOT_FOUND');
  });

  it('updates work status (T1), takes a checkpoint (T1), and only T2 may restore', async () => {
    expect(
      (await call('POST', '/api/status', 'viewer', { target: 'repo:site', phase: 'review' })).status,
    ).toBe(403);
    const up = await call('POST', '/api/status', 'ops', {
      target: 'repo:site',
      phase: 'review',
      progress: 90,
    });
    expect(up.json).toMatchObject({
      target: 'repo:site',
      kind: 'repository',
      // The principal the broker vouched for, not a claim in the body.
      updatedBy: 'gateway-gw-ctx',
    });
    expect((await call('GET', '/api/status', 'viewer')).json).toMatchObject({ overall: 90 });
    const cp = await call('POST', '/api/checkpoints', 'ops', { notes: 'over http' });
    expect(cp.status).toBe(201);
    expect(cp.json.work).toEqual([expect.objectContaining({ target: 'repo:site' })]);
    expect((await call('GET', '/api/checkpoints/latest', 'viewer')).json.id).toBe(cp.json.id);
    const restoreAsOps = await call('POST', `/api/checkpoints/${cp.json.id}/restore`, 'ops', {
      dryRun: true,
    });
    expect(restoreAsOps.status).toBe(403);
    const timeline = await client.ask(serviceSubject(ACTOR_KIND.checkpoint), {
      type: 'checkpoint.list.v1',
      body: {},
    });
    expect((timeline.body as { checkpoints: unknown[] }).checkpoints).toHaveLength(1);
    const dry = await call('POST', `/api/checkpoints/${cp.json.id}/restore`, 'admin', { dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({ checkpointId: cp.json.id, actions: [] });
  });
});
