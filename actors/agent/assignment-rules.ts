/**
 * Whether an agent takes a task assignment (agent.task.assign.v1), and the typed error it refuses one
 * with: a task beyond its tier (GOV_ERR_TIER_FORBIDDEN, also a policy violation), or a state that
 * cannot take work now (busy or unavailable; retryable unless the agent is terminated).
 */
import {
  AgentBusyError,
  AgentUnavailableError,
  type GovError,
  type Tier,
  TierForbiddenError,
} from '../../protocols/index.ts';
import {
  type LifecycleContext,
  type LifecycleState,
  type LifecycleTask,
  type PolicyViolation,
  requiredTierForTask,
} from './lifecycle-machine.ts';

/** A task refused for the agent's tier: why, the violation to report, the error to answer. */
export interface TierRefusal {
  reason: string;
  violation: PolicyViolation;
  error: GovError;
}

/** The refusal of a task whose kind or `requiredTier` is beyond `tier`. */
export function tierRefusal(agentId: string, tier: Tier, task: LifecycleTask, at: number): TierRefusal {
  const required = requiredTierForTask(task) ?? null;
  const reason = `task ${task.id} of kind ${task.kind} needs ${required ?? 'an unknown tier'}, agent is ${tier}`;
  return {
    reason,
    violation: {
      kind: 'task-tier',
      agentId,
      tier,
      reason,
      taskId: task.id,
      taskKind: task.kind,
      requiredTier: required,
      at,
    },
    error: new TierForbiddenError(`agent ${agentId}: ${reason}`, {
      details: { agentId, tier, taskKind: task.kind, requiredTier: required, taskId: task.id },
    }),
  };
}

/**
 * Why an agent in `state` cannot take a task now, or undefined when it can. `windingDown`: an idle
 * agent whose last task has not finished reporting yet.
 */
export function unavailableError(
  agentId: string,
  state: LifecycleState,
  c: Pick<LifecycleContext, 'suspendReason' | 'quarantineReason' | 'lastError'>,
  windingDown: boolean,
): GovError | undefined {
  const details = { agentId, state };
  switch (state) {
    case 'idle':
      return windingDown
        ? new AgentBusyError(`agent ${agentId} is still winding down a task`, { details })
        : undefined;
    case 'working':
    case 'created':
    case 'bootstrapping':
      return new AgentBusyError(`agent ${agentId} is ${state}`, { details });
    case 'suspended':
      return new AgentUnavailableError(`agent ${agentId} is suspended (${c.suspendReason ?? 'no reason'})`, {
        details,
      });
    case 'quarantined':
      return new AgentUnavailableError(
        `agent ${agentId} is quarantined (${c.quarantineReason ?? 'policy'})`,
        {
          details,
        },
      );
    case 'failed':
      return new AgentUnavailableError(`agent ${agentId} failed: ${c.lastError?.message ?? 'unknown'}`, {
        details,
      });
    case 'terminated':
      return new AgentUnavailableError(`agent ${agentId} is terminated`, { details, retryable: false });
  }
}
