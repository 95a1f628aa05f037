/**
 * Persistence of an agent's lifecycle in the Redis-protocol store (Redis or DragonflyDB), so an agent
 * restarted with the same id resumes in the state it was in (suspended, quarantined, promoted…).
 *
 * One key per agent, `<prefix>:{<agentId>}:lifecycle` (the hash tag keeps it on one shard), holding a
 * JSON document: the XState persisted snapshot, the number of restarts, and the task being worked on
 * (with where its result goes, so a restart can report it lost). Plain GET/SET only: nothing
 * Redis-specific that Dragonfly lacks.
 */
import type { Cluster, Redis } from 'ioredis';
import { DecodeError } from '../../protocols/index.ts';
import type { OutboxEntry } from '../runtime/audit-outbox.ts';
import { DEFAULT_AGENT_KEY_PREFIX } from './agent-options.ts';

export const LIFECYCLE_RECORD_VERSION = 1 as const;

/** The task in flight when the record was written: enough to send its result after a restart. */
export interface PersistedTaskRef {
  taskId: string;
  runId: string;
  stageId: string;
  attempt: number;
  replyTo: string;
  kind: string;
}

export interface PersistedAgent {
  v: typeof LIFECYCLE_RECORD_VERSION;
  agentId: string;
  /** `lifecycleActor.getPersistedSnapshot()`, plain JSON. */
  snapshot: unknown;
  /** Times this agent was started again from this record. */
  restarts: number;
  task: PersistedTaskRef | null;
  savedAt: number;
  /** Audit events stored with this state and not acknowledged when it was written (the outbox). */
  outbox?: OutboxEntry[];
  /** Ids of the agent's latest audit events, each implied by a state this record held. */
  auditIds?: string[];
}

/** The key of one agent's record. The id is URI-encoded inside the hash tag so `{`/`}` cannot break it. */
export function lifecycleKey(agentId: string, prefix = DEFAULT_AGENT_KEY_PREFIX): string {
  return `${prefix}:{${encodeURIComponent(agentId)}}:lifecycle`;
}

/** Parses a stored record; throws DecodeError for anything that is not one. */
export function parsePersistedAgent(raw: string): PersistedAgent {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new DecodeError('persisted agent record is not JSON', { cause: err });
  }
  const r = value as Partial<PersistedAgent> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    r.v !== LIFECYCLE_RECORD_VERSION ||
    typeof r.agentId !== 'string' ||
    typeof r.snapshot !== 'object' ||
    r.snapshot === null ||
    typeof r.restarts !== 'number'
  ) {
    throw new DecodeError('persisted agent record has an unknown shape', {
      details: { v: (r as { v?: unknown } | null)?.v },
    });
  }
  return {
    v: r.v,
    agentId: r.agentId,
    snapshot: r.snapshot,
    restarts: r.restarts,
    task: r.task ?? null,
    savedAt: r.savedAt ?? 0,
    ...(Array.isArray(r.outbox) ? { outbox: r.outbox } : {}),
    ...(Array.isArray(r.auditIds) ? { auditIds: r.auditIds } : {}),
  };
}

export class LifecycleStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix = DEFAULT_AGENT_KEY_PREFIX,
  ) {}

  key(agentId: string): string {
    return lifecycleKey(agentId, this.prefix);
  }

  /** The agent's record, or undefined when it has none. Throws DecodeError for a corrupt record. */
  async load(agentId: string): Promise<PersistedAgent | undefined> {
    const raw = await this.redis.get(this.key(agentId));
    return raw === null ? undefined : parsePersistedAgent(raw);
  }

  async save(record: PersistedAgent): Promise<void> {
    await this.redis.set(this.key(record.agentId), JSON.stringify(record));
  }

  async delete(agentId: string): Promise<void> {
    await this.redis.del(this.key(agentId));
  }

  /** Round trip to the store (preflight). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
