/**
 * The memory actor (kind `memory`, service `gov.svc.memory`): external memory for agents, tasks and
 * operators. Blobs are content-addressed (sha256) in a JetStream object store, each with an entry
 * (metadata and an extractive summary computed on write) in a KV bucket; see memory-store.ts.
 *
 * Tiers: T0 reads, T1 writes, T2 deletes. Writes and deletes are taken only where the broker vouches
 * for the caller — `gov.ctx.memory.<tier>.<principal>` (operators' CLI, gateway) and
 * `gov.memory.put.<tier>.<agent>` (agents) — and a blob's author is that principal, never a body's
 * `byTier` or the envelope's `from` (tier-gate.ts). Retention: blobs older than `retentionMs` are deleted
 * by a sweep every `sweepMs`. Each store and delete is on the feed (`gov.obs.context.memory`).
 *
 * Agents (T1+) store their tasks' spilled output (the claim check) on `gov.memory.put.<tier>.<agent>`;
 * there only memory.put.v1 is taken, and tier and agent come from the subject (the broker lets an agent
 * publish only under its own id and credential tier), never from the body.
 */
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { InvalidMessageError, toGovError } from '../../protocols/vocabulary/errors.ts';
import { agentPrincipalName } from '../../protocols/permissions.ts';
import { allContextRequests, allMemoryPuts, memoryPutSenderOf } from '../../protocols/subjects.ts';
import { isTier } from '../../protocols/vocabulary/tiers.ts';
import type { TimerHandle } from '../../infra/clock/index.ts';
import { defineActorKind, refuse } from '../runtime/actor-kind.ts';
import { MemoryArgsSchema } from './context-options.ts';
import { type MemoryEntry, MemoryStore, memoryStats } from './memory-store.ts';
import { encodeContent } from '../../protocols/memory-content.ts';
import { type ContextCaller, contextCallerOf, requireCaller } from './tier-gate.ts';
import { Refusal } from '../runtime/actor-kind.ts';

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

    const handle = async (env: Envelope, from: ContextCaller | undefined) => {
      switch (env.type) {
        case 'memory.put.v1': {
          const b = env.body;
          const caller = requireCaller(ACTOR_KIND.memory, from, 'T1', 'writing memory');
          if (caller instanceof Refusal) return caller;
          const { entry, created } = await store.put({
            bytes: decodeContent(b.content, b.encoding),
            contentType: b.contentType,
            tags: b.tags,
            runId: b.runId,
            agentId: b.agentId,
            author: caller.principal,
            now: ctx.clock.now(),
          });
          if (created) announce(entry, 'stored', caller.principal);
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
          const caller = requireCaller(ACTOR_KIND.memory, from, 'T2', 'deleting memory');
          if (caller instanceof Refusal) return caller;
          announce(await store.delete(env.body.id), 'deleted', caller.principal);
          return { type: 'ack.v1' as const, body: { ok: true as const } };
        }
        default:
          return undefined;
      }
    };

    return {
      accepts: ['memory.put.v1', 'memory.get.v1', 'memory.list.v1', 'memory.stats.v1', 'memory.delete.v1'],
      subscriptions: [
        { subject: allMemoryPuts(), queue: `q-${ACTOR_KIND.memory}-put` },
        { subject: allContextRequests(ACTOR_KIND.memory), queue: `q-${ACTOR_KIND.memory}-ctx` },
      ],
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
            const agent = { tier: sender.tier, principal: agentPrincipalName(sender.agentId) };
            return await handle(
              { ...env, body: { ...env.body, agentId: sender.agentId } } as Envelope,
              agent,
            );
          }
          return await handle(env, contextCallerOf(ACTOR_KIND.memory, inc.subject));
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
