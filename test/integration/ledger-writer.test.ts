import { afterAll, describe, expect, it } from 'vitest';
import { checkConsistencyProof, checkInclusionProof, verifyLedger } from '../../actors/ledger/index.ts';
import type { ActorHandle } from '../../actors/runtime/actor.ts';
import type { Bus } from '../../bus/bus.ts';
import { AUDIT_STREAM, ensureStreams } from '../../bus/streams.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { NotFoundError } from '../../protocols/vocabulary/errors.ts';
import {
  allDeadLetters,
  auditSubject,
  exitSubject,
  obsSubject,
  serviceSubject,
} from '../../protocols/subjects.ts';
import { collect, TestServers, testBus, waitFor } from '../harness/index.ts';
import {
  PUBLIC_KEY,
  auditEnvelope,
  ledgerIds,
  publishAll,
  startWriter,
  writerInbox,
} from './ledger-helpers.ts';

const servers = new TestServers();
const handles: ActorHandle[] = [];
const buses: Bus[] = [];
afterAll(async () => {
  for (const h of handles) await h.stop('test over').catch(() => {});
  for (const b of buses) await b.close();
  await servers.stopAll();
});

async function setup() {
  const nats = await servers.nats();
  const client = await testBus(nats.url, 'ledger-test');
  buses.push(client);
  await ensureStreams(client);
  const appended = collect(client, obsSubject('ledger', 'appended'));
  const checkpoints = collect(client, obsSubject('ledger', 'checkpoint'));
  const dlq = collect(client, allDeadLetters());
  await client.flush();
  return { nats, client, appended, checkpoints, dlq, dir: servers.tempDir('agov-ledger-') };
}

const reachedSize = (n: number) => (e: { type: string; body: unknown }) =>
  e.type === 'ledger.appended.v1' && (e.body as { toSeq: number }).toSeq >= n;

