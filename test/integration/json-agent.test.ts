/**
 * A JSON-only agent (no msgpack decoder at all) asks for JSON deliveries with `encoding: json` in its
 * registration and heartbeats, and gets every message the system originates to its inbox as JSON:
 * assigns and cancels from the real orchestrator, its response-wrapped credentials and suspend
 * commands from the real token authority (with the Vault dev server). A msgpack agent beside it keeps
 * getting msgpack.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestratorKind } from '../../actors/orchestrator/orchestrator.ts';
import { type PlainAgent, startPlainAgent } from '../../examples/agents/node/plain-agent.ts';
import { runActor } from '../../actors/runtime/index.ts';
import { tokenAuthorityKind } from '../../actors/token/token-authority.ts';
import type { Bus } from '../../bus/bus.ts';
import { ensureStreams } from '../../bus/streams.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { startVaultDevServer } from '../../infra/vault/dev-server.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { allObs, serviceSubject } from '../../protocols/subjects.ts';
import { catalog } from '../../protocols/catalog.ts';
import { collect, mintFor, rawConnect, TestServers, testBus, waitFor } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let client: Bus;
let feed: ReturnType<typeof collect>;
let jsonAgent: PlainAgent;
/** Everything a JSON-only observer (plain nats.js, JSON.parse, an observer credential) got on gov.obs.>. */
const observed: Array<{ subject: string; json: boolean; type?: string; valid?: boolean }> = [];

async function agent(id: string, encoding?: 'json'): Promise<PlainAgent> {
  const { creds } = await mintFor(nats, { role: 'agent', id, tier: 'T1' });
  const a = await startPlainAgent({ servers: nats.url, id, tier: 'T1', heartbeatMs: 100, creds, encoding });
  servers.onStop(() => a.kill());
  return a;
}

/**
 * Admission waits a bounded 5 s for the agent the test just started (regression: under load a run
 * submitted right after a plain agent's start was refused GOV_ERR_NO_ELIGIBLE_AGENT: the agent's
 * registration was sent, not yet read by the orchestrator).
 */
async function submit(yaml: string): Promise<string> {
  const reply = await client.ask(
    serviceSubject('orchestrator'),
    {
      type: 'run.request.v1',
      body: { yaml, params: {}, requestedBy: 'test', waitForAgentMs: 5_000 },
    },
    { timeoutMs: 10_000 },
  );
  if (reply.type !== 'run.accepted.v1') throw new Error(`unexpected ${reply.type}`);
  return reply.body.runId;
}

const runEvent = (runId: string, event: string) =>
  feed.next((e) => e.type === 'run.event.v1' && e.body.runId === runId && e.body.event === event, 20_000);

beforeAll(async () => {
  const [n, redis] = await Promise.all([servers.nats(), servers.redis()]);
  nats = n;
  const vault = await startVaultDevServer();
  servers.onStop(() => vault.stop());
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
  await ensureStreams(client);
  feed = collect(client, allObs());
  await feed.ready();
  const observer = await rawConnect(nats, { role: 'observer', name: 'json-observer' });
  servers.onStop(() => observer.close());
  observer.subscribe(allObs(), {
    callback: (_e, m) => {
      try {
        const env = JSON.parse(new TextDecoder().decode(m.data)) as { type: string; body: unknown };
        const schema = catalog[env.type as keyof typeof catalog];
        observed.push({
          subject: m.subject,
          json: true,
          type: env.type,
          valid: schema?.safeParse(env.body).success,
        });
      } catch {
        observed.push({ subject: m.subject, json: false });
      }
    },
  });
  await observer.flush();
  for (const [kind, id, args] of [
    [orchestratorKind, 'orch-json', {}],
    [
      tokenAuthorityKind,
      'ta-json',
      { vaultAddr: vault.addr, vaultToken: vault.rootToken, redisUrl: redis.url },
    ],
  ] as const) {
    const h = await runActor(kind as typeof orchestratorKind, {
      id,
      args: args as Record<string, unknown>,
      bus: { servers: nats.url },
      heartbeatMs: 200,
    });
    servers.onStop(async () => {
      await h.stop();
    });
  }
  jsonAgent = await agent('json-only', 'json');
}, 60_000);
afterAll(() => servers.stopAll());

