/**
 * Teams, declared as plain data (YAML). A team is a supervisor whose children are its lead, its
 * members (agents) and its sub-teams (nested supervisors), in that order — so with `rest_for_one` a
 * lead's crash restarts its members too, while a member's crash touches nobody else.
 *
 * ```yaml
 * teams:
 *   - id: platform
 *     strategy: one_for_one        # one_for_one | one_for_all | rest_for_one
 *     intensity: 3                 # restarts allowed within periodMs before escalating
 *     periodMs: 10000
 *     lead: { id: platform-lead, tier: T2 }
 *     members:
 *       - { id: builder-1, tier: T1, role: builder, process: true }   # own OS process
 *       - { id: watcher-1, tier: T0, role: observer }
 *     teams:                       # nested teams
 *       - id: platform-db
 *         members: [{ id: db-1, tier: T1, role: dba }]
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ACTOR_KIND, ConfigError } from '../protocols/index.ts';
import {
  type ChildSpec,
  DEFAULT_WORKER_SHUTDOWN_MS,
  type SupervisorSpec,
  supervisorSpec,
  validateSupervisorSpec,
} from '../supervisors/index.ts';
import {
  DEFAULT_PROCESS_TEAM_SHUTDOWN_MS,
  DEFAULT_TEAM_INTENSITY,
  DEFAULT_TEAM_PERIOD_MS,
  DEFAULT_TEAMS_INTENSITY,
  DEFAULT_TEAMS_PERIOD_MS,
} from './system-options.ts';

const id = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'use letters, digits, _ or -');

const MemberSchema = z.strictObject({
  id,
  tier: z.enum(['T0', 'T1', 'T2']).default('T0'),
  role: z.string().optional(),
  /** Run the agent in its own OS process instead of the team supervisor's process. */
  process: z.boolean().default(false),
  restart: z.enum(['permanent', 'transient', 'temporary']).default('permanent'),
  shutdownMs: z.number().int().nonnegative().default(DEFAULT_WORKER_SHUTDOWN_MS),
});
export type TeamMember = z.output<typeof MemberSchema>;

export interface TeamDef {
  id: string;
  /** Run the team's supervisor (and so its in-host members) in its own OS process. */
  process: boolean;
  strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one';
  intensity: number;
  periodMs: number;
  lead?: TeamMember;
  members: TeamMember[];
  teams: TeamDef[];
}

const TeamSchema: z.ZodType<TeamDef, unknown> = z.lazy(() =>
  z.strictObject({
    id,
    process: z.boolean().default(false),
    strategy: z.enum(['one_for_one', 'one_for_all', 'rest_for_one']).default('one_for_one'),
    intensity: z.number().int().nonnegative().default(DEFAULT_TEAM_INTENSITY),
    periodMs: z.number().int().positive().default(DEFAULT_TEAM_PERIOD_MS),
    lead: MemberSchema.optional(),
    members: z.array(MemberSchema).default([]),
    teams: z.array(TeamSchema).default([]),
  }),
) as unknown as z.ZodType<TeamDef, unknown>;

export const TeamsFileSchema = z.strictObject({ teams: z.array(TeamSchema) });

/** Supervisor id of a team. */
export const teamSupervisorId = (teamId: string) => `team-${teamId}`;

/** Parses and validates a teams YAML document. Throws ConfigError naming the path of each problem. */
export function parseTeams(text: string, file = 'teams.yaml'): TeamDef[] {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: invalid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  const r = TeamsFileSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`${file}: ${problems}`, { details: { file } });
  }
  const seen = new Set<string>();
  const walk = (t: TeamDef) => {
    for (const x of [t.id, ...(t.lead ? [t.lead.id] : []), ...t.members.map((m) => m.id)]) {
      const key = x === t.id ? `team:${x}` : `agent:${x}`;
      if (seen.has(key)) throw new ConfigError(`${file}: duplicate id ${JSON.stringify(x)}`);
      seen.add(key);
    }
    t.teams.forEach(walk);
  };
  r.data.teams.forEach(walk);
  return r.data.teams;
}

/** Start arguments every agent of every team gets (where its services are: `redisUrl`, `dataDir`). */
export type AgentArgs = Readonly<Record<string, unknown>>;

function memberChild(team: string, m: TeamMember, lead: boolean, agentArgs: AgentArgs): ChildSpec {
  const args = {
    ...agentArgs,
    tier: m.tier,
    team,
    ...(m.role ? { role: m.role } : lead ? { role: 'lead' } : {}),
    lead,
  };
  return {
    id: m.id,
    start: { kind: m.process ? 'process' : 'actor', actorKind: ACTOR_KIND.agent, actorId: m.id, args },
    restart: m.restart,
    shutdownMs: m.shutdownMs,
  };
}

/** A team as a child of its parent: a nested supervisor, in-host or in its own process. */
function teamChild(team: TeamDef, agentArgs: AgentArgs): ChildSpec {
  const spec = teamSpec(team, agentArgs);
  return {
    id: spec.id,
    start: team.process
      ? { kind: 'process', actorKind: ACTOR_KIND.supervisor, actorId: spec.id, args: { spec } }
      : { kind: 'supervisor', spec },
    restart: 'permanent',
    shutdownMs: team.process ? DEFAULT_PROCESS_TEAM_SHUTDOWN_MS : 'infinity',
  };
}

/** The supervisor spec of one team (and, nested, its sub-teams). */
export function teamSpec(team: TeamDef, agentArgs: AgentArgs = {}): SupervisorSpec {
  const spec = supervisorSpec({
    id: teamSupervisorId(team.id),
    strategy: team.strategy,
    intensity: team.intensity,
    periodMs: team.periodMs,
  });
  spec.children = [
    ...(team.lead ? [memberChild(team.id, team.lead, true, agentArgs)] : []),
    ...team.members.map((m) => memberChild(team.id, m, false, agentArgs)),
    ...team.teams.map((t) => teamChild(t, agentArgs)),
  ];
  validateSupervisorSpec(spec);
  return spec;
}

/** All teams under one `teams` supervisor. */
export function teamsSupervisorSpec(teams: TeamDef[], agentArgs: AgentArgs = {}): SupervisorSpec {
  const spec = supervisorSpec({
    id: 'teams',
    strategy: 'one_for_one',
    intensity: DEFAULT_TEAMS_INTENSITY,
    periodMs: DEFAULT_TEAMS_PERIOD_MS,
  });
  spec.children = teams.map((t) => teamChild(t, agentArgs));
  validateSupervisorSpec(spec);
  return spec;
}

/** The teams of a teams file; none when the file does not exist. */
export function loadTeams(file: string): TeamDef[] {
  return existsSync(file) ? parseTeams(readFileSync(file, 'utf8'), file) : [];
}
