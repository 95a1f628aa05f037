import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocols/vocabulary/errors.ts';
import { parseTeams, teamSpec, teamsSupervisorSpec } from '../../system/index.ts';

describe('teams as plain data', () => {
  it('parses the shipped default fleet', () => {
    const teams = parseTeams(readFileSync(new URL('../../config/teams.yaml', import.meta.url), 'utf8'));
    expect(teams.map((t) => t.id)).toEqual(['core']);
    expect(teams[0]!.teams.map((t) => t.id)).toEqual(['ops']);
  });

  it('turns a team into a supervisor whose children are lead, members, then sub-teams', () => {
    const [team] = parseTeams(`
teams:
  - id: a
    strategy: rest_for_one
    lead: { id: a-lead, tier: T2 }
    members: [{ id: m1, tier: T1, role: builder, process: true }]
    teams: [{ id: b, members: [{ id: m2 }] }]
`);
    const spec = teamSpec(team!);
    expect(spec.id).toBe('team-a');
    expect(spec.strategy).toBe('rest_for_one');
    expect(spec.children.map((c) => c.id)).toEqual(['a-lead', 'm1', 'team-b']);
    expect(spec.children[0]!.start).toEqual({
      kind: 'actor',
      actorKind: 'agent',
      actorId: 'a-lead',
      args: { tier: 'T2', team: 'a', role: 'lead', lead: true },
    });
    expect(spec.children[1]!.start.kind).toBe('process');
    const nested = spec.children[2]!.start;
    expect(nested.kind === 'supervisor' && nested.spec.children[0]!.start).toMatchObject({
      actorId: 'm2',
      args: { tier: 'T0', team: 'b' },
    });
  });

  it('gives members least privilege (T0) when no tier is declared', () => {
    const [team] = parseTeams('teams: [{ id: x, members: [{ id: y }] }]');
    expect(team!.members[0]!.tier).toBe('T0');
  });

  it('refuses unknown tiers, unknown fields and duplicate ids with the path named', () => {
    expect(() => parseTeams('teams: [{ id: x, members: [{ id: y, tier: T9 }] }]')).toThrow(
      /teams\.0\.members\.0\.tier/,
    );
    expect(() => parseTeams('teams: [{ id: x, color: red }]')).toThrow(ConfigError);
    expect(() => parseTeams('teams: [{ id: x, members: [{ id: y }, { id: y }] }]')).toThrow(
      /duplicate id "y"/,
    );
    expect(() => parseTeams('teams: [ { id: x')).toThrow(/invalid YAML/);
  });

  it('puts every team under one teams supervisor', () => {
    const spec = teamsSupervisorSpec(parseTeams('teams: [{ id: x }, { id: y }]'));
    expect(spec.children.map((c) => [c.id, c.start.kind, c.shutdownMs])).toEqual([
      ['team-x', 'supervisor', 'infinity'],
      ['team-y', 'supervisor', 'infinity'],
    ]);
  });
});
