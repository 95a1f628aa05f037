/**
 * JetStream acks under the broker's permissions (protocols/permissions.ts): no principal but admin is
 * granted `$JS.ACK.>`; a consumer acks each message delivered to it through the response permission.
 * The regression pinned here: with `$JS.ACK.>` granted, nats-server 2.9 remembered the reply subject of
 * every delivery to a connection with `resp` for the whole response window (acks allowed by the grant
 * never used it), and past 10 000 remembered it walked them all on every delivery: the ledger bench
 * fell from ~0.7x to 0.017x of raw publish, a little more each round.
 */
import { readFileSync } from 'node:fs';
import { AckPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { Principal } from '../../protocols/permissions.ts';
import { rawConnect, TestServers } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
let admin: NatsConnection;
const WRITER: Principal = { role: 'actor', kind: 'ledger-writer', id: 'acks-writer' };
const WITNESS: Principal = { role: 'actor', kind: 'witness', id: 'acks-witness' };

beforeAll(async () => {
  nats = await servers.nats();
  admin = await rawConnect(nats);
});
afterAll(async () => {
  await admin?.close();
  await servers.stopAll();
});

/** A stream holding `n` small messages and an explicit-ack pull consumer on it. */
async function streamOf(name: string, n: number): Promise<void> {
  const jsm = await jetstreamManager(admin);
  await jsm.streams.add({ name, subjects: [`acks.${name}`] });
  await jsm.consumers.add(name, {
    durable_name: 'c',
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 20_000,
  });
  const js = jetstream(admin);
  const payload = new Uint8Array(64);
  for (let i = 0; i < n; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, n - i) }, () => js.publish(`acks.${name}`, payload)),
    );
  }
}

async function consumerState(name: string) {
  const info = await (await jetstreamManager(admin)).consumers.info(name, 'c');
  return { ackFloor: info.ack_floor.stream_seq, ackPending: info.num_ack_pending };
}

/** nats-server's CPU time so far (user + system, seconds). */
function serverCpuSeconds(): number {
  const fields = readFileSync(`/proc/${nats.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Consumes `n` messages as `principal`, acking each; `at(k)` is called after the k-th ack. */
async function consumeAndAck(principal: Principal, name: string, n: number, at: (k: number) => void) {
  const nc = await rawConnect(nats, principal);
  try {
    const messages = await jetstream(nc)
      .consumers.get(name, 'c')
      .then((c) => c.consume({ max_messages: 500 }));
    let k = 0;
    for await (const m of messages) {
      m.ack();
      at(++k);
      if (k === n) break;
    }
    await nc.flush();
  } finally {
    await nc.close();
  }
}

describe('JetStream acks under the broker permissions', () => {
  it('a consumer principal acks each message delivered to it, through the response permission', async () => {
    await streamOf('OWN', 50);
    await consumeAndAck(WRITER, 'OWN', 50, () => {});
    await expect
      .poll(() => consumerState('OWN'), { timeout: 10_000 })
      .toEqual({ ackFloor: 50, ackPending: 0 });
  });

  it("another principal with JetStream rights cannot ack the ledger writer's deliveries: its forged ack is refused and the message stays pending", async () => {
    await streamOf('FORGE', 1);
    const writer = await rawConnect(nats, WRITER);
    const thief = await rawConnect(nats, WITNESS);
    const violations: string[] = [];
    void (async () => {
      for await (const s of thief.status()) if (s.type === 'error') violations.push(String(s.error));
    })();
    try {
      const c = await jetstream(writer).consumers.get('FORGE', 'c');
      const m: JsMsg | null = await c.next({ expires: 5_000 });
      expect(m).not.toBeNull();
      // The delivery's ack subject, as a thief reading the writer's traffic would learn it.
      const ackSubject = (m as unknown as { reply: string }).reply;
      thief.publish(ackSubject, '+ACK');
      await thief.flush();
      await expect
        .poll(() => violations.join('\n'), { timeout: 10_000 })
        .toContain(`Permissions Violation for Publish to "${ackSubject}"`);
      expect(await consumerState('FORGE')).toEqual({ ackFloor: 0, ackPending: 1 });
      // The consumer it was delivered to still acks it.
      m!.ack();
      await writer.flush();
      await expect
        .poll(() => consumerState('FORGE'), { timeout: 10_000 })
        .toEqual({ ackFloor: 1, ackPending: 0 });
    } finally {
      await thief.close();
      await writer.close();
    }
  });

  it('regression (ledger bench at 0.017x): past 10 000 acked deliveries nats-server spends no more CPU per delivery than at the start', async () => {
    // With `$JS.ACK.>` granted, deliveries 11 000–16 000 each walked 11 000–16 000 remembered replies
    // (several times the CPU of the first 5 000); acked through `resp` they are forgotten.
    const n = 16_000;
    const window = 5_000;
    await streamOf('GROWTH', n);
    const cpu: Record<string, number> = {};
    cpu.start = serverCpuSeconds();
    await consumeAndAck(WRITER, 'GROWTH', n, (k) => {
      if (k === window) cpu.early = serverCpuSeconds();
      if (k === n - window) cpu.lateStart = serverCpuSeconds();
    });
    cpu.end = serverCpuSeconds();
    const early = cpu.early! - cpu.start;
    const late = cpu.end - cpu.lateStart!;
    expect(await consumerState('GROWTH')).toMatchObject({ ackPending: 0 });
    // Clock ticks are 10 ms: allow twice the early cost plus a few ticks of noise.
    expect(
      late,
      `nats-server CPU for deliveries 1–${window}: ${early} s, ${n - window + 1}–${n}: ${late} s`,
    ).toBeLessThan(2 * early + 0.05);
  }, 120_000);
});