describe('the ledger writer over a real nats-server', () => {
  it('stores events published durably by several publishers exactly once each, queryable by run', async () => {
    const { nats, client, appended, dir } = await setup();
    const w = await startWriter(nats.url, 'lw-many', dir);
    handles.push(w);
    const publishers = await Promise.all([1, 2, 3].map((i) => testBus(nats.url, `publisher-${i}`)));
    buses.push(...publishers);
    const perPublisher = 200;
    const sent = publishers.map((p, i) =>
      Array.from({ length: perPublisher }, (_, k) => auditEnvelope(p, `run-${i}`, k)),
    );
    await Promise.all(publishers.map((p, i) => publishAll(p, sent[i]!)));
    await appended.next(reachedSize(3 * perPublisher));

    const ids = ledgerIds(dir);
    expect(ids).toHaveLength(3 * perPublisher);
    expect(new Set(ids)).toEqual(new Set(sent.flat().map((e) => e.id)));
    const r = await client.ask(serviceSubject('ledger-writer'), {
      type: 'ledger.query.v1',
      body: { run: 'run-1', limit: 1000 },
    });
    expect(r.type).toBe('ledger.entries.v1');
    if (r.type !== 'ledger.entries.v1') return;
    expect(r.body.entries.map((e) => e.id).sort()).toEqual(sent[1]!.map((e) => e.id).sort());
    expect(
      r.body.entries.every(
        (e) => e.run === 'run-1' && e.type === 'demo.count.v1' && e.actor === 'publisher-2',
      ),
    ).toBe(true);
    expect(r.body.more).toBe(false);
    const page = await client.ask(writerInbox('lw-many'), {
      type: 'ledger.query.v1',
      body: { limit: 10, fromSeq: 5 },
    });
    expect(
      page.type === 'ledger.entries.v1' && [page.body.entries.map((e) => e.seq), page.body.more],
    ).toEqual([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14], true]);
  });

  it('records the sender named by the audit subject the broker delivered, beside the actor the envelope claims', async () => {
    const { nats, client, appended, dir } = await setup();
    const w = await startWriter(nats.url, 'lw-sender', dir);
    handles.push(w);
    const claimed = client.wrap({
      type: 'demo.count.v1',
      body: { seq: 1 },
      run: 'run-s',
    });
    await client.publishDurable(auditSubject('test', 'agent-ag-7'), claimed);
    const bare = auditEnvelope(client, 'run-s', 2);
    await client.publishDurable(auditSubject('test'), bare);
    await appended.next(reachedSize(2));
    const r = await client.ask(serviceSubject('ledger-writer'), {
      type: 'ledger.query.v1',
      body: { run: 'run-s' },
    });
    if (r.type !== 'ledger.entries.v1') throw new Error(r.type);
    const [first, second] = r.body.entries;
    expect(first).toMatchObject({ id: claimed.id, sender: 'agent-ag-7' });
    expect(first!.actor).toBe(claimed.from);
    expect(second!.id).toBe(bare.id);
    expect(second!.sender).toBeUndefined();
    expect(verifyLedger(`${dir}/ledger.sqlite`, PUBLIC_KEY).ok).toBe(true);
  });

  it('stores an envelope a publisher retried (same Nats-Msg-Id) once, and an id re-sent after the window once too', async () => {
    const { nats, client, appended, dir } = await setup();
    const w = await startWriter(nats.url, 'lw-retry', dir);
    handles.push(w);
    const env = auditEnvelope(client, 'run-retry', 1);
    for (let i = 0; i < 3; i++) await client.publishDurable(auditSubject('test'), env);
    // Past the stream's duplicate window the stream would store it again: simulate with a new msg id.
    await client.publishDurable(auditSubject('test'), env, { msgId: `${env.id}-again` });
    const last = auditEnvelope(client, 'run-retry', 2);
    await client.publishDurable(auditSubject('test'), last);
    await appended.next(reachedSize(2));
    await appended.next((e) => e.type === 'ledger.appended.v1' && e.body.duplicates === 1);
    expect(ledgerIds(dir)).toEqual([env.id, last.id]);
  });

  it('dead-letters undecodable, invalid and unknown messages on gov.audit.* and commits the rest of the batch', async () => {
    const { nats, client, appended, dlq, dir } = await setup();
    const js = client.durablePublisher();
    const good = Array.from({ length: 5 }, (_, i) => auditEnvelope(client, 'run-dlq', i));
    // Published before the writer starts, so they arrive in one batch with the bad ones.
    await client.publishDurable(auditSubject('test'), good[0]!);
    await js.publish(auditSubject('junk'), new Uint8Array([0xc1, 0xff, 0x00]));
    await client.publishDurable(auditSubject('test'), good[1]!);
    await js.publish(
      auditSubject('junk'),
      new TextEncoder().encode(
        JSON.stringify({
          sv: 1,
          type: 'demo.count.v1',
          id: 'bad-body',
          ts: 1,
          from: 'x',
          body: { seq: 'one' },
        }),
      ),
    );
    await client.publishDurable(auditSubject('test'), good[2]!);
    await js.publish(
      auditSubject('junk'),
      new TextEncoder().encode(
        JSON.stringify({ sv: 1, type: 'nobody.knows.v9', id: 'unknown', ts: 1, from: 'x', body: {} }),
      ),
    );
    await client.publishDurable(auditSubject('test'), good[3]!);
    await client.publishDurable(auditSubject('test'), good[4]!);
    const w = await startWriter(nats.url, 'lw-dlq', dir);
    handles.push(w);
    await appended.next(reachedSize(5));
    await dlq.next(
      (e) =>
        e.type === 'dead-letter.v1' &&
        e.body.reason.code === 'GOV_ERR_DECODE' &&
        e.body.subject === 'gov.audit.junk',
    );
    const invalid = await dlq.next(
      (e) =>
        e.type === 'dead-letter.v1' &&
        e.body.reason.code === 'GOV_ERR_INVALID_MESSAGE' &&
        e.body.reason.message.includes('unknown message type'),
    );
    expect(invalid.type === 'dead-letter.v1' && invalid.body.receivedBy).toBe(writerInbox('lw-dlq'));
    await dlq.next(
      (e) =>
        e.type === 'dead-letter.v1' &&
        e.body.reason.code === 'GOV_ERR_INVALID_MESSAGE' &&
        e.body.reason.message.includes('body'),
    );
    expect(ledgerIds(dir)).toEqual(good.map((e) => e.id));
    // Terminated, not redelivered: the consumer has nothing pending or unacked.
    const consumer = await client.consumer(
      { stream: AUDIT_STREAM, config: { durable_name: 'ledger-writer' } },
      { declare: false },
    );
    await waitFor('every message acked or terminated', async () => {
      const info = await consumer.info();
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });
  });

  it('strips secrets from bodies and dead-letters them under the refuse policy', async () => {
    const { nats, client, appended, dlq, dir } = await setup();
    const w = await startWriter(nats.url, 'lw-secret', dir);
    handles.push(w);
    const env = client.wrap({
      type: 'agent.credentials.v1',
      body: {
        runId: 'r-s',
        token: 'hvs.CAESIJ0123456789abcdefghijkl',
        accessor: 'acc-2',
        expiresAt: 9,
        policies: ['p'],
        stageId: 'a',
      },
    });
    await client.publishDurable(auditSubject('token'), env);
    await appended.next(reachedSize(1));
    const r = await client.ask(writerInbox('lw-secret'), { type: 'ledger.query.v1', body: { run: 'r-s' } });
    const data = r.type === 'ledger.entries.v1' ? r.body.entries[0]!.data : {};
    expect(data).toEqual({
      runId: 'r-s',
      accessor: 'acc-2',
      expiresAt: 9,
      policies: ['p'],
      stageId: 'a',
      _redacted: ['$.data.token'],
    });
    expect(JSON.stringify(ledgerIds(dir))).not.toContain('hvs.');
    await w.stop();

    const refusing = await startWriter(nats.url, 'lw-refuse', dir, { secrets: 'refuse' });
    handles.push(refusing);
    const env2 = client.wrap({ type: 'agent.credentials.v1', body: { ...env.body, runId: 'r-s2' } as never });
    await client.publishDurable(auditSubject('token'), env2);
    const dl = await dlq.next((e) => e.type === 'dead-letter.v1' && e.body.reason.message.includes('secret'));
    expect(dl.type === 'dead-letter.v1' && dl.body.reason.message).not.toContain('hvs.');
    expect(ledgerIds(dir)).toEqual([env.id]);
  });

  it('answers proofs, consistency, verification and head queries that check with the public key alone', async () => {
    const { nats, client, appended, checkpoints, dir } = await setup();
    const w = await startWriter(nats.url, 'lw-proof', dir, { checkpointEveryEntries: 10 });
    handles.push(w);
    const envs = Array.from({ length: 25 }, (_, i) => auditEnvelope(client, 'run-p', i));
    await publishAll(client, envs.slice(0, 12));
    await appended.next(reachedSize(12));
    // 10 entries since the last checkpoint: one is due, signed after the batch that crossed the mark.
    const first = await checkpoints.next((e) => e.type === 'ledger.checkpoint.v1' && e.body.size >= 10);
    const m = first.type === 'ledger.checkpoint.v1' ? first.body.size : -1;
    expect(m).toBeLessThanOrEqual(12);
    await publishAll(client, envs.slice(12));
    await appended.next(reachedSize(25));
    const key = PUBLIC_KEY;

    const inbox = writerInbox('lw-proof');
    const p = await client.ask(inbox, { type: 'ledger.prove.v1', body: { seq: 23 } });
    if (p.type !== 'ledger.inclusion.v1') throw new Error(p.type);
    expect(p.body.treeSize).toBe(25); // no checkpoint covered seq 23: the writer signed one
    expect(checkInclusionProof(p.body, key, Buffer.from(p.body.body))).toEqual({ ok: true });

    const c = await client.ask(inbox, { type: 'ledger.consistency.v1', body: { m, n: 25 } });
    if (c.type !== 'ledger.consistency-proof.v1') throw new Error(c.type);
    expect(checkConsistencyProof(c.body, key)).toEqual({ ok: true });

    const v = await client.ask(inbox, { type: 'ledger.verify.v1', body: {} });
    expect(v.type === 'ledger.verification.v1' && [v.body.ok, v.body.size, v.body.signedSize]).toEqual([
      true,
      25,
      25,
    ]);

    const h = await client.ask(inbox, { type: 'ledger.head.v1', body: {} });
    expect(h.type === 'ledger.checkpoint.v1' && [h.body.size, h.body.ledgerSize]).toEqual([25, 25]);
    await expect(client.ask(inbox, { type: 'ledger.prove.v1', body: { seq: 99 } })).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it('signs a checkpoint every checkpointIntervalMs of the injected clock when the tree has grown, and publishes it', async () => {
    const { nats, client, appended, checkpoints, dir } = await setup();
    const clock = new ManualClock(Date.now());
    const w = await startWriter(nats.url, 'lw-timer', dir, { checkpointIntervalMs: 30_000 }, clock);
    handles.push(w);
    await publishAll(
      client,
      Array.from({ length: 3 }, (_, i) => auditEnvelope(client, 'run-t', i)),
    );
    await appended.next(reachedSize(3));
    expect(checkpoints.seen).toHaveLength(0);
    clock.advance(30_000);
    const cp = await checkpoints.next((e) => e.type === 'ledger.checkpoint.v1');
    expect(
      cp.type === 'ledger.checkpoint.v1' && [cp.body.size, cp.body.ts, cp.body.checkpoint.split('\n')[1]],
    ).toEqual([3, clock.now(), '3']);
    clock.advance(30_000); // nothing new: no second checkpoint
    await client.publishDurable(auditSubject('test'), auditEnvelope(client, 'run-t', 9));
    await appended.next(reachedSize(4));
    clock.advance(30_000);
    await checkpoints.next((e) => e.type === 'ledger.checkpoint.v1' && e.body.size === 4);
    expect(checkpoints.seen.map((e) => (e.type === 'ledger.checkpoint.v1' ? e.body.size : -1))).toEqual([
      3, 4,
    ]);
  });

  it('loses nothing and duplicates nothing when killed mid-burst and restarted', async () => {
    const { nats, client, appended, checkpoints, dir } = await setup();
    // No checkpoint falls due during the burst: only a graceful stop would sign one.
    const w1 = await startWriter(nats.url, 'lw-kill', dir, {
      batchMaxEntries: 50,
      checkpointEveryEntries: 1_000_000,
    });
    const total = 3000;
    const envs = Array.from({ length: total }, (_, i) => auditEnvelope(client, 'run-k', i));
    const publishing = publishAll(client, envs);
    const exits = collect(client, exitSubject('ledger-writer', 'lw-kill'));
    await exits.ready();
    await appended.next((e) => e.type === 'ledger.appended.v1' && e.body.toSeq >= 300);
    await w1.kill();
    // Premises: the kill came mid-burst, and it was a kill: no exit report, and no final checkpoint
    // (a graceful stop flushes and signs one over everything it stored).
    const atKill = ledgerIds(dir).length;
    expect(atKill).toBeGreaterThanOrEqual(300);
    expect(atKill).toBeLessThan(total);
    await client.flush();
    expect(exits.seen).toHaveLength(0);
    expect(checkpoints.seen).toHaveLength(0);
    exits.close();
    const w2 = await startWriter(nats.url, 'lw-kill', dir, { batchMaxEntries: 50 });
    handles.push(w2);
    await publishing;
    await appended.next(reachedSize(total));
    const ids = ledgerIds(dir);
    expect(ids).toHaveLength(total);
    expect(new Set(ids)).toEqual(new Set(envs.map((e) => e.id)));
    await w2.stop();
    expect(verifyLedger(`${dir}/ledger.sqlite`, PUBLIC_KEY).ok).toBe(true);
  });

  it('resumes its consumer after the nats-server is killed and restarted mid-stream, with every event once', async () => {
    const { nats, client, appended, dir } = await setup();
    const w = await startWriter(nats.url, 'lw-nats', dir);
    handles.push(w);
    const total = 1500;
    const envs = Array.from({ length: total }, (_, i) => auditEnvelope(client, 'run-n', i));
    const publishing = publishAll(client, envs, 'test', 32);
    await appended.next((e) => e.type === 'ledger.appended.v1' && e.body.toSeq >= 200);
    await nats.kill();
    await new Promise((r) => setTimeout(r, 300)); // the server is down for a while: nothing to await
    await nats.restart();
    await publishing;
    await appended.next(reachedSize(total), 60_000);
    const ids = ledgerIds(dir);
    expect(ids).toHaveLength(total);
    expect(new Set(ids)).toEqual(new Set(envs.map((e) => e.id)));
    expect(w.state).toBe('running');
  });
});
