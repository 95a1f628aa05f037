/**
 * The pure rules of an agent's lifecycle: which tier a task needs, what a violation or a rejected
 * command records, how a tier steps. Used by the machine's guards and actions (lifecycle-machine.ts)
 * and by the agent actor.
 */
import {
  canRunTaskKind,
  isTier,
  maxTier,
  minTierForTaskKind,
  TIERS,
  type Tier,
  tierAtLeast,
  tierRank,
} from '../../protocols/index.ts';
import type {
  LifecycleContext,
  LifecycleError,
  LifecycleErrorInput,
  LifecycleTask,
  PolicyViolation,
  RejectedCommand,
} from './lifecycle-types.ts';
import { canPerform } from './tiers.ts';

/** Tier a task needs: the stricter of its kind's minimum and its own `requiredTier`. */
export function requiredTierForTask(task: LifecycleTask): Tier | undefined {
  const byKind = minTierForTaskKind(task.kind);
  if (byKind === undefined) return undefined;
  if (task.requiredTier === undefined) return byKind;
  if (!isTier(task.requiredTier)) return undefined;
  return maxTier(task.requiredTier, byKind);
}

/** Whether an agent of `tier` may take `task`. Unknown kinds or tiers are refused. */
export function tierAllowsTask(tier: Tier, task: LifecycleTask): boolean {
  const required = requiredTierForTask(task);
  return required !== undefined && canRunTaskKind(tier, task.kind) && tierAtLeast(tier, required);
}

export function toLifecycleError(input: LifecycleErrorInput | undefined, fallback: string): LifecycleError {
  if (input === undefined) return { code: null, message: fallback };
  if (typeof input === 'string') return { code: null, message: input };
  return { code: input.code ?? null, message: input.message };
}

export function taskViolation(
  context: LifecycleContext,
  task: LifecycleTask,
  at: number | undefined,
): PolicyViolation {
  const required = requiredTierForTask(task);
  return {
    kind: 'task-tier',
    agentId: context.agentId,
    tier: context.tier,
    reason:
      required === undefined
        ? `task ${task.id}: unknown kind or tier`
        : `task ${task.id} of kind ${task.kind} needs ${required}, agent is ${context.tier}`,
    taskId: task.id,
    taskKind: typeof task.kind === 'string' ? task.kind : null,
    requiredTier: required ?? null,
    at: at ?? null,
  };
}

export function policyViolation(
  context: LifecycleContext,
  reason: string,
  at: number | undefined,
): PolicyViolation {
  return {
    kind: 'policy',
    agentId: context.agentId,
    tier: context.tier,
    reason,
    taskId: context.currentTask?.id ?? null,
    taskKind: context.currentTask?.kind ?? null,
    requiredTier: null,
    at: at ?? null,
  };
}

export function appendViolation(context: LifecycleContext, v: PolicyViolation): PolicyViolation[] {
  const all = [...context.violations, v];
  const limit = Math.max(1, context.violationLimit);
  return all.length > limit ? all.slice(all.length - limit) : all;
}

export function nextTier(tier: Tier, change: 'PROMOTE' | 'DEMOTE'): Tier | undefined {
  return TIERS[tierRank(tier) + (change === 'PROMOTE' ? 1 : -1)];
}

export function rejection(
  context: LifecycleContext,
  command: RejectedCommand['command'],
  byTier: Tier | undefined,
): RejectedCommand {
  let reason: RejectedCommand['reason'];
  if (command === 'RESUME') reason = 'credentials-invalid';
  else if (
    !canPerform(
      byTier as Tier,
      command === 'RELEASE' ? 'release' : command === 'PROMOTE' ? 'promote' : 'demote',
    )
  )
    reason = 'tier-forbidden';
  else reason = 'tier-bound';
  return { command, reason, agentId: context.agentId, tier: context.tier, byTier: byTier ?? null };
}
