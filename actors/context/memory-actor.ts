/**
 * The memory actor (kind `memory`, service `gov.svc.memory`): external memory for agents, tasks and
 * operators. Blobs are content-addressed (sha256) in a JetStream object store, each with an entry
 * (metadata and an extractive summary computed on write) in a KV bucket; see memory-store.ts.
 *
 * Tiers (`byTier`, as established by the caller's front door): T0 reads, T1 writes, T2 deletes.
 * The author of a blob is the envelope's sender. Retention: blobs older than `retentionMs` are deleted
 * by a sweep every `sweepMs`. Each store and delete is on the feed (`gov.obs.context.memory`).
 *
 * Agents (T1+) store their tasks' spilled output (the claim check) on `gov.memory.put.<tier>.<agent>`;
 * there only memory.put.v1 is taken, and tier and agent come from the subject (the broker lets an agent
 * publish only under its own id and credential tier), never from the body.
 */
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { InvalidMessageError, toGovError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox, allMemoryPuts, memoryPutSenderOf } from '../../protocols/subjects.ts';
import { isTier } from '../../protocols/vocabulary/tiers.ts';
import type { TimerHandle } from '../../infra/clock/clock.ts';
import { defineActorKind, refuse } from '../runtime/actor-kind.ts';
import { MemoryArgsSchema } from './context-options.ts';
import { type MemoryEntry, MemoryStore, memoryStats } from './memory-store.ts';
import { encodeContent } from '../../protocols/memory-content.ts';
import { requireTier } from './tier-gate.ts';

function decodeContent(content: string, encoding: 'utf8' | 'base64'): Uint8Array {
  if (encoding === 'utf8') return Buffer.from(content, 'utf8');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(content))
    throw new InvalidMessageError('content is not valid base64', { details: { encoding } });
  return Buffer.from(content, 'base64');
}

export const memoryKind = defineActorKind({
  kind: ACTOR_KIND.memory,
  args: MemoryArgsSchema,
  description: 'external memory: content-addressed blobs with summaries (JetStream object store + KV)',
  async start(ctx) {
    const args = ctx.args;
    const store = await MemoryStore.open(ctx.bus, {
      maxBlobBytes: args.maxBlobBytes,
      maxTotalBytes: args.maxTotalBytes,
    });
    const announce = (entry: MemoryEntry, event: 'stored' | 'deleted' | 'expired', by: string) =>
      ctx.bus.emit(['context', 'memory'], {
        type: 'memory.stored.v1',
        body: {
          id: entry.id,
          event,
          size: entry.size,
          ...(entry.runId ? { runId: entry.runId } : {}),
          author: by,
        },
      });
    let sweep: TimerHandle | undefined;
    if (args.retentionMs > 0)
      sweep = ctx.clock.setInterval(() => ctx.self({ type: 'memory.stats.v1', body: {} }), args.sweepMs);
    const expire = async () => {
      if (args.retentionMs <= 0) return;
      for (const e of await store.expire(ctx.clock.now() - args.retentionMs))
        announce(e, 'expired', ctx.address);
    };

    const handle = async (env: Envelope) => {
      switch (env.type) {
        case 'memory.put.v1': {
          const b = env.body;
          const denied = requireTier(b.byTier, 'T1', 'writing memory');
          if (denied) return denied;
          const { entry, created } = await store.put({
            bytes: decodeContent(b.content, b.encoding),
            contentType: b.contentType,
            tags: b.tags,
            runId: b.runId,
            agentId: b.agentId,
            author: env.from,
            now: ctx.clock.now(),
          });
          if (created) announce(entry, 'stored', env.from);
          return { type: 'memory.entry.v1' as const, body: entry };
        }
        case 'memory.get.v1': {
          if (env.body.summaryOnly) {
            const entry = await store.require(env.body.id);
            return { type: 'memory.content.v1' as const, body: { entry } };
          }
          const { entry, bytes } = await store.get(env.body.id);
          return { type: 'memory.content.v1' as const, body: { entry, ...encodeContent(bytes) } };
        }
        case 'memory.list.v1':
          return { type: 'memory.entries.v1' as const, body: await store.list(env.body) };
        case 'memory.stats.v1': {
          // The retention sweep rides on the actor's own stats message so it runs in mailbox order.
          if (env.from === ctx.address) {
            await expire();
            return undefined;
          }
          return { type: 'memory.stats.result.v1' as const, body: memoryStats(await store.entries()) };
        }
        case 'memory.delete.v1': {
          const denied = requireTier(env.body.byTier, 'T2', 'deleting memory');
          if (denied) return denied;
          announce(await store.delete(env.body.id), 'deleted', env.from);
          return { type: 'ack.v1' as const, body: { ok: true as const } };
        }
        default:
          return undefined;
      }
    };

    return {
      accepts: ['memory.put.v1', 'memory.get.v1', 'memory.list.v1', 'memory.stats.v1', 'memory.delete.v1'],
      subscriptions: [{ subject: allMemoryPuts(), queue: `q-${ACTOR_KIND.memory}-put` }],
      async handle(env, inc) {
        try {
          if (inc.subject.startsWith(allMemoryPuts().slice(0, -1))) {
            const sender = memoryPutSenderOf(inc.subject);
            if (!sender || !isTier(sender.tier) || env.type !== 'memory.put.v1')
              throw new InvalidMessageError(
                `an agent's memory put takes only memory.put.v1 on ${allMemoryPuts()}`,
                {
                  details: { subject: inc.subject, type: env.type },
                },
              );
            return await handle({
              ...env,
              from: actorInbox(ACTOR_KIND.agent, sender.agentId),
              body: { ...env.body, byTier: sender.tier, agentId: sender.agentId },
            } as Envelope);
          }
          return await handle(env);
        } catch (err) {
          // Bad input and missing blobs are refusals; storage failures too (the actor stays up).
          return refuse(toGovError(err));
        }
      },
      stop() {
        if (sweep) ctx.clock.clear(sweep);
      },
    };
  },
});
