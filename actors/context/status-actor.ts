/**
 * The work-status actor (kind `work-status`, service `gov.svc.work-status`): what is being worked on
 * where. Targets (a directory, `repo:<name>`, `service:<name>`) are updated by agents, tasks (with
 * their run's `runId`) and operators; each target is one JSON entry in the KV bucket `agov-status`.
 * `status.sweep.v1` checks every target (path exists, updated within its bound, owner agent alive,
 * asking the agent directory) and stores the flags. Changes are on the feed (`gov.obs.context.status`).
 * Tiers: T0 reads, T1 updates, T2 deletes. Updates and deletes are taken only on
 * `gov.ctx.work-status.<tier>.<principal>`, and recorded as done by that principal (tier-gate.ts).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { StorageType } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { InvalidTargetError, NotFoundError, toGovError } from '../../protocols/vocabulary/errors.ts';
import { allContextRequests, serviceSubject } from '../../protocols/subjects.ts';
import { defineActorKind, Refusal, refuse } from '../runtime/actor-kind.ts';
import { STATUS_BUCKET, WorkStatusArgsSchema } from './context-options.ts';
import {
  applyUpdate,
  dashboard,
  parseTarget,
  sweepFlags,
  targetKey,
  type WorkTarget,
} from './status-logic.ts';
import { type ContextCaller, contextCallerOf, requireCaller } from './tier-gate.ts';

const GONE = new Set(['exited', 'crashed', 'unreachable', 'terminated']);

export async function readTargets(kv: KV): Promise<WorkTarget[]> {
  const out: WorkTarget[] = [];
  for await (const k of await kv.keys()) {
    const e = await kv.get(k);
    if (e && e.operation === 'PUT' && e.value.length > 0) out.push(JSON.parse(e.string()) as WorkTarget);
  }
  return out;
}

export const workStatusKind = defineActorKind({
  kind: ACTOR_KIND.workStatus,
  args: WorkStatusArgsSchema,
  description: 'work status per target (directory, repository, service): updates, sweep, dashboard',
  async start(ctx) {
    const args = ctx.args;
    const kv = await ctx.bus.keyValue(STATUS_BUCKET, { history: 1, storage: StorageType.File });
    const read = async (target: string): Promise<WorkTarget | undefined> => {
      const e = await kv.get(targetKey(target));
      return e && e.operation === 'PUT' && e.value.length > 0
        ? (JSON.parse(e.string()) as WorkTarget)
        : undefined;
    };
    const write = (t: WorkTarget) => kv.put(targetKey(t.target), JSON.stringify(t));
    const changed = (t: WorkTarget, event: 'updated' | 'flagged' | 'deleted', by: string) =>
      ctx.bus.emit(['context', 'status'], {
        type: 'status.changed.v1',
        body: { target: t.target, event, phase: t.phase, progress: t.progress, flags: t.flags, by },
      });

    const aliveAgents = async (): Promise<Map<string, boolean> | undefined> => {
      try {
        const reply = await ctx.bus.ask(
          serviceSubject(ACTOR_KIND.agentDirectory),
          { type: 'agent.status.v1', body: {} },
          { timeoutMs: args.askTimeoutMs },
        );
        if (reply.type !== 'agent.states.v1') return undefined;
        return new Map(reply.body.agents.map((a) => [a.agentId, !GONE.has(a.state)]));
      } catch {
        return undefined;
      }
    };

    const handle = async (env: Envelope, from: ContextCaller | undefined) => {
      switch (env.type) {
        case 'status.update.v1': {
          const caller = requireCaller(ACTOR_KIND.workStatus, from, 'T1', 'updating work status');
          if (caller instanceof Refusal) return caller;
          const { target } = parseTarget(env.body.target, env.body.kind);
          const previous = await read(target);
          if (!previous && (await readTargets(kv)).length >= args.maxTargets)
            throw new InvalidTargetError(`no room for another target (maxTargets ${args.maxTargets})`, {
              details: { maxTargets: args.maxTargets },
            });
          const next = applyUpdate(
            previous,
            { ...env.body, target },
            {
              by: caller.principal,
              now: ctx.clock.now(),
              defaultStaleAfterMs: args.staleAfterMs,
            },
          );
          await write(next);
          changed(next, 'updated', caller.principal);
          return { type: 'status.target.v1' as const, body: next };
        }
        case 'status.query.v1': {
          if (env.body.target !== undefined) {
            const t = await read(parseTarget(env.body.target).target);
            if (!t)
              throw new NotFoundError(`no target ${env.body.target}`, {
                details: { target: env.body.target },
              });
            return { type: 'status.dashboard.v1' as const, body: dashboard([t]) };
          }
          return { type: 'status.dashboard.v1' as const, body: dashboard(await readTargets(kv)) };
        }
        case 'status.sweep.v1': {
          const now = ctx.clock.now();
          const agents = await aliveAgents();
          const out: WorkTarget[] = [];
          for (const t of await readTargets(kv)) {
            const flags = sweepFlags(t, {
              now,
              exists:
                t.kind === 'directory'
                  ? existsSync(resolve(args.baseDir ?? process.cwd(), t.target))
                  : undefined,
              ownerAlive: t.owner && agents ? (agents.get(t.owner) ?? false) : undefined,
            });
            const next = { ...t, flags, sweptAt: now };
            await write(next);
            if (flags.join() !== t.flags.join()) changed(next, 'flagged', ctx.address);
            out.push(next);
          }
          return { type: 'status.dashboard.v1' as const, body: dashboard(out) };
        }
        case 'status.delete.v1': {
          const caller = requireCaller(ACTOR_KIND.workStatus, from, 'T2', 'deleting a work target');
          if (caller instanceof Refusal) return caller;
          const t = await read(parseTarget(env.body.target).target);
          if (!t)
            throw new NotFoundError(`no target ${env.body.target}`, { details: { target: env.body.target } });
          await kv.delete(targetKey(t.target));
          changed(t, 'deleted', caller.principal);
          return { type: 'ack.v1' as const, body: { ok: true as const } };
        }
        default:
          return undefined;
      }
    };

    return {
      accepts: ['status.update.v1', 'status.query.v1', 'status.sweep.v1', 'status.delete.v1'],
      subscriptions: [
        { subject: allContextRequests(ACTOR_KIND.workStatus), queue: `q-${ACTOR_KIND.workStatus}-ctx` },
      ],
      async handle(env, inc) {
        try {
          return await handle(env, contextCallerOf(ACTOR_KIND.workStatus, inc.subject));
        } catch (err) {
          return refuse(toGovError(err));
        }
      },
    };
  },
});
