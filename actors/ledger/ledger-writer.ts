/**
 * The ledger-writer actor: the ONLY consumer of the AUDIT JetStream stream and the only writer of the
 * SQLite ledger.
 *
 * Consumption: one durable pull consumer (explicit ack). Messages delivered together (one socket
 * read, at most `batchMaxEntries`) are decoded, mapped to audit events and appended in ONE
 * transaction (`appendBatch`); each message is acked only once that commit is on disk (group commit:
 * the store commits without fsync and one fsync of the WAL, off the event loop, covers every batch
 * committed before it; messages arriving meanwhile form the next batch). Appends are idempotent
 * by event id (= envelope id = Nats-Msg-Id), so a message redelivered after a crash between commit
 * and ack is acked again without a second entry: killed at any point and restarted, the writer
 * loses nothing and duplicates nothing. An undecodable or invalid message is dead-lettered
 * (`gov.dlq.<code>`) and terminated (`term`), and the rest of its batch still commits. A storage
 * failure naks the batch (JetStream redelivers it) and crashes the actor for its supervisor.
 *
 * Checkpoints: the store signs one every `checkpointEveryEntries` entries inside the append
 * transaction, and the actor signs one every `checkpointIntervalMs` (injected Clock) when the tree
 * has grown, and on graceful stop. Each is published on the feed as `ledger.checkpoint.v1`
 * (`gov.obs.ledger.checkpoint`); each committed batch as `ledger.appended.v1` (`gov.obs.ledger.appended`).
 *
 * Queries (inbox or `gov.svc.ledger-writer`): ledger.query.v1 → ledger.entries.v1, ledger.prove.v1 →
 * ledger.inclusion.v1, ledger.consistency.v1 → ledger.consistency-proof.v1, ledger.verify.v1 →
 * ledger.verification.v1, ledger.head.v1 → ledger.checkpoint.v1.
 *
 * Key: `key` arg / AGOV_LEDGER_KEY (Ed25519 seed hex/base64 or PKCS#8 PEM), else `<dataDir>/ledger-key.pem`,
 * generated on first start with mode 0600 and its public key written beside it (`ledger-key.pub.pem`).
 */
import { ACTOR_KIND } from '../../protocols/index.ts';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Consuming, ensureStreams, type JsMsg, ledgerWriterConsumer } from '../../bus/index.ts';
import type { TimerHandle } from '../../infra/index.ts';
import type { Envelope, OutMessage } from '../../protocols/index.ts';
import {
  ConfigError,
  GovError,
  InvalidMessageError,
  LedgerStoreError,
  NotFoundError,
  toGovError,
} from '../../protocols/index.ts';
import { defineActorKind, refuse } from '../runtime/index.ts';
import { auditEventFromEnvelope } from './audit-event-mapping.ts';
import type { AuditEvent } from './canonical.ts';
import {
  type CheckpointSigner,
  type SignedCheckpoint,
  createSigner,
  formatSignedCheckpoint,
  generateKeyPair,
  keyIdFor,
  publicKeyPem,
  asAsyncSigner,
  type RemoteCheckpointSigner,
} from './checkpoint.ts';
import { LedgerStore, entryView } from './ledger-store.ts';
import {
  LedgerWriterArgsSchema,
  type LedgerWriterSettings,
  ledgerWriterSettings,
} from './ledger-writer-options.ts';
import { proveConsistency, proveInclusion } from './prove.ts';
import { verifyLedger } from './verify.ts';
import { keyFingerprint } from './trust.ts';
import { Checkpointer } from './checkpointer.ts';
import { createTransitSigner } from './transit-signer.ts';

export const LEDGER_WRITER_KIND = ACTOR_KIND.ledgerWriter;

/**
 * The signer from configuration, or from the key file (generated on first start, 0600, public key
 * beside it). Throws ConfigError for bad key material.
 */
