/**
 * Operator commands (agent.command.v1) as lifecycle events, and the typed error each refusal is
 * answered with: promote / demote / release only from T2, a command the state does not take
 * (GOV_ERR_INVALID_TRANSITION), and the lifecycle's own rejections (tier bound, credentials not valid).
 *
 * The tier a command is applied with is never the `byTier` its body claims: only system credentials
 * (services, supervisors, the operator's client) may publish on an agent's inbox (protocols/permissions.ts),
 * so whatever reaches it carries the system's authority ({@link COMMAND_AUTHORITY}). Operators and
 * API keys of lower tiers reach agents only through the control actor, which checks the tier the
 * broker put in the control's subject (`gov.ctl.<tier>.<principal>`) before it forwards anything.
 */
import {
  type BodyIn,
  type GovError,
  InvalidTransitionError,
  type Tier,
  TierForbiddenError,
} from '../../protocols/index.ts';
import {
  canAccept,
  type LifecycleEvent,
  type LifecycleSnapshot,
  type RejectedCommand,
} from './lifecycle-machine.ts';
import { canPerform } from './tiers.ts';

type Command = BodyIn<'agent.command.v1'>;
export type CommandName = Command['command'];

/** The authority of every command that reaches an agent's inbox: the broker let only the system send it. */
export const COMMAND_AUTHORITY: Tier = 'T2';

/** The lifecycle event a command stands for. */
export function commandEvent(command: CommandName, byTier: Tier, reason: string, at: number): LifecycleEvent {
  switch (command) {
    case 'promote':
      return { type: 'PROMOTE', byTier };
    case 'demote':
      return { type: 'DEMOTE', byTier };
    case 'release':
      return { type: 'RELEASE', byTier };
    case 'suspend':
      return { type: 'SUSPEND', reason };
    case 'drain':
      return { type: 'DRAIN', reason };
    case 'resume':
      return { type: 'RESUME' };
    case 'quarantine':
      return { type: 'QUARANTINE', reason, at };
    case 'terminate':
      return { type: 'TERMINATE', reason };
  }
}

/**
 * Checks a command before the lifecycle sees it: the event to send, or the error to refuse it with
 * (the command's tier is too low, or the lifecycle would not take the event in its state).
 */
export function admitCommand(
  agentId: string,
  body: Command & { byTier: Tier },
  before: LifecycleSnapshot,
  at: number,
): { event: LifecycleEvent } | { error: GovError } {
  const { command, byTier, by, reason } = body;
  if (
    (command === 'promote' || command === 'demote' || command === 'release') &&
    !canPerform(byTier, command)
  ) {
    return {
      error: new TierForbiddenError(`only T2 may ${command} an agent; ${by} is ${byTier}`, {
        details: { command, byTier, by },
      }),
    };
  }
  const event = commandEvent(command, byTier, reason ?? `${command} by ${by}`, at);
  if (!canAccept(before, event)) {
    return {
      error: new InvalidTransitionError(
        `agent ${agentId} cannot ${command} in state ${String(before.value)}`,
        {
          details: { command, state: String(before.value) },
        },
      ),
    };
  }
  return { event };
}

/** The error for a command the lifecycle took but its `rejectCommand` hook turned down. */
export function rejectionError(
  agentId: string,
  command: CommandName,
  byTier: Tier,
  rej: RejectedCommand,
): GovError {
  if (rej.reason === 'tier-forbidden')
    return new TierForbiddenError(`only T2 may ${command} an agent`, { details: { command, byTier } });
  if (rej.reason === 'tier-bound')
    return new InvalidTransitionError(`agent ${agentId} is already ${rej.tier}: cannot ${command}`, {
      details: { command, tier: rej.tier },
    });
  return new InvalidTransitionError(`agent ${agentId} cannot ${command}: credentials are not valid yet`, {
    details: { command },
  });
}