describe('a JSON-only agent (encoding: json) gets every delivery as JSON', () => {
  it('runs a stage: the assign comes as JSON and so do its response-wrapped credentials', async () => {
    const runId = await submit(
      'name: json\nversion: 1\nstages:\n  - id: s\n    agent: { tier: T1 }\n    task: { kind: sleep, ms: 300 }\n',
    );
    expect((await runEvent(runId, 'run-succeeded')).body).toMatchObject({ event: 'run-succeeded' });
    const accepted = await runEvent(runId, 'stage-accepted');
    expect((accepted as Envelope<'run.event.v1'>).body.agentEncoding).toBe('json');
    await waitFor('the child token delivered', () =>
      jsonAgent.received.find((r) => r.type === 'agent.credentials.v2'),
    );
    expect(jsonAgent.received.filter((r) => r.type === 'agent.task.assign.v1')).toEqual([
      { type: 'agent.task.assign.v1', format: 'json' },
    ]);
    expect(jsonAgent.received.every((r) => r.format === 'json')).toBe(true);
    expect(jsonAgent.undecodable).toBe(0);
  });

  it('gets the cancel of its task and the suspend command of a revoked run as JSON', async () => {
    const runId = await submit(
      'name: json-long\nversion: 1\nstages:\n  - id: s\n    agent: { tier: T1 }\n    task: { kind: sleep, ms: 60000 }\n',
    );
    await runEvent(runId, 'stage-accepted');
    await waitFor('the child token delivered', () =>
      jsonAgent.received.filter((r) => r.type === 'agent.credentials.v2').length >= 2 ? true : undefined,
    );
    await client.ask(serviceSubject('token-authority'), {
      type: 'token.revoke.v1',
      body: { runId, reason: 'test', suspendAgents: true },
    });
    await waitFor('the suspend command delivered', () =>
      jsonAgent.received.find((r) => r.type === 'agent.command.v1'),
    );
    await client.ask(serviceSubject('orchestrator'), {
      type: 'run.cancel.v1',
      body: { runId, reason: 'test' },
    });
    await waitFor('the cancel delivered', () =>
      jsonAgent.received.find((r) => r.type === 'agent.task.cancel.v1'),
    );
    expect(jsonAgent.received.every((r) => r.format === 'json')).toBe(true);
    expect(jsonAgent.undecodable).toBe(0);
  });

  it('a JSON-only observer reads every feed event of these runs (run, token, dead letters) as catalogue messages', async () => {
    // A message the orchestrator cannot decode: its dead letter goes to the JSON feed too.
    const sender = await rawConnect(nats);
    sender.publish(serviceSubject('orchestrator'), new Uint8Array([0xc1, 0x00, 0xff]));
    await sender.flush();
    await sender.close();
    await waitFor('the dead letter on the feed', () =>
      observed.find((o) => o.subject.startsWith('gov.obs.dlq.')),
    );
    expect(observed.length).toBeGreaterThan(10);
    expect(observed.filter((o) => !o.json || !o.valid)).toEqual([]);
    const categories = new Set(observed.map((o) => o.subject.split('.')[2]));
    for (const c of ['run', 'token', 'dlq']) expect(categories).toContain(c);
  });

  it("executes docs/protocol.md's submit example as written: JSON in, a JSON run.accepted.v1 out, and the run succeeds on the JSON agent", async () => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const example = [...doc.matchAll(/```json\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .find((b) => b.includes('"type":"run.request.v1"'))!;
    const submitter = await rawConnect(nats, { role: 'client', name: 'doc-submitter' });
    try {
      const reply = await submitter.request(
        serviceSubject('orchestrator'),
        new TextEncoder().encode(example),
        {
          timeout: 10_000,
        },
      );
      expect(reply.data[0]).toBe(0x7b);
      const accepted = JSON.parse(new TextDecoder().decode(reply.data)) as {
        type: string;
        body: { runId: string };
      };
      expect(accepted.type).toBe('run.accepted.v1');
      expect((await runEvent(accepted.body.runId, 'run-succeeded')).body).toMatchObject({
        event: 'run-succeeded',
      });
    } finally {
      await submitter.close();
    }
  });

  it('control: an agent that does not ask for JSON still gets msgpack (the checks above can fail)', async () => {
    await jsonAgent.stop();
    const packed = await agent('packed');
    const runId = await submit(
      'name: packed\nversion: 1\nstages:\n  - id: s\n    agent: { tier: T1 }\n    task: { kind: noop }\n',
    );
    await runEvent(runId, 'run-succeeded');
    expect(packed.received.find((r) => r.type === 'agent.task.assign.v1')).toEqual({
      type: 'agent.task.assign.v1',
      format: 'msgpack',
    });
  });
});
