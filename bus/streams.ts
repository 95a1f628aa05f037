/**
 * Every JetStream stream and durable consumer of the system, declared once here, created
 * idempotently by `ensureStreams` / `ensureConsumer` (safe to call from every process, every start).
 */
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';

/** What declaring streams needs of a bus (`Bus` has it: `ensureStreams(bus)`). */
export interface StreamAdmin {
  jetstreamManager(): Promise<JetStreamManager>;
}
import { allAgentResults, allAudit, allResults, auditPublishers } from '../protocols/subjects.ts';

/** How long JetStream remembers a `Nats-Msg-Id` to drop duplicate publishes. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Audit events are kept for a week in the stream (the SQLite ledger keeps them forever). */
export const DEFAULT_AUDIT_MAX_AGE_MS = 7 * 24 * 3_600_000;

/**
 * Task results nobody took are dropped after this long (a result is taken, and removed, as soon as an
 * orchestrator runs; a week covers any outage worth resuming from).
 */
export const DEFAULT_RESULTS_MAX_AGE_MS = 7 * 24 * 3_600_000;

const ms = (n: number) => n * 1_000_000; // JetStream durations are nanoseconds

export type StreamDeclaration = Pick<StreamConfig, 'name' | 'subjects'> & Partial<StreamConfig>;

/** Auditable events, consumed only by the ledger writer. */
export const AUDIT_STREAM = 'AUDIT';

/**
 * Task progress and results told to `gov.results.<kind>.<agentId>` (an assign's `replyTo`): captured even when
 * the agent does a plain (core) publish and no consumer is connected, kept until a consumer acks them.
 */
export const RESULTS_STREAM = 'RESULTS';

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
    {
      name: RESULTS_STREAM,
      subjects: [allResults()],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: ms(DEFAULT_RESULTS_MAX_AGE_MS),
      duplicate_window: ms(DEFAULT_DUPLICATE_WINDOW_MS),
      num_replicas: 1,
    },
  ];
}

/** Creates each declared stream, or updates it in place when it exists (safe to call from every process). */
export async function ensureStreams(
  bus: StreamAdmin,
  declarations = streamDeclarations(),
): Promise<JetStreamManager> {
  const jsm = await bus.jetstreamManager();
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

export interface ConsumerDeclaration {
  stream: string;
  config: Partial<ConsumerConfig> & { durable_name: string };
}

/**
 * The ledger writer's consumer: every audit event, from the beginning, explicit acks (after commit).
 */
export function ledgerWriterConsumer(o: {
  durable: string;
  ackWaitMs: number;
  maxAckPending: number;
}): ConsumerDeclaration {
  return {
    stream: AUDIT_STREAM,
    config: {
      durable_name: o.durable,
      description: 'the audit ledger writer (only writer of the ledger)',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ms(o.ackWaitMs),
      max_ack_pending: o.maxAckPending,
    },
  };
}

/**
 * A governance actor's own consumer of run events (`gov.audit.run.<principal>`, whoever published
 * them): each actor has its own durable, so a restarted actor resumes where it stopped.
 */
export function runEventsConsumer(o: {
  durable: string;
  ackWaitMs: number;
  startFrom: 'new' | 'all';
}): ConsumerDeclaration {
  return {
    stream: AUDIT_STREAM,
    config: {
      durable_name: o.durable,
      filter_subject: auditPublishers('run'),
      ack_policy: AckPolicy.Explicit,
      ack_wait: ms(o.ackWaitMs),
      deliver_policy: o.startFrom === 'all' ? DeliverPolicy.All : DeliverPolicy.New,
    },
  };
}

/**
 * The orchestrators' consumer of task progress and results (`gov.results.orchestrator.<agentId>`): one durable
 * shared by every instance (each message goes to one of them), explicit acks, sent once the state
 * change a result causes is stored. The stream is a work queue: an acked message is removed.
 */
export function orchestratorResultsConsumer(o: {
  durable: string;
  ackWaitMs: number;
  maxAckPending: number;
}): ConsumerDeclaration {
  return {
    stream: RESULTS_STREAM,
    config: {
      durable_name: o.durable,
      description: 'orchestrators: task progress and results (shared by every instance)',
      filter_subject: allAgentResults('orchestrator'),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ms(o.ackWaitMs),
      max_ack_pending: o.maxAckPending,
    },
  };
}

/**
 * Creates a durable consumer unless it exists. An existing consumer keeps its position; only the
 * settings a running consumer may change (ack wait, max ack pending, description) are updated. One whose
 * filter is not the declared one (run events moved to `gov.audit.run.<principal>`) is made again with
 * the new filter from where its acks stopped: nats-server 2.9 cannot change a consumer's filter.
 */
export async function ensureConsumer(bus: StreamAdmin, decl: ConsumerDeclaration): Promise<void> {
  const jsm = await bus.jetstreamManager();
  const name = decl.config.durable_name;
  try {
    const info = await jsm.consumers.info(decl.stream, name);
    const filter = decl.config.filter_subject;
    if (filter !== undefined && (info.config.filter_subject ?? '') !== filter) {
      await jsm.consumers.delete(decl.stream, name);
      await jsm.consumers.add(decl.stream, {
        ...decl.config,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: info.ack_floor.stream_seq + 1,
      });
      return;
    }
    const { ack_wait, max_ack_pending, description } = decl.config;
    await jsm.consumers.update(decl.stream, name, {
      ...(ack_wait !== undefined ? { ack_wait } : {}),
      ...(max_ack_pending !== undefined ? { max_ack_pending } : {}),
      ...(description !== undefined ? { description } : {}),
    });
    return;
  } catch (err) {
    if (!/consumer not found/i.test(String((err as Error)?.message ?? err))) throw err;
  }
  try {
    await jsm.consumers.add(decl.stream, decl.config);
  } catch (err) {
    // Another instance created it a moment ago.
    if (!/already (in use|exists)/i.test(String((err as Error)?.message ?? err))) throw err;
  }
}
