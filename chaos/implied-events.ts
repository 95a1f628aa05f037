/**
 * The audit events that persisted state implies, read from every producer's own store: each producer
 * records, in the same write as a state change, the ids of the audit events that change implies
 * (its transactional outbox, actors/runtime/audit-outbox.ts; the orchestrator's run records).
 *
 * - orchestrator: `auditIds` of each run record (KV `agov-runs`);
 * - token authority: `auditIds` of each run token record and `auditId` of each child (Redis `agov:token:*`);
 * - agents: `auditIds` of each lifecycle record, its latest events (Redis `agov:agent:{id}:lifecycle`);
 * - checkpoint actor: `auditIds` of each restore record (KV `agov-checkpoint-restores`);
 * - budget monitor: `auditIds` of each breach record, its breach event (Redis `agov:gov:breach:<runId>`).
 */
import { Redis } from 'ioredis';
import { DEFAULT_AGENT_KEY_PREFIX } from '../actors/agent/index.ts';
import { RESTORE_LOG_BUCKET } from '../actors/context/index.ts';
import { DEFAULT_BUDGET_RUN_KEY_PREFIX } from '../actors/error-budget/index.ts';
import { DEFAULT_RUNS_BUCKET } from '../actors/orchestrator/index.ts';
import { DEFAULT_TOKEN_KEY_PREFIX } from '../actors/token/index.ts';
import type { Bus } from '../bus/index.ts';

export type Producer = 'orchestrator' | 'token-authority' | 'agent' | 'checkpoint' | 'budget-monitor';

/** Event id → the producer whose stored state implies it (and which record, for messages). */
export type Implied = Map<string, { producer: Producer; record: string }>;

async function fromKv(bus: Bus, bucket: string, producer: Producer, out: Implied): Promise<void> {
  const kv = await bus.keyValue(bucket);
  for await (const key of await kv.keys()) {
    const e = await kv.get(key);
    if (e?.operation !== 'PUT' || e.length === 0) continue;
    const rec = e.json<{ auditIds?: string[] }>();
    for (const id of rec.auditIds ?? []) out.set(id, { producer, record: key });
  }
}

async function scan(redis: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

async function fromRedis(redisUrl: string, out: Implied): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    for (const key of await scan(redis, `${DEFAULT_TOKEN_KEY_PREFIX}:run:*`)) {
      const raw = await redis.hget(key, 'auditIds');
      for (const id of raw ? (JSON.parse(raw) as string[]) : [])
        out.set(id, { producer: 'token-authority', record: key });
    }
    for (const key of await scan(redis, `${DEFAULT_TOKEN_KEY_PREFIX}:children:*`))
      for (const raw of await redis.hvals(key)) {
        const id = (JSON.parse(raw) as { auditId?: string }).auditId;
        if (id) out.set(id, { producer: 'token-authority', record: key });
      }
    for (const key of await scan(redis, `${DEFAULT_BUDGET_RUN_KEY_PREFIX}:breach:*`)) {
      if (key.endsWith(':claim')) continue;
      const raw = await redis.get(key);
      for (const id of raw ? ((JSON.parse(raw) as { auditIds?: string[] }).auditIds ?? []) : [])
        out.set(id, { producer: 'budget-monitor', record: key });
    }
    for (const key of await scan(redis, `${DEFAULT_AGENT_KEY_PREFIX}:*:lifecycle`)) {
      const raw = await redis.get(key);
      for (const id of raw ? ((JSON.parse(raw) as { auditIds?: string[] }).auditIds ?? []) : [])
        out.set(id, { producer: 'agent', record: key });
    }
  } finally {
    redis.disconnect();
  }
}

/** Every audit event id implied by the state the producers have stored right now. */
export async function impliedEvents(bus: Bus, redisUrl: string): Promise<Implied> {
  const out: Implied = new Map();
  await fromKv(bus, DEFAULT_RUNS_BUCKET, 'orchestrator', out);
  await fromKv(bus, RESTORE_LOG_BUCKET, 'checkpoint', out);
  await fromRedis(redisUrl, out);
  return out;
}

/** How many implied events each producer has. */
export function byProducer(implied: Implied): Record<string, number> {
  const n: Record<string, number> = {};
  for (const { producer } of implied.values()) n[producer] = (n[producer] ?? 0) + 1;
  return n;
}
