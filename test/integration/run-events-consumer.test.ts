import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../bus/bus.ts';
import { AUDIT_STREAM, ensureConsumer, ensureStreams, runEventsConsumer } from '../../bus/streams.ts';
import { auditSubject } from '../../protocols/subjects.ts';
import { consumeRunEvents } from '../../bus/governance-events.ts';
import { createLogger } from '../../infra/logger.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { TestServers, testBus } from '../harness/index.ts';

const servers = new TestServers();
let client: Bus;
let nats: NatsServer;

beforeAll(async () => {
  nats = await servers.nats();
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
  await ensureStreams(client);
});
afterAll(() => servers.stopAll());

const runEvent = (runId: string) =>
  client.wrap({ type: 'run.event.v1', body: { runId, event: 'run-started' } });

describe('the run events consumer of a governance actor', () => {
  it('moves a durable declared on the old gov.audit.run filter to gov.audit.run.<principal>, from where its acks stopped (nats-server 2.9 cannot change a filter)', async () => {
    const jsm = await client.jetstreamManager();
    await jsm.consumers.add(AUDIT_STREAM, {
      durable_name: 'old-filter',
      filter_subject: auditSubject('run'),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const before = await jsm.streams.info(AUDIT_STREAM);
    await client.publishDurable(auditSubject('run'), runEvent('r-old'));
    await ensureConsumer(
      client,
      runEventsConsumer({ durable: 'old-filter', ackWaitMs: 30_000, startFrom: 'all' }),
    );
    await client.publishDurable(auditSubject('run', client.principal()), runEvent('r-new'));
    const info = await jsm.consumers.info(AUDIT_STREAM, 'old-filter');
    expect(info.config.filter_subject).toBe('gov.audit.run.*');
    expect(info.config.opt_start_seq).toBe(before.state.last_seq + 1);
    // The event on the bare subject names no publisher and is no longer delivered; the new one is.
    expect(info.num_pending).toBe(1);
  });

  it('regression: tells its owner when it ends without being stopped, and not when it is stopped (a budget monitor whose consumer ended stayed up counting nothing: failing runs never breached)', async () => {
    const owner = await testBus(nats.url, 'consumer-owner');
    const ends: string[] = [];
    let lostEnded!: () => void;
    const lostEnd = new Promise<void>((r) => {
      lostEnded = r;
    });
    const options = (durable: string) => ({
      durable,
      startFrom: 'new' as const,
      ackWaitMs: 30_000,
      retryMs: 100,
      log: createLogger({}, 'silent'),
      onEnd: () => {
        ends.push(durable);
        if (durable === 'ends-lost') lostEnded();
      },
    });
    const stopped = await consumeRunEvents(owner, options('ends-stopped'), async () => {});
    await stopped.stop();
    const lost = await consumeRunEvents(owner, options('ends-lost'), async () => {});
    await owner.close(); // the connection gone for good under the consumer
    await lostEnd;
    await lost.stop();
    expect(ends).toEqual(['ends-lost']);
  });
});
