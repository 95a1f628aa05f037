/**
 * The orchestrator's live view of agents (from heartbeats, agent.register.v1 and exit reports) and
 * the choice of an agent for a stage. Pure bookkeeping: the caller passes `now`.
 *
 * Selection costs O(groups), not O(agents): agents that may take work (live, idle, none of our tasks)
 * are kept in one insertion-ordered set per group of equal selectors (tier, role, team, capabilities);
 * an agent joins the end of its group's set when it becomes available, so the head of each set is the
 * one that waited longest. A choice looks at the head of each matching group (passing over agents in a
 * refusal cool-down or in the stage's `avoid` list) and takes the least recently assigned of them.
 */
import type { ResolvedAgentSelector, TaskKind, Tier } from '../../../protocols/pipeline/index.ts';
import { boundedTier } from '../../../protocols/agent-identity.ts';
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

interface Group {
  /** Any agent of the group, for matching (every member has the same selector fields). */
  sample: AgentView;
  /** Available agents, longest waiting first. */
  idle: Set<string>;
}

const groupKey = (a: AgentView): string =>
  `${a.tier}|${a.role ?? ''}|${a.team ?? ''}|${a.capabilities?.join(',') ?? '*'}`;

export class AgentDirectory {
  private readonly agents = new Map<string, AgentView>();
  private readonly groups = new Map<string, Group>();
  /** agentId → the key of the group whose idle set holds it. */
  private readonly idleIn = new Map<string, string>();
  /** agentId → the tier of its credential, from its last registration's subject (the broker's check). */
  private readonly credentialTiers = new Map<string, Tier>();

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

  /** Keeps the agent's place in the idle index in step with its view (after every change of it). */
  private reindex(a: AgentView): void {
    const wasIn = this.idleIn.get(a.agentId);
    const key = !a.dead && a.state === 'idle' && a.busyWith === undefined ? groupKey(a) : undefined;
    if (wasIn === key) {
      if (key !== undefined) this.groups.get(key)!.sample = a;
      return;
    }
    if (wasIn !== undefined) {
      this.groups.get(wasIn)?.idle.delete(a.agentId);
      this.idleIn.delete(a.agentId);
    }
    if (key === undefined) return;
    let g = this.groups.get(key);
    if (!g) {
      g = { sample: a, idle: new Set() };
      this.groups.set(key, g);
    }
    g.sample = a;
    g.idle.add(a.agentId);
    this.idleIn.set(a.agentId, key);
  }

  /**
   * Records a registration, whose tier (from its subject) is the agent's credential's; returns true
   * when the agent may have become available.
   */
  register(r: AgentReport, now: number): boolean {
    this.credentialTiers.set(r.agentId, r.tier);
    return this.report('agent', r, now);
  }

  /** The tier of the agent's credential as its last registration said, if heard. */
  credentialTier(agentId: string): Tier | undefined {
    return this.credentialTiers.get(agentId);
  }

  /**
   * Records a heartbeat or register; returns true when the agent may have become available. The tier
   * stated is believed up to the agent's credential's only (protocols/agent-identity.ts `boundedTier`).
   */
  report(kind: string, r: AgentReport, now: number, intervalMs?: number): boolean {
    const prev = this.agents.get(r.agentId);
    const view: AgentView = {
      agentId: r.agentId,
      kind,
      tier: kind === 'agent' ? boundedTier(r.tier, this.credentialTiers.get(r.agentId)) : r.tier,
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
    this.reindex(view);
    return (
      view.state === 'idle' &&
      view.busyWith === undefined &&
      (prev === undefined || prev.dead || prev.state !== 'idle' || prev.coolDownUntil !== undefined)
    );
  }

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
    this.reindex(a);
  }

  /**
   * An agent we believe runs one of our tasks (after an orchestrator restart) but have not heard
   * from yet: it gets the usual grace of missed heartbeats from `now`.
   */
  expect(agentId: string, taskId: string, now: number): void {
    const a = this.agents.get(agentId);
    if (a) {
      a.busyWith = taskId;
      this.reindex(a);
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
    if (!a) return;
    a.dead = true;
    this.reindex(a);
  }

  /** Agents whose last sign of life is older than `missedBeats` intervals; each reported once. */
  silent(now: number): string[] {
    const out: string[] = [];
    for (const a of this.agents.values()) {
      if (!a.dead && now - a.lastSeenMs > this.missedBeats * a.intervalMs) {
        a.dead = true;
        this.reindex(a);
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
    this.reindex(a);
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
    this.reindex(a);
  }

  /**
   * An idle, live agent matching `need`: agents in `avoid` only when no other matches; among equals the
   * least recently assigned (ties by id). O(groups + agents passed over), not O(agents).
   */
  select(need: Need, now: number): AgentView | undefined {
    let best: AgentView | undefined;
    let fallback: AgentView | undefined;
    for (const g of this.groups.values()) {
      if (g.idle.size === 0 || !matches(g.sample, need)) continue;
      const { preferred, avoided } = this.headOf(g, need, now);
      if (preferred && (!best || before(preferred, best))) best = preferred;
      if (avoided && (!fallback || before(avoided, fallback))) fallback = avoided;
    }
    return best ?? fallback;
  }

  /** A group's longest-waiting available agent not to avoid, and its first available one to avoid. */
  private headOf(g: Group, need: Need, now: number): { preferred?: AgentView; avoided?: AgentView } {
    let avoided: AgentView | undefined;
    for (const id of g.idle) {
      const a = this.agents.get(id)!;
      if (!isAvailable(a, now)) continue; // in a refusal cool-down
      if (need.avoid?.includes(id)) {
        avoided ??= a;
        continue;
      }
      return avoided ? { preferred: a, avoided } : { preferred: a };
    }
    return avoided ? { avoided } : {};
  }
}

const before = (a: AgentView, b: AgentView): boolean =>
  a.lastAssignedMs < b.lastAssignedMs || (a.lastAssignedMs === b.lastAssignedMs && a.agentId < b.agentId);

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
