/**
 * Every JetStream stream of the system, declared once, created idempotently by `ensureStreams`.
 */
import {
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { allAudit } from '../protocols/subjects.ts';

/** How long JetStream remembers a `Nats-Msg-Id` to drop duplicate publishes. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Audit events are kept for a week in the stream (the SQLite ledger keeps them forever). */
export const DEFAULT_AUDIT_MAX_AGE_MS = 7 * 24 * 3_600_000;

const ms = (n: number) => n * 1_000_000; // JetStream durations are nanoseconds

export type StreamDeclaration = Pick<StreamConfig, 'name' | 'subjects'> & Partial<StreamConfig>;

/** Auditable events, consumed only by the ledger writer. */
export const AUDIT_STREAM = 'AUDIT';

export function streamDeclarations(): StreamDeclaration[] {
  return [
    {
      name: AUDIT_STREAM,
      subjects: [allAudit()],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: ms(DEFAULT_AUDIT_MAX_AGE_MS),
      duplicate_window: ms(DEFAULT_DUPLICATE_WINDOW_MS),
      num_replicas: 1,
    },
  ];
}

/** Creates each declared stream, or updates it in place when it exists (safe to call from every process). */
export async function ensureStreams(nc: NatsConnection, declarations = streamDeclarations()): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  for (const decl of declarations) {
    try {
      await jsm.streams.info(decl.name);
      await jsm.streams.update(decl.name, decl);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      try {
        await jsm.streams.add(decl);
      } catch (addErr) {
        // Another process won the race to create it.
        if (!String(addErr).includes('already in use')) throw addErr;
      }
    }
  }
  return jsm;
}

function isStreamNotFound(err: unknown): boolean {
  const s = String((err as { message?: string })?.message ?? err);
  return s.includes('stream not found') || (err as { code?: number })?.code === 404;
}
