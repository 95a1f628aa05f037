import { z } from 'zod';
import { SerializedErrorSchema } from './system.ts';

const ChildExitReasonSchema = z.union([
  z.literal('normal'),
  z.literal('shutdown'),
  z.object({ shutdown: z.string() }),
  z.object({ error: z.union([z.string(), SerializedErrorSchema]) }),
]);

export const SupervisorChildSchema = z.object({
  id: z.string(),
  /** actor | process | supervisor */
  type: z.enum(['actor', 'process', 'supervisor']),
  actorKind: z.string(),
  actorId: z.string(),
  status: z.enum(['running', 'starting', 'pending', 'stopped']),
  restart: z.enum(['permanent', 'transient', 'temporary']),
  restartCount: z.number().int().nonnegative(),
  pid: z.number().int().optional(),
  lastExit: ChildExitReasonSchema.nullable(),
  lastHeartbeatMs: z.number().optional(),
  /** The child's own status from its last heartbeat (an agent's state, tier, team…). */
  heartbeatStatus: z.record(z.string(), z.unknown()).optional(),
});

export interface SupervisorTree {
  supervisorId: string;
  strategy: string;
  intensity: number;
  periodMs: number;
  phase: string;
  children: Array<z.infer<typeof SupervisorChildSchema> & { tree?: SupervisorTree }>;
}

const SupervisorTreeSchema: z.ZodType<SupervisorTree> = z.lazy(() =>
  z.object({
    supervisorId: z.string(),
    strategy: z.string(),
    intensity: z.number(),
    periodMs: z.number(),
    phase: z.string(),
    children: z.array(SupervisorChildSchema.extend({ tree: SupervisorTreeSchema.optional() })),
  }),
);

/** Supervision: status of a (sub)tree, and the event of every start, exit, restart and escalation. */
export const supervisorMessages = {
  /** Ask a supervisor's inbox for its tree (nested supervisors included when `deep`). */
  'supervisor.status.v1': z.object({ deep: z.boolean().default(true) }),
  'supervisor.tree.v1': SupervisorTreeSchema,
  /** On the feed (`gov.obs.supervisor.<id>`) and the audit stream. */
  'supervisor.event.v1': z.object({
    supervisorId: z.string(),
    event: z.enum([
      'child-started',
      'child-exited',
      'child-hung',
      'child-restart-scheduled',
      'child-stopped',
      'child-start-failed',
      'escalated',
    ]),
    childId: z.string(),
    actorKind: z.string().optional(),
    actorId: z.string().optional(),
    pid: z.number().int().optional(),
    reason: ChildExitReasonSchema.optional(),
    restartCount: z.number().int().nonnegative().optional(),
    delayMs: z.number().optional(),
    /** How the death was detected. */
    detectedBy: z.enum(['exit-report', 'process-exit', 'heartbeat']).optional(),
  }),
} as const;
