/**
 * The orchestrator's live view of agents (from heartbeats, agent.register.v1 and exit reports) and
 * the choice of an agent for a stage. Pure bookkeeping: the caller passes `now`.
 */
import type { ResolvedAgentSelector, TaskKind, Tier } from '../../../protocols/pipeline/index.ts';
import { tierRank } from '../../../protocols/pipeline/index.ts';

export interface AgentView {
  agentId: string;
  /** The kind in its actor subject (normally `agent`): its inbox is `gov.actor.<kind>.<agentId>`. */
  kind: string;
  tier: Tier;
  role?: string;
  team?: string;
  capabilities?: string[];
  /** How it wants the messages we originate (assign, cancel): its register/heartbeat `encoding`. */
  encoding?: 'msgpack' | 'json';
  /** As the agent last reported it (`idle`, `working`, `suspended`…). */
  state: string;
  /** Task the agent last reported working on. */
  reportedTaskId?: string;
  intervalMs: number;
  lastSeenMs: number;
  /** When we last gave it a task (least-recently-used spreading). */
  lastAssignedMs: number;
  /** Our task it runs, as far as we know. */
  busyWith?: string;
  /** It refused a task; not asked again before this time unless it reports idle anew. */
  coolDownUntil?: number;
  dead: boolean;
}

/** The agent-reported facts (register body, heartbeat `status`), already validated. */
export interface AgentReport {
  agentId: string;
  state: string;
  tier: Tier;
  role?: string;
  team?: string;
  capabilities?: string[];
  currentTask?: { taskId: string };
  encoding?: 'msgpack' | 'json';
}

export interface Need {
  selector: ResolvedAgentSelector;
  kind: TaskKind;
  /** Agents to pass over when another matches (they failed or died on this stage). */
  avoid?: readonly string[];
}

export class AgentDirectory {
  private readonly agents = new Map<string, AgentView>();

  constructor(
    private readonly missedBeats: number,
    private readonly defaultIntervalMs: number,
  ) {}

  get(agentId: string): AgentView | undefined {
    return this.agents.get(agentId);
  }

  list(): AgentView[] {
    return [...this.agents.values()];
  }

  /** Records a heartbeat or register; returns true when the agent may have become available. */
  report(kind: string, r: AgentReport, now: number, intervalMs?: number): boolean {
    const prev = this.agents.get(r.agentId);
    const view: AgentView = {
      agentId: r.agentId,
      kind,
      tier: r.tier,
      state: r.state,
      intervalMs: intervalMs ?? prev?.intervalMs ?? this.defaultIntervalMs,
      lastSeenMs: now,
      lastAssignedMs: prev?.lastAssignedMs ?? 0,
      dead: false,
    };
    if (r.role !== undefined) view.role = r.role;
    if (r.team !== undefined) view.team = r.team;
    if (r.capabilities !== undefined) view.capabilities = r.capabilities;
    if (r.encoding !== undefined) view.encoding = r.encoding;
    else if (prev?.encoding !== undefined) view.encoding = prev.encoding;
    if (r.currentTask) view.reportedTaskId = r.currentTask.taskId;
    if (prev?.busyWith !== undefined) view.busyWith = prev.busyWith;
    // A fresh report of `idle` ends a refusal cool-down.
    if (prev?.coolDownUntil !== undefined && r.state !== 'idle') view.coolDownUntil = prev.coolDownUntil;
    this.agents.set(r.agentId, view);
    return (
      view.state === 'idle' &&
      view.busyWith === undefined &&
      (prev === undefined || prev.dead || prev.state !== 'idle' || prev.coolDownUntil !== undefined)
    );
  }

  /** Sign of life without a status (a heartbeat with no `status`). */
  /**
   * A sign of life that says nothing else (its status is handled in order elsewhere): keeps a known,
   * live agent from counting as silent. A dead agent comes back only through `seen`/`report`.
   */
  alive(agentId: string, now: number): void {
    const a = this.agents.get(agentId);
    if (a && !a.dead && now > a.lastSeenMs) a.lastSeenMs = now;
  }

