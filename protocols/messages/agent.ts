import { z } from 'zod';
import { TaskSchema } from '../pipeline/schema.ts';
import { TIERS } from '../vocabulary/tiers.ts';
import { SerializedErrorSchema } from './system.ts';

export const TierSchema = z.enum(TIERS);

/** Identity of one dispatch of one stage: a retry is a new attempt with a new taskId. */
const TaskRef = {
  taskId: z.string().min(1),
  runId: z.string().min(1),
  stageId: z.string().min(1),
  attempt: z.number().int().positive(),
};

/** What an agent reports about itself (register, heartbeats' `status`, status API). */
export const AgentStateSchema = z.object({
  agentId: z.string().min(1),
  state: z.string(),
  tier: TierSchema,
  role: z.string().optional(),
  team: z.string().optional(),
  /** Task kinds it can run (its implementation's capability; the tier still decides what it may run). */
  capabilities: z.array(z.string()).optional(),
  restarts: z.number().int().nonnegative().default(0),
  lastHeartbeatMs: z.number().int().nonnegative().optional(),
  currentTask: z.object(TaskRef).optional(),
  /**
   * How the agent wants the messages the system originates to its inbox (assigns, cancels, credentials,
   * commands): `json` for a client without a msgpack library; absent or `msgpack`, msgpack (docs/protocol.md).
   */
  encoding: z.enum(['msgpack', 'json']).optional(),
});

/**
 * The agent protocol (docs/protocol.md, "Agents"): register, heartbeat, accept a task, report
 * progress and a result. An agent written in any language with a NATS client can speak it.
 */
export const agentMessages = {
  /** Published by an agent on `gov.agents.register` when it starts (and answered with ack.v1 when asked). */
  'agent.register.v1': AgentStateSchema,
  /** Orchestrator → agent inbox (ask). Reply: agent.task.accepted.v1, or an error (tier, busy, suspended). */
  'agent.task.assign.v1': z.object({
    ...TaskRef,
    task: TaskSchema,
    requiredTier: TierSchema,
    timeoutMs: z.number().int().positive(),
    /** Where progress and the result go (an orchestrator's service subject). */
    replyTo: z.string().min(1),
    /** Environment a child process of this task inherits (PIPELINE_ID etc.). */
    env: z.record(z.string(), z.string()).default({}),
  }),
  'agent.task.accepted.v1': z.object({ ...TaskRef, agentId: z.string().min(1) }),
  /** Agent → replyTo, any number of times while working. `fraction` in [0,1] when known. */
  'agent.task.progress.v1': z.object({
    ...TaskRef,
    agentId: z.string().min(1),
    fraction: z.number().min(0).max(1).optional(),
    note: z.string().optional(),
  }),
  /** Agent → replyTo, exactly once per accepted task. */
  'agent.task.result.v1': z.object({
    ...TaskRef,
    agentId: z.string().min(1),
    status: z.enum(['succeeded', 'failed', 'cancelled']),
    output: z.unknown().optional(),
    error: SerializedErrorSchema.optional(),
    durationMs: z.number().nonnegative(),
  }),
  /** Orchestrator → agent: stop working on a task (cancelled run, timeout). */
  'agent.task.cancel.v1': z.object({ ...TaskRef, reason: z.string() }),
  /**
   * Lifecycle commands (audited). Only system credentials may publish on an agent's inbox, so a
   * command carries the system's authority; operators of any tier go through operator controls
   * (`gov.ctl.<tier>.<principal>`, T2 for promote/demote/release). `byTier` is informational and ignored.
   */
  'agent.command.v1': z.object({
    command: z.enum([
      'promote',
      'demote',
      'suspend',
      'resume',
      'quarantine',
      'release',
      'terminate',
      'drain',
    ]),
    byTier: TierSchema.optional(),
    by: z.string().min(1),
    reason: z.string().optional(),
  }),
  /** Status API: ask one agent's inbox, or the agent directory for all (`agentId` omitted). */
  'agent.status.v1': z.object({ agentId: z.string().optional(), team: z.string().optional() }),
  'agent.state.v1': AgentStateSchema,
  'agent.states.v1': z.object({ agents: z.array(AgentStateSchema) }),
} as const;
