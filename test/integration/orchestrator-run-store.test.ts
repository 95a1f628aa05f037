import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../bus/index.ts';
import { newRun } from '../../actors/orchestrator/run-machine.ts';
import { RunStore } from '../../actors/orchestrator/run-store.ts';
import { instantiatePipeline, parsePipeline } from '../../protocols/pipeline/index.ts';
import { rawConnect, TestServers, testBus } from '../harness/index.ts';

const servers = new TestServers();
let bus: Bus;
let watcher: NatsConnection;
let store: RunStore;

beforeAll(async () => {
  const nats = await servers.nats();
  bus = await testBus(nats.url);
  watcher = await rawConnect(nats);
  store = await RunStore.open(bus, 'TEST_RUNS', bus.durablePublisher());
  servers.onStop(async () => {
    await bus.close();
    await watcher.close();
  });
});
afterAll(() => servers.stopAll());

function aRun(runId: string) {
  const parsed = parsePipeline(
    'name: p\nversion: 1\nstages:\n  - { id: a, task: { kind: noop } }\n',
    'inline.yaml',
  );
  if (!parsed.ok) throw new Error('fixture pipeline invalid');
  return newRun({ runId, pipeline: instantiatePipeline(parsed.pipeline, {}), owner: 'o', now: Date.now() });
}

describe('RunStore', () => {
  it('calls onSent once the state write is on the connection, so what it publishes follows the write on the wire', async () => {
    const seen: string[] = [];
    watcher.subscribe('$KV.TEST_RUNS.>', { callback: (_e, m) => void seen.push(`write ${m.subject}`) });
    watcher.subscribe('test.assign', { callback: () => void seen.push('assign') });
    await watcher.flush();
    let awaitingAck = 0;
    await store.save(aRun('r-1'), () => {
      awaitingAck = bus.replies().size; // the state write's JetStream ack, still outstanding
      bus.tell('test.assign', { type: 'demo.count.v1', body: { seq: 1 } });
    });
    expect(awaitingAck).toBe(1);
    await bus.flush();
    await watcher.flush();
    expect(seen).toEqual(['write $KV.TEST_RUNS.r-1', 'assign']);
    expect((await store.get('r-1'))?.runId).toBe('r-1');
  });

  it('coalesces changes of one run made in the same turn into one write, calling every onSent', async () => {
    // Counted on the bucket's stream itself (each write is one stream message), not by a subscriber.
    const lastSeq = async () =>
      (await bus.jetstreamManager()).streams.info('KV_TEST_RUNS').then((i) => i.state.last_seq);
    const before = await lastSeq();
    const sent: number[] = [];
    const first = aRun('r-2');
    const second = { ...first, status: 'running' as const };
    await Promise.all([store.save(first, () => sent.push(1)), store.save(second, () => sent.push(2))]);
    expect(sent).toEqual([1, 2]);
    expect((await lastSeq()) - before).toBe(1);
    expect((await store.get('r-2'))?.status).toBe('running');
  });
});
