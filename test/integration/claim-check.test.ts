/**
 * The claim check (issue 15 item 3): an exec task's output beyond the inline cap is stored in memory
 * by its (T1+) agent under the agent's own credential, and the result names it, so nothing is cut off
 * silently. Real nats-server (operator mode), redis, bwrap, the memory actor and an agent holding an
 * agent credential.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKind } from '../../actors/agent/agent.ts';
import { DEFAULT_MAX_SPILL_BYTES } from '../../actors/agent/agent-options.ts';
import { memoryKind } from '../../actors/context/index.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import { Bus, ensureStreams } from '../../bus/index.ts';
import { mintUser } from '../../infra/nats-auth/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { RedisServer } from '../../infra/redis-server.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import {
  ACTOR_KIND,
  actorInbox,
  memoryPutSubject,
  agentResultsSubject,
  serviceSubject,
} from '../../protocols/index.ts';
import type { Principal } from '../../protocols/permissions.ts';
import { agentCreds, collect, TestServers, testBus } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let redis: RedisServer;
let client: Bus;
const handles: ActorHandle[] = [];
const mem = () => serviceSubject(ACTOR_KIND.memory);
const node = process.execPath;

beforeAll(async () => {
  [nats, redis] = await Promise.all([servers.nats(), servers.redis()]);
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
  await ensureStreams(client);
  servers.onStop(async () => {
    for (const h of handles) await h.stop('test over').catch(() => undefined);
  });
  handles.push(await runActor(memoryKind, { id: 'memory-cc', bus: { servers: nats.url } }));
  const workRoot = servers.tempDir('agov-claim-');
  for (const [id, extra] of [
    ['cc-t1', {}],
    ['cc-small', { maxSpillBytes: 5000 }],
  ] as const) {
    handles.push(
      await runActor(agentKind, {
        id,
        args: {
          tier: 'T1',
          redisUrl: redis.url,
          workDir: join(workRoot, id),
          requireCredentials: false,
          ...extra,
        },
        bus: { servers: nats.url, credentials: await agentCreds(nats, id, 'T1') },
        heartbeatMs: 200,
      }),
    );
  }
}, 60_000);
afterAll(() => servers.stopAll());

async function busAs(principal: Principal): Promise<Bus> {
  const u = await mintUser(nats.auth, principal);
  const bus = await Bus.connect({
    servers: nats.url,
    name: `test-${u.name}`,
    credentials: { kind: 'jwt', jwt: u.jwt, seed: u.seed },
    askTimeoutMs: 1_500,
  });
  servers.onStop(() => bus.close());
  return bus;
}

async function memoryCount(): Promise<number> {
  const r = await client.ask(mem(), { type: 'memory.stats.v1', body: {} });
  return (r.body as { count: number }).count;
}

async function runExec(agentId: string, script: string, maxOutputBytes: number) {
  // An agent's credential may publish results only on gov.results.*.<its id>.
  const replyTo = agentResultsSubject('test-claim', agentId);
  const seen = collect(client, replyTo);
  await seen.ready();
  const taskId = `task-${Math.random().toString(36).slice(2)}`;
  await client.ask(actorInbox('agent', agentId), {
    type: 'agent.task.assign.v1',
    body: {
      taskId,
      runId: 'run-claim',
      stageId: 'big',
      attempt: 1,
      task: {
        kind: 'exec',
        command: [node, '-e', script],
        env: {},
        timeoutMs: 20_000,
        maxOutputBytes,
        network: false,
      },
      requiredTier: 'T1',
      timeoutMs: 30_000,
      replyTo,
      env: {},
    },
  });
  const r = (await seen.next(
    (e) => e.type === 'agent.task.result.v1' && e.body.taskId === taskId,
  )) as Envelope<'agent.task.result.v1'>;
  seen.close();
  return r.body;
}

interface Ref {
  memoryId: string;
  size: number;
  summary: { lines: number; format: string; tail: string[] };
}

describe('claim check: exec output beyond the inline cap', () => {
  it('is stored in memory by a T1 agent, and the result carries the id and summary whose fetched content equals the full output', async () => {
    const lines = 20_000;
    const script = `for (let i = 0; i < ${lines}; i++) process.stdout.write('line ' + i + '\\n'); process.stderr.write('small\\n')`;
    const full = Array.from({ length: lines }, (_, i) => `line ${i}\n`).join('');
    const r = await runExec('cc-t1', script, 1000);
    expect(r.status).toBe('succeeded');
    const out = r.output as {
      stdout: string;
      stderr: string;
      truncated: boolean;
      memory: { stdout?: Ref; stderr?: Ref };
    };
    expect(out.truncated).toBe(true);
    expect(out.stdout.length + out.stderr.length).toBeLessThanOrEqual(1000);
    expect(full.startsWith(out.stdout)).toBe(true);
    const ref = out.memory.stdout!;
    expect(ref).toMatchObject({ size: full.length, summary: { lines, format: 'text' } });
    expect(ref.summary.tail).toContain(`line ${lines - 1}`);
    // The inline budget is shared and stdout used it up: stderr was cut whole, so it is stored too.
    expect(out.stderr).toBe('');
    expect(out.memory.stderr).toMatchObject({ size: 6, summary: { lines: 1 } });

    const got = await client.ask(mem(), { type: 'memory.get.v1', body: { id: ref.memoryId } });
    const body = got.body as { content: string; encoding: string; entry: Record<string, unknown> };
    expect(body.encoding).toBe('utf8');
    expect(body.content).toBe(full);
    // Author, agent and tier come from the agent's credential (the subject), not from the message.
    expect(body.entry).toMatchObject({
      agentId: 'cc-t1',
      runId: 'run-claim',
      author: 'agent-cc-t1',
      tags: ['task-output', 'stdout'],
    });
  });

  it('stores only the first maxSpillBytes of a stream beyond the spill bound, and says so (spillTruncated)', async () => {
    const script = `process.stdout.write('y'.repeat(20000))`;
    const r = await runExec('cc-small', script, 1000);
    const out = r.output as { truncated: boolean; spillTruncated?: boolean; memory: { stdout?: Ref } };
    expect(out).toMatchObject({ truncated: true, spillTruncated: true, memory: { stdout: { size: 5000 } } });
    const got = await client.ask(mem(), { type: 'memory.get.v1', body: { id: out.memory.stdout!.memoryId } });
    expect((got.body as { content: string }).content).toBe('y'.repeat(5000));
  });

  it('stores a text stream of the default spill bound (768 KiB) whole in one put (regression: sent as base64 it was 1 MiB plus the envelope, over the payload cap)', async () => {
    const size = DEFAULT_MAX_SPILL_BYTES;
    const r = await runExec('cc-t1', `process.stdout.write('z'.repeat(${size}))`, 1000);
    const out = r.output as { truncated: boolean; spillTruncated?: boolean; memory?: { stdout?: Ref } };
    expect(out.truncated).toBe(true);
    expect(out.spillTruncated ?? false).toBe(false);
    expect(out.memory?.stdout).toMatchObject({ size });
  });

  it('leaves output within the cap inline and stores nothing', async () => {
    const before = await memoryCount();
    const r = await runExec('cc-t1', "process.stdout.write('short')", 1000);
    expect(r.output).toMatchObject({ stdout: 'short', truncated: false });
    expect(r.output).not.toHaveProperty('memory');
    expect(await memoryCount()).toBe(before);
  });
});

describe('claim check: who may store (attackers)', () => {
  const put = (content: string) => ({
    type: 'memory.put.v1' as const,
    body: { content, byTier: 'T2' as const },
  });

  it('a T0 agent cannot put on its own memory subject, and nothing is stored', async () => {
    const before = await memoryCount();
    const t0 = await busAs({ role: 'agent', id: 'cc-t0', tier: 'T0' });
    await expect(t0.ask(memoryPutSubject('T0', 'cc-t0'), put('from t0'))).rejects.toThrow();
    expect(await memoryCount()).toBe(before);
  });

  it('a T1 agent cannot claim T2 or another agent in the subject, nor ask the memory service directly, and nothing is stored', async () => {
    const before = await memoryCount();
    const t1 = await busAs({ role: 'agent', id: 'cc-x1', tier: 'T1' });
    await expect(t1.ask(memoryPutSubject('T2', 'cc-x1'), put('claims t2'))).rejects.toThrow();
    await expect(t1.ask(memoryPutSubject('T1', 'cc-t1'), put('claims another'))).rejects.toThrow();
    await expect(t1.ask(mem(), put('direct'))).rejects.toThrow();
    await expect(
      t1.ask(mem(), { type: 'memory.delete.v1', body: { id: '0'.repeat(64), byTier: 'T2' } }),
    ).rejects.toThrow();
    expect(await memoryCount()).toBe(before);
  });

  it('on its own subject a T1 agent may only put, at T1 whatever its message claims', async () => {
    const t1 = await busAs({ role: 'agent', id: 'cc-x2', tier: 'T1' });
    await expect(
      t1.ask(memoryPutSubject('T1', 'cc-x2'), {
        type: 'memory.delete.v1',
        body: { id: '0'.repeat(64), byTier: 'T2' },
      }),
    ).rejects.toMatchObject({ code: 'GOV_ERR_INVALID_MESSAGE' });
    const ok = await t1.ask(memoryPutSubject('T1', 'cc-x2'), put('own put'));
    expect(ok.body).toMatchObject({ agentId: 'cc-x2', author: 'agent-cc-x2' });
  });
});
