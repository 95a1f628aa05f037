/**
 * The checkpoint actor (kind `checkpoint`, service `gov.svc.checkpoint`): versioned snapshots of what
 * an operator needs to resume (docs/context.md), gathered from the owning actors over the bus
 * (checkpoint-gather.ts) and kept in the KV bucket `agov-checkpoints`, newest `keep` of them.
 *
 * Taken on `checkpoint.take.v1`, every `everyMs` (reason `schedule`), and before every restore
 * (`before-restore`). `checkpoint.restore.v1` (T2, taken only on `gov.ctx.checkpoint.<tier>.<principal>`
 * and recorded under that principal: tier-gate.ts) re-applies the safe parts (checkpoint-logic.ts) as
 * agent commands and audits it (`gov.audit.context`) through a transactional outbox: the `restored`
 * event is stored with the restore's record (restore-log.ts) and republished at start if a SIGKILL
 * cut off its publish. Taken, restored and pruned are on the feed (`gov.obs.context.checkpoint`).
 */
import { StorageType } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { TimerHandle } from '../../infra/clock/clock.ts';
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { BodyOf } from '../../protocols/catalog.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { CheckpointNotFoundError, toGovError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox, allContextRequests, serviceSubject } from '../../protocols/subjects.ts';
import { type ActorContext, defineActorKind, Refusal, refuse } from '../runtime/actor-kind.ts';
import { AuditOutbox } from '../runtime/audit-outbox.ts';
import { RestoreLog } from './restore-log.ts';
import { gatherCheckpoint } from './checkpoint-gather.ts';
import {
  type Checkpoint,
  NOT_RESTORED,
  planRestore,
  type RestoreAction,
  summarizeCheckpoint,
} from './checkpoint-logic.ts';
import { CHECKPOINT_BUCKET, type CheckpointArgs, CheckpointArgsSchema } from './context-options.ts';
import { type ContextCaller, contextCallerOf, requireCaller } from './tier-gate.ts';

export const checkpointId = (seq: number) => `cp-${String(seq).padStart(6, '0')}`;

async function readAll(kv: KV): Promise<Checkpoint[]> {
  const out: Checkpoint[] = [];
  for await (const k of await kv.keys()) {
    const e = await kv.get(k);
    if (e && e.operation === 'PUT' && e.value.length > 0) out.push(JSON.parse(e.string()) as Checkpoint);
  }
  return out.sort((a, b) => a.seq - b.seq);
}

class CheckpointKeeper {
  private lastSeq = 0;
  readonly outbox: AuditOutbox;
  constructor(
    private readonly ctx: ActorContext<CheckpointArgs>,
    private readonly kv: KV,
    private readonly restores: RestoreLog,
  ) {
    this.outbox = new AuditOutbox(ctx.bus, restores, {
      log: ctx.log,
      clock: ctx.clock,
      metric: 'checkpoint.outbox',
    });
  }

  async init() {
    const all = await readAll(this.kv);
    this.lastSeq = all.at(-1)?.seq ?? 0;
  }

  private event(body: BodyOf<'checkpoint.event.v1'>) {
    this.ctx.bus.emit(['context', 'checkpoint'], { type: 'checkpoint.event.v1', body });
  }

  async take(reason: Checkpoint['reason'], notes: string | undefined, by: string): Promise<Checkpoint> {
    const a = this.ctx.args;
    const parts = await gatherCheckpoint(
      this.ctx.bus,
      {
        timeoutMs: a.sourceTimeoutMs,
        maxRuns: a.maxRuns,
        recentMemory: a.recentMemory,
        rootSupervisor: a.rootSupervisor,
      },
      () => this.ctx.clock.now(),
    );
    const seq = ++this.lastSeq;
    const cp: Checkpoint = {
      id: checkpointId(seq),
      version: 1,
      seq,
      createdAt: this.ctx.clock.now(),
      takenBy: by,
      reason,
      ...(notes ? { notes } : {}),
      ...parts,
    };
    await this.kv.put(cp.id, JSON.stringify(cp));
    this.event({ checkpointId: cp.id, event: 'taken', seq, reason, by });
    await this.prune();
    return cp;
  }

