/** Shared helpers of the ledger-writer integration tests. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadPrivateKey, loadPublicKey } from '../../actors/ledger/checkpoint.ts';
import { ledgerWriterKind } from '../../actors/ledger/ledger-writer.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/actor.ts';
import type { Bus } from '../../bus/bus.ts';
import type { Clock } from '../../infra/clock/clock.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { actorInbox, auditSubject } from '../../protocols/subjects.ts';

export const KEY_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
export const PUBLIC_KEY = loadPublicKey(loadPrivateKey(KEY_SEED));

export function writerArgs(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { dataDir: dir, key: KEY_SEED, ackWaitMs: 1_000, checkpointIntervalMs: 0, ...extra };
}

export function startWriter(
  natsUrl: string,
  id: string,
  dir: string,
  extra: Record<string, unknown> = {},
  clock?: Clock,
): Promise<ActorHandle> {
  return runActor(ledgerWriterKind, {
    id,
    args: writerArgs(dir, extra),
    bus: { servers: natsUrl },
    heartbeatMs: 500,
    clock,
  });
}

export const writerInbox = (id: string) => actorInbox('ledger-writer', id);

/** A demo audit envelope of run `run`. */
export function auditEnvelope(bus: Bus, run: string, seq: number): Envelope {
  return bus.wrap({ type: 'demo.count.v1', body: { seq }, run });
}

/** Publishes envelopes durably, `inFlight` at a time, retrying each (same Nats-Msg-Id) until the stream acks it. */
export async function publishAll(
  bus: Bus,
  envs: Envelope[],
  category = 'test',
  inFlight = 128,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < envs.length) {
      const env = envs[next++]!;
      for (let attempt = 0; ; attempt++) {
        try {
          await bus.publishDurable(auditSubject(category), env, { timeoutMs: 2_000 });
          break;
        } catch (err) {
          if (attempt > 300) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

/** Every event id in the ledger file, in seq order (read-only connection). */
export function ledgerIds(dir: string): string[] {
  const db = new Database(join(dir, 'ledger.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT event_id FROM entries ORDER BY seq').all() as { event_id: string }[]).map(
      (r) => r.event_id,
    );
  } finally {
    db.close();
  }
}

export function ledgerSize(dir: string): number {
  try {
    const db = new Database(join(dir, 'ledger.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM entries').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}
