import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointMessage } from '../../actors/ledger/ledger-writer.ts';
import {
  createSigner,
  generateKeyPair,
  keyFingerprint,
  LedgerStore,
  parseSignedCheckpoint,
  publicKeyPem,
} from '../../actors/ledger/index.ts';
import type { ActorHandle } from '../../actors/runtime/actor.ts';
import { runActor } from '../../actors/runtime/actor.ts';
import {
  checkAgainstWitnesses,
  cosignatureProblem,
  parseCosignatureLine,
  WitnessStore,
} from '../../actors/witness/index.ts';
import { witnessKind } from '../../actors/witness/witness.ts';
import { gatewayKind } from '../../actors/gateway/gateway.ts';
import type { Bus } from '../../bus/bus.ts';
import { ensureStreams } from '../../bus/streams.ts';
import { actorInbox, heartbeatSubject, obsSubject, serviceSubject } from '../../protocols/subjects.ts';
import { collect, TestServers, testBus } from '../harness/index.ts';
import { auditEnvelope, KEY_SEED, PUBLIC_KEY, publishAll, startWriter } from './ledger-helpers.ts';

const servers = new TestServers();
const handles: ActorHandle[] = [];
const buses: Bus[] = [];
afterAll(async () => {
  for (const h of handles) await h.stop('test over').catch(() => {});
  for (const b of buses) await b.close();
  await servers.stopAll();
});

async function system(witnessArgs: Record<string, unknown> = {}) {
  const nats = await servers.nats();
  const client = await testBus(nats.url, 'witness-test');
  buses.push(client);
  await ensureStreams(client);
  const cosigned = collect(client, obsSubject('witness', 'cosigned'));
  const alarms = collect(client, obsSubject('witness', 'alarm'));
  const appended = collect(client, obsSubject('ledger', 'appended'));
  await client.flush();
  const dir = servers.tempDir('agov-witness-it-');
  const writer = await startWriter(nats.url, 'lw-w', dir, { checkpointEveryEntries: 0 });
  handles.push(writer);
  const witnessDir = join(dir, 'witness', 'w1');
  const witness = await runActor(witnessKind, {
    id: 'w1',
    args: { dataDir: dir, ledgerKey: publicKeyPem(PUBLIC_KEY), ...witnessArgs },
    bus: { servers: nats.url },
    heartbeatMs: 500,
  });
  handles.push(witness);
  /** Appends `n` events (run r) and has the writer sign a fresh head, which it publishes on the feed. */
  const grow = async (from: number, n: number) => {
    await publishAll(
      client,
      Array.from({ length: n }, (_, i) => auditEnvelope(client, 'r', from + i)),
    );
    await appended.next((e) => e.type === 'ledger.appended.v1' && e.body.toSeq >= from + n);
    const head = await client.ask(serviceSubject('ledger-writer'), {
      type: 'ledger.head.v1',
      body: { fresh: true },
    });
    return head.type === 'ledger.checkpoint.v1' ? head.body : undefined;
  };
  return { nats, client, cosigned, alarms, dir, witnessDir, grow, writer };
}

