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

/** Children of one supervisor in one `supervisor.tree.v1` page unless the asker says otherwise. */
export const DEFAULT_TREE_PAGE_CHILDREN = 200;
/**
 * The most children one page may hold: at a few hundred bytes a child, a page stays far below the
 * codec's 1 MiB cap however large the fleet (a page that still would not fit is refused with a typed
 * GOV_ERR_PAYLOAD_TOO_LARGE, never sent).
 */
export const MAX_TREE_PAGE_CHILDREN = 1_000;
/** Levels of nested supervisors a reply expands unless asked (0: their summaries only). */
export const DEFAULT_TREE_DEPTH = 0;
export const MAX_TREE_DEPTH = 16;

/** Counts over a whole subtree (every descendant, nested supervisors' children included). */
export const SupervisorSummarySchema = z.object({
  children: z.number().int().nonnegative(),
  running: z.number().int().nonnegative(),
  starting: z.number().int().nonnegative(),
  pending: z.number().int().nonnegative(),
  stopped: z.number().int().nonnegative(),
  restarts: z.number().int().nonnegative(),
  supervisors: z.number().int().nonnegative(),
  /** Nested supervisors that did not answer in time (restarting): their children are not counted. */
  unreachable: z.number().int().nonnegative(),
});
export type SupervisorSummary = z.infer<typeof SupervisorSummarySchema>;

export interface SupervisorTree {
  supervisorId: string;
  strategy: string;
  intensity: number;
  periodMs: number;
  phase: string;
  /** This page's children, from `offset`; `total` of them in all. */
  children: Array<
    z.infer<typeof SupervisorChildSchema> & { tree?: SupervisorTree; summary?: SupervisorSummary }
  >;
  offset?: number;
  total?: number;
  /** The whole subtree counted, whatever the page and depth. */
  summary?: SupervisorSummary;
}

const SupervisorTreeSchema: z.ZodType<SupervisorTree> = z.lazy(() =>
  z.object({
    supervisorId: z.string(),
    strategy: z.string(),
    intensity: z.number(),
    periodMs: z.number(),
    phase: z.string(),
    children: z.array(
      SupervisorChildSchema.extend({
        tree: SupervisorTreeSchema.optional(),
        summary: SupervisorSummarySchema.optional(),
      }),
    ),
    offset: z.number().int().nonnegative().optional(),
    total: z.number().int().nonnegative().optional(),
    summary: SupervisorSummarySchema.optional(),
  }),
);

/** Supervision: status of a (sub)tree, and the event of every start, exit, restart and escalation. */
export const supervisorMessages = {
  /**
   * Ask a supervisor's inbox for one page of its tree: `limit` children from `offset`, each nested
   * supervisor among them expanded `depth` levels (each level paged by `limit` from 0) or else
   * summarised, and the whole subtree's summary. A whole tree of any size is read page by page and
   * subtree by subtree (supervisors/supervisor-tree.ts `askSupervisorTree`). `deep` is the old
   * switch: `false` is depth 0, `true` the default depth.
   */
  'supervisor.status.v1': z.object({
    deep: z.boolean().optional(),
    depth: z.number().int().min(0).max(MAX_TREE_DEPTH).optional(),
    offset: z.number().int().nonnegative().default(0),
    limit: z.number().int().min(0).max(MAX_TREE_PAGE_CHILDREN).default(DEFAULT_TREE_PAGE_CHILDREN),
  }),
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