  seen(agentId: string, now: number, intervalMs?: number): void {
    const a = this.agents.get(agentId);
    if (!a) return;
    a.lastSeenMs = now;
    a.dead = false;
    if (intervalMs) a.intervalMs = intervalMs;
  }

  /**
   * An agent we believe runs one of our tasks (after an orchestrator restart) but have not heard
   * from yet: it gets the usual grace of missed heartbeats from `now`.
   */
  expect(agentId: string, taskId: string, now: number): void {
    const a = this.agents.get(agentId);
    if (a) {
      a.busyWith = taskId;
      return;
    }
    this.agents.set(agentId, {
      agentId,
      kind: 'agent',
      tier: 'T0',
      state: 'unknown',
      intervalMs: this.defaultIntervalMs,
      lastSeenMs: now,
      lastAssignedMs: now,
      busyWith: taskId,
      dead: false,
    });
  }

  markDead(agentId: string): void {
    const a = this.agents.get(agentId);
    if (a) a.dead = true;
  }

  /** Agents whose last sign of life is older than `missedBeats` intervals; each reported once. */
  silent(now: number): string[] {
    const out: string[] = [];
    for (const a of this.agents.values()) {
      if (!a.dead && now - a.lastSeenMs > this.missedBeats * a.intervalMs) {
        a.dead = true;
        out.push(a.agentId);
      }
    }
    return out;
  }

  assigned(agentId: string, taskId: string, now: number): void {
    const a = this.agents.get(agentId);
    if (!a) return;
    a.busyWith = taskId;
    a.lastAssignedMs = now;
  }

  /** Our task on it ended (result, refusal, cancel): it is available again at once. */
  released(
    agentId: string,
    taskId: string,
    opts: { refused?: boolean; now?: number; coolDownMs?: number } = {},
  ): void {
    const a = this.agents.get(agentId);
    if (!a || a.busyWith !== taskId) return;
    a.busyWith = undefined;
    if (opts.refused) {
      a.coolDownUntil = (opts.now ?? 0) + (opts.coolDownMs ?? 0);
    } else {
      a.state = 'idle';
      a.reportedTaskId = undefined;
    }
  }

  /** An idle, live agent matching `need`, least recently used first; undefined when none. */
  select(need: Need, now: number): AgentView | undefined {
    return selectAgent(this.list(), need, now);
  }
}

/** True when the agent satisfies the stage's selector: tier at least the required one, same role and team. */
export function matches(a: AgentView, need: Need): boolean {
  if (tierRank(a.tier) < tierRank(need.selector.tier)) return false;
  if (need.selector.role !== undefined && a.role !== need.selector.role) return false;
  if (need.selector.team !== undefined && a.team !== need.selector.team) return false;
  if (a.capabilities !== undefined && !a.capabilities.includes(need.kind)) return false;
  return true;
}

export function isAvailable(a: AgentView, now: number): boolean {
  return (
    !a.dead &&
    a.state === 'idle' &&
    a.busyWith === undefined &&
    (a.coolDownUntil === undefined || a.coolDownUntil <= now)
  );
}

/**
 * Picks the agent for a stage: live, idle, matching; agents in `avoid` only when no other matches;
 * among equals the least recently assigned (ties by id), so work spreads across the fleet.
 */
export function selectAgent(agents: readonly AgentView[], need: Need, now: number): AgentView | undefined {
  const candidates = agents.filter((a) => isAvailable(a, now) && matches(a, need));
  if (candidates.length === 0) return undefined;
  const avoid = new Set(need.avoid ?? []);
  const preferred = candidates.filter((a) => !avoid.has(a.agentId));
  const pool = preferred.length > 0 ? preferred : candidates;
  return pool.reduce((best, a) =>
    a.lastAssignedMs < best.lastAssignedMs ||
    (a.lastAssignedMs === best.lastAssignedMs && a.agentId < best.agentId)
      ? a
      : best,
  );
}
