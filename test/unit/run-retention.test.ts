import { describe, expect, it } from 'vitest';
import { RunRetention } from '../../actors/orchestrator/run-retention.ts';
import { ManualClock } from '../../infra/clock/clock.ts';

function rig(retentionMs = 1_000, purgeEvery = 3, failOn = new Set<string>()) {
  const clock = new ManualClock(10_000);
  const removed: string[] = [];
  const errors: (string | undefined)[] = [];
  let purges = 0;
  const retention = new RunRetention(
    clock,
    {
      remove: async (runId) => {
        if (failOn.has(runId)) throw new Error(`cannot remove ${runId}`);
        removed.push(runId);
      },
      purgeMarkers: async () => void purges++,
    },
    { retentionMs, purgeEvery },
    (runId) => void errors.push(runId),
  );
  // Removals are async: let their promises settle after each advance.
  const advance = async (ms: number) => {
    clock.advance(ms);
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  return { clock, retention, removed, errors, advance, purges: () => purges };
}

describe('run retention', () => {
  it('removes each finished run exactly when its retention has passed, in order', async () => {
    const r = rig();
    r.retention.track('a', 10_000);
    r.retention.track('b', 10_200);
    r.retention.track('c', 10_500);
    await r.advance(999);
    expect(r.removed).toEqual([]);
    await r.advance(1);
    expect(r.removed).toEqual(['a']);
    await r.advance(300);
    expect(r.removed).toEqual(['a', 'b']);
    await r.advance(1_000);
    expect(r.removed).toEqual(['a', 'b', 'c']);
    expect(r.retention.pending).toBe(0);
  });

  it('removes at once what a restart finds already past its retention', async () => {
    const r = rig();
    r.retention.track('old-1', 1_000);
    r.retention.track('old-2', 2_000);
    r.retention.track('recent', 9_900);
    await r.advance(0);
    expect(r.removed).toEqual(['old-1', 'old-2']);
    await r.advance(900);
    expect(r.removed).toEqual(['old-1', 'old-2', 'recent']);
  });

  it('purges delete markers after every purgeEvery removals', async () => {
    const r = rig(1_000, 3);
    for (let i = 0; i < 7; i++) r.retention.track(`r${i}`, 10_000 + i);
    await r.advance(2_000);
    expect(r.removed).toHaveLength(7);
    expect(r.purges()).toBe(2);
  });

  it('reports a removal that fails and goes on with the next', async () => {
    const r = rig(1_000, 100, new Set(['bad']));
    r.retention.track('bad', 10_000);
    r.retention.track('good', 10_000);
    await r.advance(1_000);
    expect(r.errors).toEqual(['bad']);
    expect(r.removed).toEqual(['good']);
  });

  it('removes nothing after stop', async () => {
    const r = rig();
    r.retention.track('a', 10_000);
    r.retention.stop();
    r.retention.track('b', 10_000);
    await r.advance(5_000);
    expect(r.removed).toEqual([]);
  });

  it('waits out a retention longer than a Node timer can hold (regression guard: 2^31 ms overflow fires at once)', async () => {
    const day = 24 * 60 * 60 * 1000;
    const r = rig(30 * day);
    r.retention.track('a', 10_000);
    await r.advance(25 * day);
    expect(r.removed).toEqual([]);
    await r.advance(5 * day);
    expect(r.removed).toEqual(['a']);
  });
});
