/**
 * Admission by capacity: a run none of whose registered, live agents can serve one of its stages
 * would wait for ever, so it is refused at once (GOV_ERR_NO_ELIGIBLE_AGENT), or, when the request
 * asks for it (`waitForAgentMs`), after waiting that long for such an agent. See docs/orchestrator.md.
 *
 * "Can serve" is the dispatcher's own match (tier at least the stage's, same team and role, the task
 * kind among its capabilities), among agents that are not dead and not held out of service
 * (suspended, quarantined, failed, terminated): a busy agent can serve, later. Child-pipeline stages
 * are admitted with their child run.
 */
import type { ConcreteStage } from '../../protocols/pipeline/index.ts';
import { NoEligibleAgentError } from '../../protocols/vocabulary/errors.ts';
import type { AgentView } from './dispatcher/agent-selection.ts';
import { matches } from './dispatcher/agent-selection.ts';

/** Agent states in which an agent cannot take work until someone acts (an operator, a cool-down). */
export const OUT_OF_SERVICE_STATES: ReadonlySet<string> = new Set([
  'suspended',
  'quarantined',
  'failed',
  'terminated',
  'exited',
  'crashed',
  'unreachable',
]);
/** How often a waiting admission looks again for an eligible agent. */
export const DEFAULT_ADMISSION_POLL_MS = 100;
/** How long admission asks the agent directory about agents this orchestrator has not heard of. */
export const DEFAULT_ADMISSION_DIRECTORY_TIMEOUT_MS = 500;

export type AgentFacts = Pick<AgentView, 'agentId' | 'tier' | 'role' | 'team' | 'capabilities' | 'state'> & {
  dead?: boolean;
};

/** Whether the agent could take work of `stage` without anyone's intervention. */
export function canServe(a: AgentFacts, stage: ConcreteStage): boolean {
  if (a.dead || OUT_OF_SERVICE_STATES.has(a.state)) return false;
  return matches(a as AgentView, { selector: stage.agent, kind: stage.task.kind });
}

/** The stages of `stages` (agent stages only) that no agent of `agents` can serve. */
export function unservedStages(
  stages: readonly ConcreteStage[],
  agents: readonly AgentFacts[],
): ConcreteStage[] {
  return stages.filter((s) => s.task.kind !== 'pipeline' && !agents.some((a) => canServe(a, s)));
}

/** The refusal: which stages, what they need. */
export function noEligibleAgent(pipeline: string, unserved: readonly ConcreteStage[], waitedMs: number) {
  const needs = unserved.map((s) => ({
    stageId: s.id,
    tier: s.agent.tier,
    ...(s.agent.team === undefined ? {} : { team: s.agent.team }),
    ...(s.agent.role === undefined ? {} : { role: s.agent.role }),
    kind: s.task.kind,
  }));
  const what = needs
    .map(
      (n) =>
        `${n.stageId} (tier >= ${n.tier}${n.team ? `, team ${n.team}` : ''}${n.role ? `, role ${n.role}` : ''}, ${n.kind})`,
    )
    .join('; ');
  return new NoEligibleAgentError(
    `pipeline ${pipeline}: no registered live agent can serve ${what}${waitedMs > 0 ? ` (waited ${waitedMs} ms)` : ''}`,
    { details: { stages: needs, waitedMs } },
  );
}

export interface AdmissionSources {
  /** The orchestrator's own live view. */
  local(): readonly AgentFacts[];
  /** The agent directory's view (may know agents this orchestrator has not heard yet); [] if none answers. */
  directory(): Promise<readonly AgentFacts[]>;
  now(): number;
  sleep(ms: number): Promise<void>;
  /**
   * Starts listening for agents while admission waits (the caller's own view may not move meanwhile:
   * a request handled in a mailbox holds the heartbeats queued behind it); returns what was heard and
   * how to stop.
   */
  watch?(): { heard(): readonly AgentFacts[]; stop(): void };
}

/**
 * Resolves when every agent stage of the run has an eligible agent; otherwise waits up to `waitMs`
 * for one (polling the local view), then throws NoEligibleAgentError.
 */
export async function assertServable(
  pipeline: { name: string; stages: readonly ConcreteStage[] },
  src: AdmissionSources,
  waitMs: number,
  pollMs = DEFAULT_ADMISSION_POLL_MS,
): Promise<void> {
  let unserved = unservedStages(pipeline.stages, src.local());
  if (unserved.length === 0) return;
  unserved = unservedStages(unserved, await src.directory());
  if (unserved.length === 0) return;
  const start = src.now();
  const watch = waitMs > 0 ? src.watch?.() : undefined;
  try {
    while (src.now() - start < waitMs) {
      await src.sleep(Math.min(pollMs, Math.max(1, waitMs - (src.now() - start))));
      unserved = unservedStages(unserved, [...src.local(), ...(watch?.heard() ?? [])]);
      if (unserved.length === 0) return;
    }
  } finally {
    watch?.stop();
  }
  if (waitMs > 0) {
    unserved = unservedStages(unserved, await src.directory());
    if (unserved.length === 0) return;
  }
  throw noEligibleAgent(pipeline.name, unserved, Math.max(0, src.now() - start));
}
