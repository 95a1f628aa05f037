/**
 * The agent directory (kind `agent-directory`): who the agents are and what state they are in, for
 * orchestrators, `agov agents` and the HTTP API.
 *
 * It watches, without asking anyone: heartbeats (`gov.sys.hb.>`, those whose `status` is an agent
 * state), registrations (`gov.agents.register`), the agent feed (`gov.obs.agent.>`: transitions) and
 * exit reports. It answers agent.status.v1 (`agentId` for one agent, `team` to filter, neither for
 * all) with agent.states.v1, each with `lastHeartbeatMs` (epoch ms, directory clock; the reply
 * envelope's `ts` is the same clock, so `ts - lastHeartbeatMs` is the heartbeat's age).
 *
 * An agent whose heartbeats stopped for {@link DEFAULT_UNREACHABLE_AFTER_INTERVALS} of its intervals
 * is reported `unreachable`; one that exited is reported `exited` (shutdown) or `crashed`. Both are
 * forgotten after {@link DEFAULT_DIRECTORY_FORGET_MS}. Several directories may run: each sees everything
 * and answers on the shared service subject `gov.svc.agent-directory`.
 */
import { z } from 'zod';
import { ACTOR_KIND, ForbiddenError, parseActorSubject } from '../protocols/index.ts';
import type { BodyOf } from '../protocols/index.ts';
import { AgentStateSchema } from '../protocols/index.ts';
import { allAgentFeeds, allAgentRegistrations, allExits, allHeartbeats } from '../protocols/index.ts';
import { boundedTier, type Tier, verifiedHeartbeatStatus, verifiedRegistration } from '../protocols/index.ts';
import {
  DEFAULT_ASSUMED_HEARTBEAT_MS,
  DEFAULT_DIRECTORY_FORGET_MS,
  DEFAULT_UNREACHABLE_AFTER_INTERVALS,
} from './agent/index.ts';
import { defineActorKind, refusing } from './runtime/index.ts';
import { arg } from './runtime/index.ts';

/** Start arguments of the agent directory. */
export const AgentDirectoryArgsSchema = z.strictObject({
  /** Heartbeat intervals without one after which an agent is reported unreachable. */
  unreachableAfterIntervals: arg.positive().default(DEFAULT_UNREACHABLE_AFTER_INTERVALS),
  /** How long an unreachable or exited agent is still reported. */
  forgetAfterMs: arg.positive().default(DEFAULT_DIRECTORY_FORGET_MS),
});

export type AgentState = z.output<typeof AgentStateSchema>;

interface Entry {
  state: AgentState;
  /** Actor kind its heartbeats come from (`agent` for ours; an external agent may use its own). */
  kind: string | undefined;
  /** Directory-clock time of the last heartbeat (or registration, before any heartbeat). */
  lastSeenAt: number;
  lastHeartbeatAt: number | undefined;
  intervalMs: number;
  exited: 'exited' | 'crashed' | undefined;
  exitedAt: number | undefined;
}

export interface DirectoryOptions {
  unreachableAfterIntervals?: number;
  forgetAfterMs?: number;
}

/** The directory's table, pure: feed it what was seen (with the time), ask it who is there. */
export class AgentDirectoryTable {
  private readonly agents = new Map<string, Entry>();
  private readonly unreachableAfter: number;
  private readonly forgetAfterMs: number;

  constructor(options: DirectoryOptions = {}) {
    this.unreachableAfter = options.unreachableAfterIntervals ?? DEFAULT_UNREACHABLE_AFTER_INTERVALS;
    this.forgetAfterMs = options.forgetAfterMs ?? DEFAULT_DIRECTORY_FORGET_MS;
  }

  private upsert(state: AgentState, now: number): Entry {
    const e = this.agents.get(state.agentId);
    if (e) {
      e.state = { ...e.state, ...state };
      e.exited = undefined;
      e.exitedAt = undefined;
      return e;
    }
    const fresh: Entry = {
      state,
      kind: undefined,
      lastSeenAt: now,
      lastHeartbeatAt: undefined,
      intervalMs: DEFAULT_ASSUMED_HEARTBEAT_MS,
      exited: undefined,
      exitedAt: undefined,
    };
    this.agents.set(state.agentId, fresh);
    return fresh;
  }

  /** The tier of each agent's credential, from its last registration's subject (the broker's check). */
  private readonly credentialTiers = new Map<string, Tier>();

  /** A heartbeat; ignored unless its `status` is an agent state. Its tier is bounded by the credential's. */
  heartbeat(hb: BodyOf<'actor.heartbeat.v1'>, now: number): boolean {
    const parsed = AgentStateSchema.safeParse(hb.status);
    if (!parsed.success) return false;
    const state = { ...parsed.data, tier: this.bounded(parsed.data.agentId, parsed.data.tier) };
    const e = this.upsert(state, now);
    // Fields absent from this heartbeat (currentTask finished) must not linger.
    e.state = state;
    e.lastSeenAt = now;
    e.lastHeartbeatAt = now;
    e.intervalMs = hb.intervalMs;
    e.kind = hb.kind;
    return true;
  }

  private bounded(agentId: string, claimed: Tier): Tier {
    return boundedTier(claimed, this.credentialTiers.get(agentId));
  }

