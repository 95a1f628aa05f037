/**
 * The control actor (kind `control`): operator controls over agents, runs, budgets and tokens
 * (docs/protocol.md "Operator controls"). It listens on `gov.ctl.>` only; the subject a command
 * arrives on, `gov.ctl.<tier>.<principal>`, is the caller's authority: the broker lets a principal
 * publish there only under its own name and with the tier its credential grants
 * (protocols/permissions.ts: the operator's client credential and T2 agents T2, a gateway the tier of
 * the API key it verified). Nothing in the body raises it.
 *
 * Each control is applied by the service that owns the state (the agent itself, the orchestrator, the
 * budget monitor, the token authority), named as done by the verified actor, and audited here
 * (`control.result.v1` on `gov.audit.control`) whether applied or refused. A control that cannot be
 * undone (run cancel, budget reset, token revoke) is applied only after the checkpoint actor has taken a
 * `before-control` checkpoint, or has failed to within `checkpointTimeoutMs` (the record says which).
 */
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import {
  ForbiddenError,
  type GovError,
  TierForbiddenError,
  toGovError,
} from '../../protocols/vocabulary/errors.ts';
import {
  actorInbox,
  allControl,
  auditSubject,
  controlSenderOf,
  serviceSubject,
} from '../../protocols/subjects.ts';
import { isTier, type Tier, tierAtLeast } from '../../protocols/vocabulary/tiers.ts';
import { type ActorContext, defineActorKind, refuse } from '../runtime/actor-kind.ts';
import {
  CONTROL_AUDIT_CATEGORY,
  ControlArgsSchema,
  type ControlArgs,
  isIrreversible,
  requiredTierOf,
} from './control-options.ts';

type Command = Envelope<'control.command.v1'>['body'];

/** The verified caller of a control: tier and principal from the subject, the gateway's key name added. */
export function callerOf(subject: string, body: Command): { tier: Tier; actor: string } {
  const sender = controlSenderOf(subject);
  if (!sender || !isTier(sender.tier)) {
    throw new ForbiddenError(
      `operator controls are taken only on gov.ctl.<tier>.<principal>, not ${subject}`,
      {
        details: { subject },
      },
    );
  }
  const viaGateway = sender.principal.startsWith(`${ACTOR_KIND.gateway}-`);
  const actor = viaGateway && body.onBehalfOf ? `${sender.principal}/${body.onBehalfOf}` : sender.principal;
  return { tier: sender.tier, actor };
}

/**
 * The checkpoint before a control that cannot be undone. Never throws: a control is applied even when
 * context management is down, and its audit record says the checkpoint is missing.
 */
async function checkpointBefore(
  ctx: ActorContext<ControlArgs>,
  cmd: Command,
  actor: string,
): Promise<{ id?: string; missing?: string }> {
  try {
    const reply = await ctx.bus.ask(
      serviceSubject(ACTOR_KIND.checkpoint),
      {
        type: 'checkpoint.take.v1',
        body: { reason: 'before-control', notes: `before ${cmd.on} ${cmd.command} ${cmd.id} by ${actor}` },
      },
      { timeoutMs: ctx.args.checkpointTimeoutMs },
    );
    return reply.type === 'checkpoint.v1' ? { id: reply.body.id } : { missing: `answered ${reply.type}` };
  } catch (err) {
    const e = toGovError(err);
    ctx.log.warn('no checkpoint before an irreversible control', {
      on: cmd.on,
      id: cmd.id,
      error: e.message,
    });
    return { missing: `${e.code}: ${e.message}` };
  }
}

