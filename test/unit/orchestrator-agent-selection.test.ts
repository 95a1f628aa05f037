import { describe, expect, it } from 'vitest';
import { AgentDirectory } from '../../actors/orchestrator/dispatcher/agent-selection.ts';

const need = (tier: 'T0' | 'T1' | 'T2', extra: { role?: string; team?: string; avoid?: string[] } = {}) => ({
  selector: {
    tier,
    ...(extra.role ? { role: extra.role } : {}),
    ...(extra.team ? { team: extra.team } : {}),
  },
  kind: 'noop' as const,
  avoid: extra.avoid ?? [],
});

function directory() {
  const d = new AgentDirectory(3, 100);
  // Registrations: their tier is the credential's (the subject's), which bounds later heartbeats.
  d.register({ agentId: 'a0', state: 'idle', tier: 'T0' }, 0);
  d.register({ agentId: 'a1', state: 'idle', tier: 'T1', role: 'builder', team: 'core' }, 0);
  d.register({ agentId: 'a2', state: 'idle', tier: 'T2', role: 'builder', team: 'ops' }, 0);
  return d;
}

describe('agent selection', () => {
  it('picks only idle agents of at least the required tier with the same role and team', () => {
    const d = directory();
    expect(d.select(need('T1', { role: 'builder', team: 'core' }), 0)?.agentId).toBe('a1');
    expect(d.select(need('T2'), 0)?.agentId).toBe('a2');
    expect(d.select(need('T1', { team: 'nobody' }), 0)).toBeUndefined();
    d.report('agent', { agentId: 'a2', state: 'working', tier: 'T2' }, 1);
    expect(d.select(need('T2'), 1)).toBeUndefined();
  });

  it('believes the tier a heartbeat states only up to its registration’s, and T0 before any registration', () => {
    const d = directory();
    d.report('agent', { agentId: 'a0', state: 'idle', tier: 'T2' }, 1);
    expect(d.get('a0')?.tier).toBe('T0');
    expect(d.select(need('T2', { role: 'x' }), 1)).toBeUndefined();
    d.report('agent', { agentId: 'a2', state: 'idle', tier: 'T1', role: 'builder', team: 'ops' }, 1);
    expect(d.get('a2')?.tier).toBe('T1');
    d.report('agent', { agentId: 'stranger', state: 'idle', tier: 'T2' }, 1);
    expect(d.get('stranger')?.tier).toBe('T0');
    d.register({ agentId: 'stranger', state: 'idle', tier: 'T1' }, 2);
    d.report('agent', { agentId: 'stranger', state: 'idle', tier: 'T2' }, 3);
    expect(d.get('stranger')?.tier).toBe('T1');
  });

  it('spreads work: the least recently assigned agent goes first, and a busy one is skipped', () => {
    const d = directory();
    const picks: string[] = [];
    for (let t = 1; t <= 3; t++) {
      const a = d.select(need('T0'), t)!;
      picks.push(a.agentId);
      d.assigned(a.agentId, `task-${t}`, t);
    }
    expect(picks).toEqual(['a0', 'a1', 'a2']);
    expect(d.select(need('T0'), 4)).toBeUndefined();
    d.released('a1', 'task-2');
    expect(d.select(need('T0'), 5)?.agentId).toBe('a1');
  });

  it('passes over agents to avoid while another matches', () => {
    const d = directory();
    expect(d.select(need('T1', { avoid: ['a1'] }), 0)?.agentId).toBe('a2');
    expect(d.select(need('T2', { avoid: ['a2'] }), 0)?.agentId).toBe('a2');
  });

  it('declares an agent silent after the missed heartbeats, once', () => {
    const d = directory();
    d.seen('a0', 250);
    expect(d.silent(301)).toEqual(['a1', 'a2']);
    expect(d.silent(302)).toEqual([]);
    expect(d.select(need('T1'), 302)).toBeUndefined();
    expect(d.silent(551)).toEqual(['a0']);
  });

  it('lets a refusing agent cool down until it reports idle again', () => {
    const d = directory();
    d.assigned('a0', 't', 0);
    d.released('a0', 't', { refused: true, now: 0, coolDownMs: 1000 });
    expect(d.select(need('T0'), 10)?.agentId).not.toBe('a0');
    d.report('agent', { agentId: 'a0', state: 'idle', tier: 'T0' }, 20);
    expect(d.get('a0')?.coolDownUntil).toBeUndefined();
  });

  it('keeps an agent whose heartbeats arrive from counting as silent, even while its status waits in the mailbox', () => {
    const d = directory(); // 3 missed beats of 100 ms
    d.alive('a0', 250);
    expect(d.silent(400).sort()).toEqual(['a1', 'a2']);
  });

  it('does not bring back a dead agent or invent an unknown one from a bare sign of life', () => {
    const d = directory();
    d.markDead('a1');
    d.alive('a1', 50);
    d.alive('ghost', 50);
    expect(d.select(need('T1', { role: 'builder', team: 'core' }), 60)).toBeUndefined();
    expect(d.get('ghost')).toBeUndefined();
  });
});
