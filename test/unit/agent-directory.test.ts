import { describe, expect, it } from 'vitest';
import { AgentDirectoryTable } from '../../actors/agent-directory.ts';
import type { BodyOf } from '../../protocols/catalog.ts';

function hb(
  agentId: string,
  status: Record<string, unknown> | undefined,
  intervalMs = 100,
  kind = 'agent',
): BodyOf<'actor.heartbeat.v1'> {
  return {
    actorId: agentId,
    kind,
    seq: 0,
    pid: 1,
    host: 'h',
    uptimeMs: 0,
    mailboxDepth: 0,
    processed: 0,
    intervalMs,
    status,
  };
}

const state = (agentId: string, team: string, s = 'idle') => ({
  agentId,
  state: s,
  tier: 'T1' as const,
  team,
  role: 'r',
  restarts: 0,
});

describe('agent directory table', () => {
  it('lists agents from heartbeats with their last heartbeat time, and filters by id and team', () => {
    const t = new AgentDirectoryTable();
    // Registered (at their credentials' tier) before: their heartbeats' tier is believed up to it.
    t.register(state('a1', 'red'), 900);
    t.register(state('a2', 'blue'), 900);
    t.heartbeat(hb('a1', state('a1', 'red')), 1_000);
    t.heartbeat(hb('a2', state('a2', 'blue')), 1_010);
    t.register(state('a3', 'red'), 1_020);
    expect(t.query({}, 1_050).map((a) => a.agentId)).toEqual(['a1', 'a2', 'a3']);
    expect(t.query({ team: 'red' }, 1_050).map((a) => a.agentId)).toEqual(['a1', 'a3']);
    expect(t.query({ agentId: 'a2' }, 1_050)).toEqual([{ ...state('a2', 'blue'), lastHeartbeatMs: 1_010 }]);
  });

  it('ignores heartbeats of actors that are not agents', () => {
    const t = new AgentDirectoryTable();
    expect(t.heartbeat(hb('echo-1', { echoed: 3 }, 100, 'echo'), 0)).toBe(false);
    expect(t.heartbeat(hb('c1', undefined, 100, 'counter'), 0)).toBe(false);
    expect(t.query({}, 0)).toEqual([]);
  });

  it('marks an agent unreachable after 3 missed intervals and reachable again on its next heartbeat', () => {
    const t = new AgentDirectoryTable();
    t.heartbeat(hb('a1', state('a1', 'red'), 100), 0);
    expect(t.query({}, 300)[0]!.state).toBe('idle');
    expect(t.query({}, 301)[0]!.state).toBe('unreachable');
    t.heartbeat(hb('a1', state('a1', 'red', 'working'), 100), 400);
    expect(t.query({}, 400)[0]!.state).toBe('working');
  });

  it('believes a heartbeat’s or transition’s tier only up to the registration’s, and T0 before any registration', () => {
    const t = new AgentDirectoryTable();
    t.heartbeat(hb('a1', { ...state('a1', 'red'), tier: 'T2' }), 0);
    expect(t.query({}, 1)[0]!.tier).toBe('T0');
    t.register({ ...state('a1', 'red'), tier: 'T1' }, 2);
    t.heartbeat(hb('a1', { ...state('a1', 'red'), tier: 'T2' }), 3);
    expect(t.query({}, 4)[0]!.tier).toBe('T1');
    t.transition({ agentId: 'a1', from: 'idle', to: 'idle', event: 'PROMOTE', tier: 'T2' }, 5);
    expect(t.query({}, 6)[0]!.tier).toBe('T1');
    t.transition({ agentId: 'a1', from: 'idle', to: 'idle', event: 'DEMOTE', tier: 'T0' }, 7);
    expect(t.query({}, 8)[0]!.tier).toBe('T0');
  });

  it('applies transitions from the feed between heartbeats', () => {
    const t = new AgentDirectoryTable();
    t.register(state('a1', 'red'), 0);
    t.heartbeat(
      hb('a1', {
        ...state('a1', 'red', 'working'),
        currentTask: { taskId: 't', runId: 'r', stageId: 's', attempt: 1 },
      }),
      0,
    );
    t.transition(
      {
        agentId: 'a1',
        from: 'working',
        to: 'suspended',
        event: 'SUSPEND',
        tier: 'T1',
        team: 'red',
        restarts: 0,
      },
      10,
    );
    const [a] = t.query({}, 20);
    expect(a).toMatchObject({ state: 'suspended', tier: 'T1' });
    expect(a!.currentTask).toBeUndefined();
  });

  it('reports exited agents and forgets them after the forget period', () => {
    const t = new AgentDirectoryTable({ forgetAfterMs: 1_000 });
    t.heartbeat(hb('a1', state('a1', 'red')), 0);
    t.exit({ actorId: 'a1', kind: 'agent', pid: 1, incarnation: 'i', reason: 'crash' }, 50);
    expect(t.query({}, 60)[0]!.state).toBe('crashed');
    expect(t.query({}, 2_000)).toEqual([]);
    expect(t.size()).toBe(0);
  });

  it('ignores exits of other kinds of actor with the same id', () => {
    const t = new AgentDirectoryTable();
    t.heartbeat(hb('x', state('x', 'red')), 0);
    t.exit({ actorId: 'x', kind: 'echo', pid: 1, incarnation: 'i', reason: 'shutdown' }, 10);
    expect(t.query({}, 20)[0]!.state).toBe('idle');
  });
});
