import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentArgsSchema, agentOptions, DEFAULT_AGENT_KEY_PREFIX } from '../../actors/agent/agent-options.ts';
import { parseStartArgs } from '../../actors/runtime/start-args.ts';
import { lifecycleKey, parsePersistedAgent } from '../../actors/agent/lifecycle-store.ts';
import { formatAge, formatAgentsTable } from '../../cli/command-agents.ts';
import { ConfigError, DecodeError } from '../../protocols/vocabulary/errors.ts';

describe('agent start arguments', () => {
  const compile = (raw: Record<string, unknown>) =>
    agentOptions('a1', parseStartArgs('agent', AgentArgsSchema, raw));

  it('takes the tier, team, role and Redis URL, with the work dir under the data folder by default', () => {
    const o = compile({
      tier: 'T2',
      team: 'red',
      role: 'builder',
      redisUrl: 'redis://x:1',
      dataDir: '/data',
    });
    expect(o).toMatchObject({
      tier: 'T2',
      tierValid: true,
      team: 'red',
      role: 'builder',
      redisUrl: 'redis://x:1',
      fresh: false,
    });
    expect(o.workDir).toBe(resolve(join('/data', 'agents', 'a1')));
    expect(o.keyPrefix).toBe(DEFAULT_AGENT_KEY_PREFIX);
  });

  it('starts an agent with an invalid tier as T0, to fail its preflight', () => {
    const o = compile({ tier: 'root', redisUrl: 'redis://x' });
    expect(o).toMatchObject({ tier: 'T0', tierValid: false, requestedTier: 'root' });
  });

  it('refuses to start without anywhere to persist the lifecycle, naming the missing option', () => {
    expect(() => compile({ tier: 'T1' })).toThrow(ConfigError);
    expect(() => compile({ tier: 'T1' })).toThrow(/option redisUrl/);
  });

  it('reads booleans and counts given as text on the command line', () => {
    const o = compile({ redisUrl: 'redis://x', fresh: 'true', keepTaskDirs: '0', maxRestarts: '4' });
    expect(o).toMatchObject({ fresh: true, keepTaskDirs: false, maxRestarts: 4 });
    expect(() => compile({ redisUrl: 'redis://x', maxRestarts: 'many' })).toThrow(/option maxRestarts/);
  });
});

describe('lifecycle store records', () => {
  it('keys each agent under a hash tag', () => {
    expect(lifecycleKey('a-1')).toBe('agov:agent:{a-1}:lifecycle');
    expect(lifecycleKey('we{ird}')).toBe('agov:agent:{we%7Bird%7D}:lifecycle');
  });

  it('refuses a record that is not one', () => {
    expect(() => parsePersistedAgent('nope')).toThrow(DecodeError);
    expect(() =>
      parsePersistedAgent(JSON.stringify({ v: 9, agentId: 'a', snapshot: {}, restarts: 0 })),
    ).toThrow(DecodeError);
    expect(
      parsePersistedAgent(JSON.stringify({ v: 1, agentId: 'a', snapshot: { value: 'idle' }, restarts: 2 })),
    ).toMatchObject({ restarts: 2, task: null });
  });
});

describe('agov agents table', () => {
  it('prints one aligned line per agent with the heartbeat age on the directory clock', () => {
    const text = formatAgentsTable(
      [
        {
          agentId: 'a1',
          state: 'working',
          tier: 'T1',
          team: 'red',
          role: 'builder',
          restarts: 2,
          lastHeartbeatMs: 9_500,
          currentTask: { taskId: 't9', runId: 'r1', stageId: 'build', attempt: 1 },
        },
        { agentId: 'agent-long', state: 'idle', tier: 'T0', restarts: 0 },
      ],
      10_000,
    );
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+TIER\s+TEAM\s+ROLE\s+RESTARTS\s+LAST HB\s+CURRENT TASK$/);
    expect(lines[1]).toMatch(/^a1\s+working\s+T1\s+red\s+builder\s+2\s+500ms\s+r1\/build#1 \(t9\)$/);
    expect(lines[2]).toMatch(/^agent-long\s+idle\s+T0\s+-\s+-\s+0\s+-\s+-$/);
    expect(lines[1]!.indexOf('working')).toBe(lines[2]!.indexOf('idle'));
  });

  it('formats ages compactly', () => {
    expect([
      formatAge(undefined),
      formatAge(12),
      formatAge(12_345),
      formatAge(180_000),
      formatAge(7_200_000),
    ]).toEqual(['-', '12ms', '12s', '3m', '2h']);
  });
});