export function loadOrCreateSigner(settings: LedgerWriterSettings): CheckpointSigner {
  if (settings.key) return createSigner(settings.key, settings.origin);
  if (!existsSync(settings.keyFile)) {
    mkdirSync(dirname(settings.keyFile), { recursive: true });
    const pair = generateKeyPair();
    try {
      // 'wx': never overwrite a key another starting writer just created.
      writeFileSync(settings.keyFile, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  chmodSync(settings.keyFile, 0o600);
  const signer = createSigner(readFileSync(settings.keyFile, 'utf8'), settings.origin);
  const pem = publicKeyPem(signer.publicKey);
  if (!existsSync(settings.publicKeyFile) || readFileSync(settings.publicKeyFile, 'utf8') !== pem) {
    writeFileSync(settings.publicKeyFile, pem, { mode: 0o644 });
  }
  return signer;
}

/**
 * The writer's checkpoint signer: Vault transit (the key never leaves Vault; the writer's token may only
 * sign with it and read its public half), or a local key (tests, offline tools). For a local key the
 * public half is written beside the ledger; for transit too, as a convenience copy that verifiers check
 * against their pin (docs/ledger.md "Trust").
 */
export async function writerSigner(settings: LedgerWriterSettings): Promise<RemoteCheckpointSigner> {
  if (settings.signer === 'local') return asAsyncSigner(loadOrCreateSigner(settings));
  if (!settings.vaultAddr || !settings.vaultToken) {
    throw new ConfigError('signer vault-transit needs vaultAddr and vaultToken', {
      details: { option: 'vaultAddr' },
    });
  }
  const signer = await createTransitSigner({
    addr: settings.vaultAddr,
    token: settings.vaultToken,
    transitKey: settings.transitKey,
    keyName: settings.origin,
    create: settings.transitCreate,
  });
  const pem = publicKeyPem(signer.publicKey);
  if (!existsSync(settings.publicKeyFile) || readFileSync(settings.publicKeyFile, 'utf8') !== pem) {
    writeFileSync(settings.publicKeyFile, pem, { mode: 0o644 });
  }
  return signer;
}

/** The feed / reply form of a signed checkpoint. */
export function checkpointMessage(
  cp: SignedCheckpoint,
  ledgerSize: number,
  extra: { keyFingerprint?: string; cosignatures?: string[] } = {},
): OutMessage<'ledger.checkpoint.v1'> {
  return {
    type: 'ledger.checkpoint.v1',
    body: {
      origin: cp.origin,
      size: cp.size,
      root: cp.root.toString('hex'),
      ts: cp.ts,
      keyId: cp.keyId,
      checkpoint: formatSignedCheckpoint(cp),
      ledgerSize,
      ...extra,
    },
  };
}

export const ledgerWriterKind = defineActorKind({
  kind: LEDGER_WRITER_KIND,
  description:
    'consumes the AUDIT stream into the tamper-evident SQLite ledger; serves ledger queries and proofs',
  args: LedgerWriterArgsSchema,
  async start(ctx) {
    const { bus, clock, log } = ctx;
    const settings = ledgerWriterSettings(ctx.args);
    mkdirSync(dirname(settings.dbPath), { recursive: true });
    const signer = await writerSigner(settings);
    const store = LedgerStore.open({
      path: settings.dbPath,
      origin: settings.origin,
      // Signing is a request to wherever the key lives (Vault transit): the Checkpointer does it
      // outside the store's transactions, and the store checks what comes back against this key.
      checkpointKey: signer.publicKey,
      checkpointEveryEntries: 0,
      clock,
      synchronous: settings.synchronous,
      // Commits do not block the event loop on the disk: one fsync (off the loop) covers every batch
      // committed before it, and the acks wait for it.
      durability: 'deferred',
    });
    const latest = store.latestCheckpoint();
    if (latest && latest.keyId !== signer.keyId) {
      store.close();
      throw new ConfigError(
        `ledger ${settings.dbPath} was signed with key ${latest.keyId}, not the configured key ${keyIdFor(settings.origin, signer.publicKey)}`,
      );
    }

    const fingerprint = keyFingerprint(signer.publicKey);
    const counts = { appended: 0, duplicates: 0, deadLettered: 0, batches: 0, checkpoints: 0 };
    let closed = false;
    let stopping = false;
    let pending: JsMsg[] = [];
    let flushScheduled = false;
    /** Batches committed and waiting for their fsync before their acks go out. */
    const awaitingDisk = new Set<Promise<void>>();
    let messages: Consuming | undefined;
    let timer: TimerHandle | undefined;

    const publishCheckpoint = (cp: SignedCheckpoint) => {
      counts.checkpoints++;
      try {
        bus.emit(
          ['ledger', 'checkpoint'],
          checkpointMessage(cp, store.size, { keyFingerprint: fingerprint }),
        );
      } catch (err) {
        log.warn('checkpoint not published', { error: String(err) });
      }
    };

    const checkpointer = new Checkpointer(store, signer, settings.checkpointEveryEntries, publishCheckpoint);
    const checkpointIfGrown = () => checkpointer.ifGrown();
    /** A checkpoint that nobody waits for (timer, every N entries): a failure is logged, not fatal. */
    const checkpointSoon = () => {
      void checkpointIfGrown().catch((err: unknown) => {
        if (!closed) log.warn('checkpoint not signed', { error: String(err) });
      });
    };

    const reject = (m: JsMsg, error: unknown) => {
      counts.deadLettered++;
      bus.deadLetter(m, error);
      m.term(); // no reason: '+TERM <reason>' needs nats-server 2.10+, older servers would redeliver
    };

    /**
     * Commits everything delivered so far in one transaction. What the commit makes public (acks,
     * signed checkpoints, the appended feed, reused-id dead letters) goes out once it is on disk;
     * the returned promise settles then (undefined when nothing was pending).
     */
    const flush = (): Promise<void> | undefined => {
      flushScheduled = false;
      if (closed || pending.length === 0) return undefined;
      const batch = pending;
      pending = [];
      const events: AuditEvent[] = [];
      const msgs: JsMsg[] = [];
      const deadBefore = counts.deadLettered;
      for (const m of batch) {
        const decoded = bus.decode(m.data);
        if (!decoded.ok) {
          reject(m, decoded.error);
          continue;
        }
        try {
          events.push(auditEventFromEnvelope(decoded.env, { secrets: settings.secrets }));
          msgs.push(m);
        } catch (err) {
          reject(m, err);
        }
      }
      const sizeBefore = store.size;
      let result: ReturnType<LedgerStore['appendBatch']> | undefined;
      while (events.length > 0) {
        try {
          result = store.appendBatch(events);
          break;
        } catch (err) {
          const index = err instanceof InvalidMessageError ? err.details?.index : undefined;
          if (typeof index === 'number' && msgs[index]) {
            // One bad event: dead-letter it, commit the rest.
            reject(msgs[index]!, err);
            events.splice(index, 1);
            msgs.splice(index, 1);
            continue;
          }
          for (const m of msgs) m.nak();
          throw err instanceof GovError
            ? err
            : new LedgerStoreError(`ledger append failed: ${String(err)}`, { cause: err });
        }
      }
      const sizeAfter = store.size;
      const deadLettered = counts.deadLettered - deadBefore;
      const release = () => {
        let reusedIds = 0;
        if (result) {
          counts.batches++;
          counts.appended += result.appended;
          counts.duplicates += result.duplicates.length;
          for (const d of result.duplicates) {
            if (d.sameContent) continue;
            // Rare (a reused id): a linear search beats building an id map for every batch.
            const m = msgs[events.findIndex((e) => e.id === d.id)];
            const err = new InvalidMessageError(
              `event id ${d.id} was reused with different content; the ledger keeps the first (seq ${d.seq})`,
              {
                details: { id: d.id, seq: d.seq },
              },
            );
            log.warn('event id reused with different content', { id: d.id, seq: d.seq });
            if (m) {
              counts.deadLettered++;
              reusedIds++;
              bus.deadLetter(m, err);
            }
          }
        }
        // Committed and on disk: now, and only now, the acks (fire and forget; the connection
        // writes them out together).
        for (const m of msgs) m.ack();
        if (checkpointer.due()) checkpointSoon();
        try {
          bus.emit(['ledger', 'appended'], {
            type: 'ledger.appended.v1',
            body: {
              fromSeq: sizeBefore,
              toSeq: sizeAfter,
              duplicates: result?.duplicates.length ?? 0,
              deadLettered: deadLettered + reusedIds,
            },
          });
        } catch {
          // feed is best effort
        }
      };
      if (!store.unsynced) {
        release();
        return Promise.resolve();
      }
      const onDisk = store.sync().then(
        () => {
          awaitingDisk.delete(onDisk);
          release();
          // Whatever arrived during the fsync forms the next batch (group commit).
          if (pending.length > 0 && !flushScheduled) safeFlush();
        },
        (err: unknown) => {
          awaitingDisk.delete(onDisk);
          for (const m of msgs) m.nak();
          ctx.crash(err);
        },
      );
      awaitingDisk.add(onDisk);
      return onDisk;
    };

    const safeFlush = () => {
      try {
        flush();
      } catch (err) {
        ctx.crash(err);
      }
    };

    const onMessage = (m: JsMsg) => {
      if (closed) return;
      pending.push(m);
      if (pending.length >= settings.batchMaxEntries) safeFlush();
      else if (!flushScheduled && awaitingDisk.size === 0) {
        flushScheduled = true;
        // Everything that arrived in the same socket read joins this batch. While an fsync is in
        // flight, messages wait for it to finish and then commit together.
        setImmediate(safeFlush);
      }
    };

    try {
      await ensureStreams(bus);
      const consumer = await bus.consumer(
        ledgerWriterConsumer({
          durable: settings.consumer,
          ackWaitMs: settings.ackWaitMs,
          maxAckPending: settings.maxAckPending,
        }),
      );
      messages = await consumer.consume(settings.batchMaxEntries, onMessage);
    } catch (err) {
      store.close();
      throw err;
    }
    void messages.closed().then((err) => {
      if (closed || stopping) return;
      ctx.crash(err ?? new LedgerStoreError('the AUDIT consumer stopped unexpectedly'));
    });
    messages.onStatus((type) => {
      if (type === 'heartbeats_missed' || type === 'consumer_not_found' || type === 'stream_not_found')
        log.warn('audit consumer', { status: type });
    });

    if (settings.checkpointIntervalMs > 0) {
      timer = clock.setInterval(() => {
        if (!closed) checkpointSoon();
      }, settings.checkpointIntervalMs);
    }

    const limitOf = (asked: number | undefined) =>
      Math.min(asked ?? settings.maxQueryEntries, settings.maxQueryEntries);

    const answer = async (env: Envelope): Promise<OutMessage | undefined> => {
      switch (env.type) {
        case 'ledger.query.v1': {
          const { limit, ...filters } = env.body;
          const n = limitOf(limit);
          const rows = store.query({ ...filters, limit: n + 1 });
          return {
            type: 'ledger.entries.v1',
            body: {
              entries: rows.slice(0, n).map((e) => entryView(e)),
              size: store.size,
              more: rows.length > n,
            },
          };
        }
        case 'ledger.prove.v1': {
          const { seq } = env.body;
          if (seq >= store.size)
            throw new NotFoundError(`ledger has no entry at seq ${seq} (size ${store.size})`);
          if (!store.checkpointCovering(seq)) await checkpointIfGrown();
          const proof = proveInclusion(store, seq);
          return {
            type: 'ledger.inclusion.v1',
            body: { ...proof, body: store.entry(seq)!.body.toString('utf8') },
          };
        }
        case 'ledger.cosignature.v1':
          store.addCosignature(env.body.size, env.body.witness, env.body.line);
          return undefined;
        case 'ledger.consistency.v1':
          return {
            type: 'ledger.consistency-proof.v1',
            body: proveConsistency(store, env.body.m, env.body.n),
          };
        case 'ledger.verify.v1':
          return { type: 'ledger.verification.v1', body: verifyLedger(store, signer.publicKey) };
        case 'ledger.head.v1': {
          const cp = env.body.fresh ? await checkpointIfGrown() : store.latestCheckpoint();
          if (!cp)
            throw new NotFoundError(
              'the ledger has no signed checkpoint yet (ask with fresh: true to sign one)',
            );
          return checkpointMessage(cp, store.size, {
            keyFingerprint: fingerprint,
            cosignatures: store.cosignaturesAt(cp.size).map((c) => c.line),
          });
        }
        case 'ledger.key.v1': {
          return {
            type: 'ledger.public-key.v1',
            body: {
              origin: settings.origin,
              publicKey: publicKeyPem(signer.publicKey),
              fingerprint,
              keyId: signer.keyId,
              signer: settings.signer,
            },
          };
        }
        default:
          return undefined;
      }
    };

    return {
      accepts: [
        'ledger.query.v1',
        'ledger.prove.v1',
        'ledger.consistency.v1',
        'ledger.verify.v1',
        'ledger.head.v1',
        'ledger.cosignature.v1',
        'ledger.key.v1',
      ],
      status: () => ({ size: store.size, signedSize: store.latestCheckpoint()?.size ?? 0, ...counts }),
      /**
       * A query that fails (no such entry, no checkpoint of that size) is refused with its typed error
       * without crashing the writer.
       */
      async handle(env) {
        try {
          // Answers never show what is not on disk yet (an entry or a signed head a power loss could undo).
          store.syncNow();
          return await answer(env);
        } catch (err) {
          const error =
            err instanceof RangeError
              ? new InvalidMessageError(err.message, { cause: err })
              : toGovError(err);
          bus.metrics.inc(`ledger.query.refused.${error.code}`);
          return refuse(error);
        }
      },
      async stop() {
        if (closed || stopping) return;
        stopping = true;
        if (timer) clock.clear(timer);
        try {
          await messages?.stop();
        } catch {
          // connection already gone
        }
        try {
          await flush();
          await Promise.all(awaitingDisk);
          if (store.size > 0) await checkpointIfGrown();
        } catch (err) {
          log.warn('final flush failed; unacked messages will be redelivered', { error: String(err) });
        }
        closed = true;
        store.close();
      },
    };
  },
});
