import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../actors/ledger/index.ts';
import { ensureStreams } from '../../bus/streams.ts';
import { obsSubject, startedSubject } from '../../protocols/subjects.ts';
import { type ProcessChild, spawnProcessChild } from '../../supervisors/process-child.ts';
import { collect, credsFor, TestServers, testBus } from '../harness/index.ts';
import { PUBLIC_KEY, auditEnvelope, ledgerIds, publishAll, writerArgs } from './ledger-helpers.ts';

const servers = new TestServers();
afterAll(() => servers.stopAll());

describe('a ledger writer in its own OS process', () => {
  it('SIGKILLed twice mid-burst and restarted loses nothing, duplicates nothing, and verifies', async () => {
    const nats = await servers.nats();
    const client = await testBus(nats.url, 'ledger-process-test');
    servers.onStop(() => client.close());
    await ensureStreams(client);
    const appended = collect(client, obsSubject('ledger', 'appended'));
    const started = collect(client, startedSubject('ledger-writer', 'lw-proc'));
    await client.flush();
    const dir = servers.tempDir('agov-ledger-proc-');
    let incarnations = 0;
    const spawnWriter = async (): Promise<ProcessChild> => {
      const child = spawnProcessChild({
        kind: 'ledger-writer',
        id: 'lw-proc',
        natsUrl: nats.url,
        credentials: await credsFor(nats, { role: 'actor', kind: 'ledger-writer', id: 'lw-proc' }),
        args: writerArgs(dir, { batchMaxEntries: 100 }),
        heartbeatMs: 500,
      });
      const n = ++incarnations;
      await started.next(() => started.seen.length >= n, 30_000);
      return child;
    };
    const size = () =>
      appended.seen.reduce((m, e) => (e.type === 'ledger.appended.v1' ? Math.max(m, e.body.toSeq) : m), 0);

    const total = 4000;
    const envs = Array.from({ length: total }, (_, i) => auditEnvelope(client, 'run-proc', i));
    let child = await spawnWriter();
    const publishing = publishAll(client, envs, 'proc', 64);
    for (const at of [600, 1800]) {
      await appended.next((e) => e.type === 'ledger.appended.v1' && e.body.toSeq >= at, 30_000);
      child.signal('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      child = await spawnWriter();
    }
    await publishing;
    await appended.next((e) => e.type === 'ledger.appended.v1' && e.body.toSeq >= total, 60_000);
    expect(size()).toBe(total);
    expect((await child.stop(10_000)).code).toBe(0);

    const ids = ledgerIds(dir);
    expect(ids).toHaveLength(total);
    expect(new Set(ids)).toEqual(new Set(envs.map((e) => e.id)));
    const v = verifyLedger(join(dir, 'ledger.sqlite'), PUBLIC_KEY);
    expect([v.ok, v.size, v.firstBad]).toEqual([true, total, undefined]);
  });
});
