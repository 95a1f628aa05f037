import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { actorInbox } from '../../protocols/subjects.ts';
import { allChildren } from '../../supervisors/supervisor-tree.ts';
import { createLogger } from '../../infra/logger.ts';
import { startProcessChild } from '../../supervisors/process-launch.ts';
import { credsFor, TestServers, testBus, waitFor } from '../harness/index.ts';
import { startSupervisor, treeOf } from '../harness/supervision.ts';

const servers = new TestServers();
let nats: NatsServer;
let client: Bus;

beforeAll(async () => {
  nats = await servers.nats();
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
});
afterAll(() => servers.stopAll());

/** The chaos system's hang threshold (chaos/chaos-options.ts): 1 s of silence. */
const HEARTBEAT_MS = 250;
const MISSED_BEATS = 4;
const RESTARTS = 6;
/** Each outage outlasts the threshold twice over. */
const OUTAGE_MS = 2 * HEARTBEAT_MS * MISSED_BEATS;

const echoes = ['in-host', 'in-nested', 'in-process'];

async function everyEchoAnswers(): Promise<void> {
  await everyChildAnswers(echoes);
}

async function everyChildAnswers(ids: string[]): Promise<void> {
  for (const id of ids) {
    await waitFor(`${id} answering`, async () => {
      const r = await client.ask(
        actorInbox('echo', id),
        { type: 'demo.echo.v1', body: { text: id } },
        { timeoutMs: 1_000 },
      );
      return r.type === 'demo.echoed.v1';
    });
  }
}

describe('supervision across nats-server restarts and stalls', () => {
  it('regression: a supervisor does not declare its children hung for the silence of a nats-server restart (restart-nats chaos: every restart killed and restarted every child until the root escalated and nothing answered on its inbox)', async () => {
    const root = await startSupervisor(
      nats.url,
      {
        id: 'restarts-root',
        strategy: 'one_for_one',
        intensity: 1_000,
        periodMs: 600_000,
        children: [
          {
            id: 'in-host',
            start: { kind: 'actor', actorKind: 'echo', actorId: 'in-host' },
            shutdownMs: 2_000,
          },
          {
            id: 'in-process',
            start: { kind: 'process', actorKind: 'echo', actorId: 'in-process' },
            shutdownMs: 2_000,
          },
          {
            id: 'nested',
            start: {
              kind: 'supervisor',
              spec: {
                id: 'restarts-nested',
                strategy: 'one_for_one',
                intensity: 1_000,
                periodMs: 600_000,
                children: [
                  {
                    id: 'in-nested',
                    start: { kind: 'actor', actorKind: 'echo', actorId: 'in-nested' },
                    restart: 'permanent',
                    shutdownMs: 2_000,
                  },
                ],
              },
            },
            shutdownMs: 'infinity',
          },
        ],
      },
      { childHeartbeatMs: HEARTBEAT_MS, missedBeats: MISSED_BEATS },
    );
    servers.onStop(() => root.stop('test over', 10_000).then(() => undefined));
    await everyEchoAnswers();
    for (let i = 0; i < RESTARTS; i++) {
      await nats.kill();
      // The fault itself: the server stays down for longer than the hang threshold.
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await nats.restart();
      await everyEchoAnswers();
    }
    const tree = await waitFor('the whole tree read', async () => {
      const t = await treeOf(client, 'restarts-root');
      return allChildren(t).length === 4 ? t : undefined;
    });
    const nodes = allChildren(tree);
    expect(nodes.map((c) => [c.id, c.status, c.restartCount, c.lastExit])).toEqual(
      nodes.map((c) => [c.id, 'running', 0, null]),
    );
    expect(root.state).toBe('running');
  }, 180_000);

  it('regression: a stall of the supervisor’s own process does not make its beating children hung (the late watchdog timer found every child silent while their beats sat unread: six services declared hung at once in restart-nats chaos at load 36)', async () => {
    const sup = await startSupervisor(
      nats.url,
      {
        id: 'stall-root',
        strategy: 'one_for_one',
        intensity: 1_000,
        periodMs: 600_000,
        children: [
          {
            id: 'stall-proc',
            start: { kind: 'process', actorKind: 'echo', actorId: 'stall-proc' },
            shutdownMs: 2_000,
          },
        ],
      },
      { childHeartbeatMs: HEARTBEAT_MS, missedBeats: MISSED_BEATS },
    );
    servers.onStop(() => sup.stop('test over', 10_000).then(() => undefined));
    const pid = await waitFor('the process child running', async () => {
      const t = await treeOf(client, 'stall-root').catch(() => undefined);
      const c = t?.children[0];
      return c?.status === 'running' ? c.pid : undefined;
    });
    // This process stalls (as a loaded machine stalls it) for twice the hang threshold; the child,
    // another process, beats on.
    const until = Date.now() + OUTAGE_MS;
    while (Date.now() < until) {
      // busy: no timer, no socket read
    }
    await everyChildAnswers(['stall-proc']);
    const after = (await treeOf(client, 'stall-root')).children[0]!;
    expect([after.pid, after.restartCount, after.lastExit]).toEqual([pid, 0, null]);
  });

  it('regression: a process child started while the supervisor is cut off from the bus starts once the server is back (the flush before spawning failed with "connection disconnected" and each attempt counted as a failed start)', async () => {
    const bus = await testBus(nats.url, 'launcher');
    servers.onStop(() => bus.close());
    const down = new Promise<void>((r) => {
      const off = bus.onStatus((s) => {
        if (s !== 'connected') {
          off();
          r();
        }
      });
    });
    await nats.kill();
    await down; // premise: the launching bus knows it is disconnected
    const launching = startProcessChild({
      bus,
      natsUrl: nats.url,
      log: createLogger({}, 'silent'),
      childId: 'cut-off',
      kind: 'echo',
      actorId: 'cut-off',
      start: { kind: 'process', actorKind: 'echo', actorId: 'cut-off' },
      credentials: await credsFor(nats, { role: 'actor', kind: 'echo', id: 'cut-off' }),
      issuerSeed: undefined,
      heartbeatMs: HEARTBEAT_MS,
      supervision: {
        childHeartbeatMs: HEARTBEAT_MS,
        missedBeats: MISSED_BEATS,
        processStartTimeoutMs: 60_000,
      },
    });
    await nats.restart();
    const proc = await launching;
    servers.onStop(() => proc.stop(2_000).then(() => undefined));
    await everyChildAnswers(['cut-off']);
  });
});