describe('a witness actor over a real nats-server', () => {
  it('cosigns each checkpoint the writer publishes once it extends the last, and the writer keeps the cosignature', async () => {
    const s = await system();
    const first = await s.grow(0, 5);
    const c1 = await s.cosigned.next((e) => e.type === 'ledger.cosignature.v1' && e.body.size === 5);
    const second = await s.grow(5, 7);
    const c2 = await s.cosigned.next((e) => e.type === 'ledger.cosignature.v1' && e.body.size === 12);
    expect([first?.size, second?.size]).toEqual([5, 12]);

    const state = await s.client.ask(actorInbox('witness', 'w1'), {
      type: 'witness.status.v1',
      body: { all: true },
    });
    expect(state.type).toBe('witness.state.v1');
    if (
      state.type !== 'witness.state.v1' ||
      c1.type !== 'ledger.cosignature.v1' ||
      c2.type !== 'ledger.cosignature.v1'
    )
      return;
    expect(state.body).toMatchObject({ witness: 'w1', size: 12, alarms: 0 });
    expect(state.body.checkpoints).toHaveLength(2);
    const { createPublicKey } = await import('node:crypto');
    const witnessKey = createPublicKey(state.body.publicKey);
    const cp = parseSignedCheckpoint(second!.checkpoint);
    expect(cosignatureProblem(cp, parseCosignatureLine(c2.body.line), witnessKey)).toBeUndefined();

    // The writer kept the line beside its checkpoint; the whole ledger checks out against the witness.
    const ledger = LedgerStore.open({ path: join(s.dir, 'ledger.sqlite'), readonly: true });
    try {
      await expect.poll(() => ledger.cosignaturesAt(12).map((c) => c.witness)).toEqual(['w1']);
      const store = WitnessStore.openForReading(join(s.witnessDir, 'witness.sqlite'));
      const check = checkAgainstWitnesses(ledger, PUBLIC_KEY, [
        { witness: 'w1', publicKey: witnessKey, checkpoints: store.all() },
      ]);
      store.close();
      expect(check).toMatchObject({ ok: true, witnessedSize: 12 });
    } finally {
      ledger.close();
    }
  });

  it('refuses a checkpoint signed with another key and a replayed smaller head, raising alarms on the feed', async () => {
    const s = await system();
    const small = await s.grow(0, 3);
    await s.cosigned.next((e) => e.type === 'ledger.cosignature.v1' && e.body.size === 3);
    await s.grow(3, 3);
    await s.cosigned.next((e) => e.type === 'ledger.cosignature.v1' && e.body.size === 6);

    // A forger with its own key publishes a head of a bigger tree on the checkpoint subject.
    const forged = LedgerStore.open({
      path: join(s.dir, 'forged.sqlite'),
      signer: createSigner(generateKeyPair().seedHex, small!.origin),
      checkpointEveryEntries: 0,
    });
    forged.appendBatch(
      Array.from({ length: 9 }, (_, i) => ({ id: `f-${i}`, ts: 1, type: 't', actor: 'x', data: {} })),
    );
    s.client.emit(['ledger', 'checkpoint'], checkpointMessage(forged.checkpoint(), 9));
    forged.close();
    const bad = await s.alarms.next((e) => e.type === 'witness.alarm.v1');
    expect(bad.type === 'witness.alarm.v1' && bad.body.reason).toBe('bad-signature');

    // A replay of the real, older head of size 3.
    s.client.emit(['ledger', 'checkpoint'], { type: 'ledger.checkpoint.v1', body: small! });
    const shrink = await s.alarms.next((e) => e.type === 'witness.alarm.v1' && e.body.reason === 'shrink');
    expect(shrink.type === 'witness.alarm.v1' && shrink.body.detail).toMatch(
      /below the 6 entries already witnessed/,
    );

    const state = await s.client.ask(actorInbox('witness', 'w1'), { type: 'witness.status.v1', body: {} });
    expect(state.type === 'witness.state.v1' && [state.body.size, state.body.alarms]).toEqual([6, 2]);
  });

  it('regression: leaves a checkpoint unjudged when no consistency proof can be had, neither cosigning nor raising a fork alarm (a stopped writer made the witness cry fork)', async () => {
    const s = await system({ proofTimeoutMs: 300 });
    const first = await s.grow(0, 4);
    await s.cosigned.next((e) => e.type === 'ledger.cosignature.v1' && e.body.size === 4);
    await s.writer.stop('test: the writer goes away');

    // A genuine extension of the witnessed head, signed with the ledger's key, that nobody can prove.
    const copy = LedgerStore.open({
      path: join(s.dir, 'ledger.sqlite'),
      signer: createSigner(KEY_SEED, first!.origin),
      checkpointEveryEntries: 0,
    });
    copy.appendBatch(
      Array.from({ length: 3 }, (_, i) => ({ id: `x-${i}`, ts: 1, type: 't', actor: 'x', data: {} })),
    );
    s.client.emit(['ledger', 'checkpoint'], checkpointMessage(copy.checkpoint(), 7));
    copy.close();

    // The witness handles one message at a time: this answer comes after it judged the checkpoint.
    const state = await s.client.ask(actorInbox('witness', 'w1'), { type: 'witness.status.v1', body: {} });
    expect(state.type === 'witness.state.v1' && [state.body.size, state.body.alarms]).toEqual([4, 0]);
    expect(s.alarms.seen).toHaveLength(0);
  });

  it('publishes the signing key and the latest checkpoint with its cosignatures over the bus and HTTP', async () => {
    const s = await system();
    const head = await s.grow(0, 4);
    await s.cosigned.next((e) => e.type === 'ledger.cosignature.v1' && e.body.size === 4);
    const beats = collect(s.client, heartbeatSubject('gateway', 'gw-ledger'));
    await s.client.flush();
    const gateway = await runActor(gatewayKind, {
      id: 'gw-ledger',
      args: { port: 0, apiKeys: ['ops:T0:t0-key-0123456789'] },
      bus: { servers: s.nats.url },
      heartbeatMs: 200,
    });
    handles.push(gateway);
    const beat = await beats.next(
      (e) => e.type === 'actor.heartbeat.v1' && typeof e.body.status?.url === 'string',
    );
    const url = (beat.type === 'actor.heartbeat.v1' ? beat.body.status?.url : '') as string;
    const key = await fetch(`${url}/api/ledger/key`);
    expect(key.status).toBe(200);
    const keyBody = (await key.json()) as { fingerprint: string; publicKey: string };
    expect(keyBody.fingerprint).toBe(keyFingerprint(PUBLIC_KEY));
    expect(keyBody.publicKey).toBe(publicKeyPem(PUBLIC_KEY));

    expect((await fetch(`${url}/api/ledger/checkpoint`)).status).toBe(401);
    await expect
      .poll(async () => {
        const r = await fetch(`${url}/api/ledger/checkpoint`, {
          headers: { authorization: 'Bearer t0-key-0123456789' },
        });
        const body = (await r.json()) as { size: number; keyFingerprint: string; cosignatures?: string[] };
        return [r.status, body.size, body.keyFingerprint, body.cosignatures?.length];
      })
      .toEqual([200, head!.size, keyFingerprint(PUBLIC_KEY), 1]);
  });

  it('refuses to start with a ledger key other than the one pinned in its store', async () => {
    const s = await system();
    await s.grow(0, 2);
    await s.cosigned.next((e) => e.type === 'ledger.cosignature.v1');
    const other = generateKeyPair();
    const err = await runActor(witnessKind, {
      id: 'w1',
      args: { dataDir: s.dir, ledgerKey: other.publicKeyPem },
      bus: { servers: s.nats.url },
    }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/is pinned to ledger key sha256:[0-9a-f]{64}, not the configured/);
  });
});