  private async prune() {
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) keys.push(k);
    keys.sort();
    for (const k of keys.slice(0, Math.max(0, keys.length - this.ctx.args.keep))) {
      await this.kv.delete(k);
      this.event({ checkpointId: k, event: 'pruned', by: this.ctx.address });
    }
  }

  async get(id: string | undefined): Promise<Checkpoint> {
    if (id === undefined) {
      const latest = (await readAll(this.kv)).at(-1);
      if (!latest)
        throw new CheckpointNotFoundError('no checkpoint has been taken yet (agov checkpoint now)');
      return latest;
    }
    const e = /^[A-Za-z0-9_-]{1,128}$/.test(id) ? await this.kv.get(id) : null;
    if (e?.operation !== 'PUT' || e.value.length === 0)
      throw new CheckpointNotFoundError(`no checkpoint ${JSON.stringify(id.slice(0, 80))}`, {
        details: { id: id.slice(0, 80) },
      });
    return JSON.parse(e.string()) as Checkpoint;
  }

  async timeline(limit: number): Promise<BodyOf<'checkpoint.timeline.v1'>> {
    const all = await readAll(this.kv);
    const out = all.map((c, i) => summarizeCheckpoint(c, all[i - 1]));
    return { checkpoints: out.slice(-limit) };
  }

  /** `by`: the restorer the broker vouched for (gov.ctx.checkpoint.T2.<principal>), never the body's. */
  async restore(
    body: BodyOf<'checkpoint.restore.v1'>,
    by: string,
  ): Promise<BodyOf<'checkpoint.restored.v1'>> {
    const cp = await this.get(body.id);
    const current = await this.ctx.bus.ask(
      serviceSubject(ACTOR_KIND.agentDirectory),
      { type: 'agent.status.v1', body: {} },
      { timeoutMs: this.ctx.args.sourceTimeoutMs },
    );
    const agents = current.type === 'agent.states.v1' ? current.body.agents : [];
    const runs = await this.ctx.bus
      .ask(
        serviceSubject(ACTOR_KIND.orchestrator),
        { type: 'run.list.v1', body: { status: 'running' } },
        { timeoutMs: this.ctx.args.sourceTimeoutMs },
      )
      .then((r) => (r.type === 'run.states.v1' ? r.body.runs : []))
      .catch(() => []);
    const plan = planRestore(cp, agents, runs);
    if (body.dryRun) return { checkpointId: cp.id, actions: plan, notRestored: NOT_RESTORED };
    const before = await this.take('before-restore', `before restoring ${cp.id}`, by);
    const actions: RestoreAction[] = [];
    for (const action of plan) {
      if (action.outcome !== 'planned') {
        actions.push(action);
        continue;
      }
      try {
        if (action.kind === 'run-pause') {
          await this.ctx.bus.ask(
            serviceSubject(ACTOR_KIND.orchestrator),
            {
              type: 'run.pause.v1',
              body: { runId: action.target, by, reason: `restore of checkpoint ${cp.id}` },
            },
            { timeoutMs: this.ctx.args.sourceTimeoutMs },
          );
          actions.push({ ...action, outcome: 'applied' });
          continue;
        }
        await this.ctx.bus.ask(
          actorInbox(ACTOR_KIND.agent, action.target),
          {
            type: 'agent.command.v1',
            body: {
              command: action.command as BodyOf<'agent.command.v1'>['command'],
              byTier: 'T2',
              by,
              reason: `restore of checkpoint ${cp.id}`,
            },
          },
          { timeoutMs: this.ctx.args.sourceTimeoutMs },
        );
        actions.push({ ...action, outcome: 'applied' });
      } catch (err) {
        actions.push({
          ...action,
          outcome: 'failed',
          detail: `${action.detail ?? ''} ${toGovError(err).code}`.trim(),
        });
      }
    }
    const result = { checkpointId: cp.id, before: before.id, actions, notRestored: NOT_RESTORED };
    const restored = this.outbox.prepare('context', {
      type: 'checkpoint.event.v1',
      body: { checkpointId: cp.id, event: 'restored', by, actions: actions.length },
    });
    await this.restores.record({
      id: before.id,
      checkpointId: cp.id,
      by,
      at: this.ctx.clock.now(),
      actions: actions.length,
      auditIds: [restored.env.id],
      outbox: [restored],
    });
    await this.outbox.send([restored]);
    this.event({ checkpointId: cp.id, event: 'restored', by, actions: actions.length });
    return result;
  }
}

export const checkpointKind = defineActorKind({
  kind: ACTOR_KIND.checkpoint,
  args: CheckpointArgsSchema,
  description: 'checkpoints: snapshots gathered over the bus, timeline, safe restore (JetStream KV)',
  async start(ctx) {
    const kv = await ctx.bus.keyValue(CHECKPOINT_BUCKET, { history: 1, storage: StorageType.File });
    const keeper = new CheckpointKeeper(ctx, kv, await RestoreLog.open(ctx.bus));
    await keeper.init();
    await keeper.outbox.recover();
    let timer: TimerHandle | undefined;
    if (ctx.args.everyMs > 0)
      timer = ctx.clock.setInterval(
        () => ctx.self({ type: 'checkpoint.take.v1', body: { reason: 'schedule' } }),
        ctx.args.everyMs,
      );
    const handle = async (env: Envelope, from: ContextCaller | undefined) => {
      switch (env.type) {
        case 'checkpoint.take.v1': {
          // On gov.svc.checkpoint only system credentials (and the schedule) take checkpoints; an
          // operator's take comes on gov.ctx and is recorded under the principal the broker vouched for.
          const caller = from && requireCaller(ACTOR_KIND.checkpoint, from, 'T1', 'taking a checkpoint');
          if (caller instanceof Refusal) return caller;
          return {
            type: 'checkpoint.v1' as const,
            body: await keeper.take(env.body.reason, env.body.notes, caller?.principal ?? env.from),
          };
        }
        case 'checkpoint.get.v1':
          return { type: 'checkpoint.v1' as const, body: await keeper.get(env.body.id) };
        case 'checkpoint.list.v1':
          return { type: 'checkpoint.timeline.v1' as const, body: await keeper.timeline(env.body.limit) };
        case 'checkpoint.restore.v1': {
          const caller = requireCaller(ACTOR_KIND.checkpoint, from, 'T2', 'restoring a checkpoint');
          if (caller instanceof Refusal) return caller;
          return {
            type: 'checkpoint.restored.v1' as const,
            body: await keeper.restore(env.body, caller.principal),
          };
        }
        default:
          return undefined;
      }
    };
    return {
      accepts: ['checkpoint.take.v1', 'checkpoint.get.v1', 'checkpoint.list.v1', 'checkpoint.restore.v1'],
      subscriptions: [
        { subject: allContextRequests(ACTOR_KIND.checkpoint), queue: `q-${ACTOR_KIND.checkpoint}-ctx` },
      ],
      async handle(env, inc) {
        try {
          return await handle(env, contextCallerOf(ACTOR_KIND.checkpoint, inc.subject));
        } catch (err) {
          return refuse(toGovError(err));
        }
      },
      async stop() {
        if (timer) ctx.clock.clear(timer);
        await keeper.outbox.settled();
        keeper.outbox.close();
      },
    };
  },
});