/** Asks the service that owns the state to apply `cmd`; returns its reply body. */
async function apply(
  ctx: ActorContext<ControlArgs>,
  cmd: Command,
  tier: Tier,
  actor: string,
): Promise<unknown> {
  const ask = async (subject: string, msg: OutMessage) =>
    (await ctx.bus.ask(subject, msg, { timeoutMs: ctx.args.askTimeoutMs })).body;
  const reason = cmd.reason ?? `${cmd.command} by ${actor}`;
  switch (cmd.on) {
    case 'agent':
      return ask(actorInbox(ACTOR_KIND.agent, cmd.id), {
        type: 'agent.command.v1',
        body: { command: cmd.command, byTier: tier, by: actor, reason },
      });
    case 'run':
      return ask(serviceSubject(ACTOR_KIND.orchestrator), {
        type:
          cmd.command === 'cancel'
            ? 'run.cancel.v1'
            : cmd.command === 'pause'
              ? 'run.pause.v1'
              : 'run.resume.v1',
        body: { runId: cmd.id, reason, by: actor },
      });
    case 'budget':
      return ask(
        serviceSubject(ACTOR_KIND.budgetMonitor),
        cmd.command === 'show'
          ? { type: 'budget.status.v1', body: { runId: cmd.id } }
          : { type: 'budget.reset.v1', body: { runId: cmd.id, by: actor, reason } },
      );
    case 'token':
      return ask(serviceSubject(ACTOR_KIND.tokenAuthority), {
        type: 'token.revoke.v1',
        body: { runId: cmd.id, reason, by: actor },
      });
  }
}

export const controlKind = defineActorKind({
  kind: ACTOR_KIND.control,
  args: ControlArgsSchema,
  description: 'operator controls (agents, runs, budgets, tokens) with the authority of the credential',
  start(ctx) {
    const audit = async (body: OutMessage<'control.result.v1'>['body'], cmd: Command) => {
      const run = cmd.on === 'agent' ? undefined : cmd.id;
      const env = ctx.bus.wrap({ type: 'control.result.v1', body, ...(run ? { run } : {}) });
      try {
        await ctx.bus.publishDurable(auditSubject(CONTROL_AUDIT_CATEGORY, ctx.bus.principal()), env, {
          timeoutMs: ctx.args.auditTimeoutMs,
        });
      } catch (err) {
        ctx.log.warn('audit record of an operator control was not stored', { error: String(err) });
      }
      ctx.bus.emit(['control', cmd.on], { type: 'control.result.v1', body });
    };

    return {
      accepts: ['control.command.v1'],
      service: false,
      subscriptions: [{ subject: allControl(), queue: `q-${ACTOR_KIND.control}` }],
      async handle(env, inc) {
        if (env.type !== 'control.command.v1') return undefined;
        const cmd = env.body;
        let caller: { tier: Tier; actor: string };
        try {
          caller = callerOf(inc.subject, cmd);
        } catch (err) {
          return refuse(toGovError(err));
        }
        const base = { on: cmd.on, id: cmd.id, command: cmd.command, actor: caller.actor, tier: caller.tier };
        const required = requiredTierOf(cmd.on, cmd.command);
        let error: GovError | undefined;
        let detail: unknown;
        let checkpoint: { id?: string; missing?: string } | undefined;
        if (!tierAtLeast(caller.tier, required)) {
          error = new TierForbiddenError(
            `${cmd.on} ${cmd.command} needs tier ${required}; ${caller.actor} has ${caller.tier}`,
            { details: { on: cmd.on, command: cmd.command, required, tier: caller.tier } },
          );
        } else {
          if (ctx.args.checkpointBefore && isIrreversible(cmd.on, cmd.command))
            checkpoint = await checkpointBefore(ctx, cmd, caller.actor);
          try {
            detail = await apply(ctx, cmd, caller.tier, caller.actor);
          } catch (err) {
            error = toGovError(err);
          }
        }
        const withCheckpoint = checkpoint ? { ...base, checkpoint } : base;
        const body = error
          ? {
              ...withCheckpoint,
              outcome: 'refused' as const,
              error: { code: error.code, message: error.message },
            }
          : { ...withCheckpoint, outcome: 'applied' as const, ...(detail === undefined ? {} : { detail }) };
        await audit(body, cmd);
        if (error) return refuse(error);
        return { type: 'control.result.v1' as const, body };
      },
    };
  },
});
