/**
 * The ledger-writer actor: the ONLY consumer of the AUDIT JetStream stream and the only writer of the
 * SQLite ledger. This file wires its parts together:
 * - ledger-writer-ingest.ts: batches from one durable pull consumer, appended in one transaction and
 *   acked once on disk. Appends are idempotent by event id (= envelope id = Nats-Msg-Id), so a message
 *   redelivered after a crash between commit and ack gets no second entry: killed at any point and
 *   restarted, the writer loses nothing and duplicates nothing.
 * - checkpointer.ts: signs the tree head (through the signer of ledger-writer-signer.ts: Vault transit
 *   or a local key) every `checkpointEveryEntries` entries, every `checkpointIntervalMs` (injected
 *   Clock) while the tree grows, and on graceful stop; each is published on the feed as
 *   `ledger.checkpoint.v1` (`gov.obs.ledger.checkpoint`), each committed batch as `ledger.appended.v1`.
 * - ledger-writer-answers.ts: queries, proofs, verification, the head and the public key.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Consuming, ensureStreams, type JsMsg, ledgerWriterConsumer } from '../../bus/index.ts';
import type { Clock, TimerHandle } from '../../infra/index.ts';
import {
  ACTOR_KIND,
  ConfigError,
  InvalidMessageError,
  LedgerStoreError,
  toGovError,
} from '../../protocols/index.ts';
import { type ActorContext, defineActorKind, refuse } from '../runtime/index.ts';
import { keyIdFor, type RemoteCheckpointSigner, type SignedCheckpoint } from './checkpoint.ts';
import { Checkpointer } from './checkpointer.ts';
import { LedgerStore } from './ledger-store.ts';
import { LEDGER_WRITER_ACCEPTS, ledgerAnswers } from './ledger-writer-answers.ts';
import { AuditIngest, type IngestCounts } from './ledger-writer-ingest.ts';
import {
  type LedgerWriterArgs,
  LedgerWriterArgsSchema,
  type LedgerWriterSettings,
  ledgerWriterSettings,
} from './ledger-writer-options.ts';
import { checkpointMessage, writerSigner } from './ledger-writer-signer.ts';
import { keyFingerprint } from './trust.ts';

export { checkpointMessage, loadOrCreateSigner, writerSigner } from './ledger-writer-signer.ts';

export const LEDGER_WRITER_KIND = ACTOR_KIND.ledgerWriter;

/** The writer's store: refuses a ledger signed with another key than the configured one. */
function openWriterStore(
  settings: LedgerWriterSettings,
  signer: RemoteCheckpointSigner,
  clock: Clock,
): LedgerStore {
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
  return store;
}

/** The durable pull consumer of the AUDIT stream; an unexpected end crashes the actor. */
async function consumeAudit(
  ctx: ActorContext<LedgerWriterArgs>,
  settings: LedgerWriterSettings,
  onMessage: (m: JsMsg) => void,
  ending: () => boolean,
): Promise<Consuming> {
  const { bus, log } = ctx;
  await ensureStreams(bus);
  const consumer = await bus.consumer(
    ledgerWriterConsumer({
      durable: settings.consumer,
      ackWaitMs: settings.ackWaitMs,
      maxAckPending: settings.maxAckPending,
    }),
  );
  const messages = await consumer.consume(settings.batchMaxEntries, onMessage);
  void messages.closed().then((err) => {
    if (ending()) return;
    ctx.crash(err ?? new LedgerStoreError('the AUDIT consumer stopped unexpectedly'));
  });
  messages.onStatus((type) => {
    if (type === 'heartbeats_missed' || type === 'consumer_not_found' || type === 'stream_not_found')
      log.warn('audit consumer', { status: type });
  });
  return messages;
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
    const store = openWriterStore(settings, signer, clock);

    const fingerprint = keyFingerprint(signer.publicKey);
    const counts: IngestCounts = { appended: 0, duplicates: 0, deadLettered: 0, batches: 0, checkpoints: 0 };
    let closed = false;
    let stopping = false;
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
    const ingest = new AuditIngest({
      bus,
      log,
      store,
      settings,
      checkpointer,
      counts,
      checkpointSoon,
      crash: (err) => ctx.crash(err),
    });

    try {
      messages = await consumeAudit(ctx, settings, ingest.onMessage, () => closed || stopping);
    } catch (err) {
      store.close();
      throw err;
    }

    if (settings.checkpointIntervalMs > 0) {
      timer = clock.setInterval(() => {
        if (!closed) checkpointSoon();
      }, settings.checkpointIntervalMs);
    }

    const answer = ledgerAnswers({ store, signer, settings, fingerprint, checkpointIfGrown });

    return {
      accepts: [...LEDGER_WRITER_ACCEPTS],
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
          await ingest.flush();
          await Promise.all(ingest.awaitingDisk);
          if (store.size > 0) await checkpointIfGrown();
        } catch (err) {
          log.warn('final flush failed; unacked messages will be redelivered', { error: String(err) });
        }
        closed = true;
        ingest.closed = true;
        store.close();
      },
    };
  },
});