  /** A registration as verified (its tier the subject's: the credential's). */
  register(state: BodyOf<'agent.register.v1'>, now: number): void {
    this.credentialTiers.set(state.agentId, state.tier);
    const e = this.upsert(state, now);
    e.state = state;
    e.lastSeenAt = now;
  }

  transition(claimed: BodyOf<'agent.transition.v1'>, now: number): void {
    const t = { ...claimed, tier: this.bounded(claimed.agentId, claimed.tier) };
    const e = this.agents.get(t.agentId);
    if (!e) {
      this.upsert(
        {
          agentId: t.agentId,
          state: t.to,
          tier: t.tier,
          team: t.team,
          role: t.role,
          restarts: t.restarts ?? 0,
        },
        now,
      );
      return;
    }
    e.state = {
      ...e.state,
      state: t.to,
      tier: t.tier,
      ...(t.team ? { team: t.team } : {}),
      ...(t.role ? { role: t.role } : {}),
      ...(t.restarts === undefined ? {} : { restarts: t.restarts }),
    };
    if (t.to !== 'working') delete e.state.currentTask;
    e.exited = undefined;
    e.lastSeenAt = Math.max(e.lastSeenAt, now);
  }

  exit(ex: BodyOf<'actor.exit.v1'>, now: number): void {
    const e = this.agents.get(ex.actorId);
    if (!e || ex.kind !== (e.kind ?? ACTOR_KIND.agent)) return;
    e.exited = ex.reason === 'shutdown' || ex.reason === 'normal' ? 'exited' : 'crashed';
    e.exitedAt = now;
  }

  /** The agents as reported now: `unreachable` / `exited` / `crashed` override the last known state. */
  query(filter: { agentId?: string; team?: string }, now: number): AgentState[] {
    const out: AgentState[] = [];
    for (const [id, e] of this.agents) {
      const unreachable = now - e.lastSeenAt > this.unreachableAfter * e.intervalMs;
      const goneSince = e.exitedAt ?? (unreachable ? e.lastSeenAt : undefined);
      if (goneSince !== undefined && now - goneSince > this.forgetAfterMs) {
        this.agents.delete(id);
        this.credentialTiers.delete(id);
        continue;
      }
      if (filter.agentId !== undefined && id !== filter.agentId) continue;
      if (filter.team !== undefined && e.state.team !== filter.team) continue;
      const state = e.exited ?? (unreachable ? 'unreachable' : e.state.state);
      out.push({
        ...e.state,
        state,
        ...(e.lastHeartbeatAt === undefined ? {} : { lastHeartbeatMs: e.lastHeartbeatAt }),
      });
    }
    return out.sort((a, b) => a.agentId.localeCompare(b.agentId));
  }

  size(): number {
    return this.agents.size;
  }
}

/** The id the per-actor subject names, if the body names the same one; ForbiddenError otherwise. */
function sameActor(subject: string, claimed: string): void {
  const id = parseActorSubject(subject)?.id;
  if (id !== claimed)
    throw new ForbiddenError(`a message on ${subject} speaks for ${claimed}: refused`, {
      details: { subject, claimed },
    });
}

export const agentDirectoryKind = defineActorKind({
  kind: ACTOR_KIND.agentDirectory,
  args: AgentDirectoryArgsSchema,
  description:
    'knows every agent from heartbeats, registrations and lifecycle transitions; answers agent.status.v1',
  start(ctx) {
    const table = new AgentDirectoryTable(ctx.args);
    return {
      accepts: [
        'agent.status.v1',
        'actor.heartbeat.v1',
        'agent.register.v1',
        'agent.transition.v1',
        'agent.command.outcome.v1',
        'actor.exit.v1',
      ],
      subscriptions: [
        { subject: allHeartbeats() },
        { subject: allAgentRegistrations() },
        { subject: allAgentFeeds() },
        { subject: allExits() },
      ],
      status: () => ({ agents: table.size() }),
      handle: (env, ictx) =>
        // A forged heartbeat or registration is refused (dead letter), never a crash.
        refusing(() => {
          const now = ctx.clock.now();
          switch (env.type) {
            case 'actor.heartbeat.v1': {
              // Identity from the subject: a heartbeat speaking for another agent is refused.
              verifiedHeartbeatStatus(ictx.subject, env.body);
              table.heartbeat(env.body, now);
              return undefined;
            }
            case 'agent.register.v1': {
              table.register(verifiedRegistration(ictx.subject, env.body), now);
              return { type: 'ack.v1', body: { ok: true } };
            }
            case 'agent.transition.v1': {
              // Published on the agent's own feed subject (`gov.obs.agent.<id>`): only for itself.
              sameActor(ictx.subject, env.body.agentId);
              table.transition(env.body, now);
              return undefined;
            }
            case 'actor.exit.v1':
              sameActor(ictx.subject, env.body.actorId);
              table.exit(env.body, now);
              return undefined;
            case 'agent.status.v1':
              return { type: 'agent.states.v1', body: { agents: table.query(env.body, now) } };
            default:
              // agent.command.outcome.v1 shares the agent feed; the transition that follows carries the state.
              return undefined;
          }
        }),
    };
  },
});
