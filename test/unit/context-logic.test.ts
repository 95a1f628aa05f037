import { describe, expect, it } from 'vitest';
import {
  type Checkpoint,
  dashboard,
  diffCheckpoints,
  parseTarget,
  planRestore,
  summarize,
  sweepFlags,
} from '../../actors/context/index.ts';
import { InvalidTargetError } from '../../protocols/vocabulary/errors.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const cp = (agents: Checkpoint['agents'], extra: Partial<Checkpoint> = {}): Checkpoint => ({
  id: 'cp-000001',
  version: 1,
  seq: 1,
  createdAt: 1,
  takenBy: 't',
  reason: 'operator',
  sources: {},
  runs: [],
  agents,
  budgets: [],
  tokens: [],
  work: [],
  memory: [],
  ...extra,
});

describe('memory summary', () => {
  it('detects JSON and lists its top-level keys', () => {
    expect(summarize(enc('{"name":1,"steps":[]}'))).toMatchObject({
      format: 'json',
      jsonKeys: ['name', 'steps'],
    });
  });
  it('detects a log, counts lines and keeps error lines with their numbers, head and tail without overlap', () => {
    const lines = Array.from(
      { length: 12 },
      (_, i) => `2026-01-01 00:00:${String(i).padStart(2, '0')} INFO step ${i}`,
    );
    lines[7] = '2026-01-01 00:00:07 ERROR boom';
    const s = summarize(enc(`${lines.join('\n')}\n`));
    expect(s).toMatchObject({
      format: 'log',
      lines: 12,
      errorCount: 1,
      errorLines: [{ line: 8, text: lines[7] }],
    });
    expect(s.head).toHaveLength(5);
    expect(s.tail).toEqual(lines.slice(7));
  });
  it('calls bytes that are not UTF-8 binary and shows none of them', () => {
    expect(summarize(new Uint8Array([0xff, 0x00, 0x10]))).toMatchObject({
      format: 'binary',
      head: [],
      bytes: 3,
    });
  });
});

describe('work targets', () => {
  it('names repositories and services by prefix and normalises paths', () => {
    expect(parseTarget('repo:site')).toEqual({ target: 'repo:site', kind: 'repository' });
    expect(parseTarget('./src//api/')).toEqual({ target: 'src/api', kind: 'directory' });
  });
  it('refuses empty, climbing and control-character targets with InvalidTargetError', () => {
    for (const t of ['', '  ', '../x', 'a\nb']) expect(() => parseTarget(t)).toThrow(InvalidTargetError);
  });
  it('flags stale and gone-owner targets but never a complete one as stale', () => {
    const t = {
      target: 'x',
      kind: 'service' as const,
      phase: 'in-progress' as const,
      progress: 10,
      owner: 'a1',
      updatedBy: 'u',
      updatedAt: 0,
      staleAfterMs: 100,
      flags: [],
    };
    expect(sweepFlags(t, { now: 101, ownerAlive: false })).toEqual(['stale', 'owner-gone']);
    expect(sweepFlags({ ...t, phase: 'complete' }, { now: 101, ownerAlive: false })).toEqual([]);
    expect(dashboard([t, { ...t, target: 'y', progress: 30 }]).overall).toBe(20);
  });
});

describe('checkpoint restore plan and timeline', () => {
  it('plans one promote per tier step and the quarantine back, and skips agents not running', () => {
    const plan = planRestore(
      cp([
        { agentId: 'a', tier: 'T2', state: 'quarantined', restarts: 0 },
        { agentId: 'b', tier: 'T1', state: 'idle', restarts: 0 },
      ]),
      [{ agentId: 'a', tier: 'T0', state: 'idle', restarts: 0 }],
    );
    expect(plan.map((p) => `${p.target}:${p.command}:${p.outcome}`)).toEqual([
      'a:promote:planned',
      'a:promote:planned',
      'a:quarantine:planned',
      'b:none:skipped',
    ]);
  });
  it('pauses again a run that was paused in the checkpoint and runs unheld now; skips one that ended', () => {
    const run = (runId: string, status: 'running' | 'succeeded', paused?: { at: number; by?: string }) => ({
      runId,
      pipeline: 'p',
      status,
      params: {},
      createdAt: 1,
      stages: [],
      ...(paused ? { paused } : {}),
    });
    const plan = planRestore(
      cp([], {
        runs: [
          run('r1', 'running', { at: 1, by: 'client-alice' }),
          run('r2', 'running', { at: 1 }),
          run('r3', 'running'),
        ],
      }),
      [],
      [run('r1', 'running'), run('r2', 'succeeded'), run('r3', 'running')],
    );
    expect(plan.map((p) => `${p.kind}:${p.target}:${p.command}:${p.outcome}`)).toEqual([
      'run-pause:r1:pause:planned',
      'run-pause:r2:none:skipped',
    ]);
  });
  it('says what changed between two checkpoints', () => {
    const a = cp([{ agentId: 'a', tier: 'T1', state: 'idle', restarts: 0 }]);
    const b = cp([{ agentId: 'a', tier: 'T0', state: 'idle', restarts: 0 }], { id: 'cp-000002', seq: 2 });
    expect(diffCheckpoints(a, b)).toEqual(['agent a: tier T1 → T0']);
    expect(diffCheckpoints(undefined, a)).toEqual(['first checkpoint']);
  });
});
