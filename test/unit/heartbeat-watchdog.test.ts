import { describe, expect, it } from 'vitest';
import { HeartbeatWatchdog } from '../../supervisors/heartbeat-watchdog.ts';

describe('HeartbeatWatchdog', () => {
  it('declares a child hung only when it has been silent for more than missedBeats intervals', () => {
    const w = new HeartbeatWatchdog(3);
    w.watch('a', 100, 0);
    expect(w.hung(300)).toEqual([]);
    expect(w.hung(301)).toEqual(['a']);
  });

  it('reports a hung child once, then forgets it', () => {
    const w = new HeartbeatWatchdog(3);
    w.watch('a', 100, 0);
    expect(w.hung(1_000)).toEqual(['a']);
    expect(w.hung(2_000)).toEqual([]);
    expect(w.nextDeadline()).toBeUndefined();
  });

  it('moves a child’s deadline with each beat, and adopts the interval the child reports', () => {
    const w = new HeartbeatWatchdog(3);
    w.watch('a', 100, 0);
    w.beat('a', 250, 200);
    expect(w.nextDeadline()).toBe(850);
    expect(w.hung(849)).toEqual([]);
    expect(w.hung(851)).toEqual(['a']);
  });

  it('gives the earliest deadline over all watched children, so one timer serves them all', () => {
    const w = new HeartbeatWatchdog(2);
    w.watch('slow', 1_000, 0);
    w.watch('fast', 100, 50);
    expect(w.nextDeadline()).toBe(250);
    w.unwatch('fast');
    expect(w.nextDeadline()).toBe(2_000);
  });

  it('ignores beats from children it does not watch', () => {
    const w = new HeartbeatWatchdog(3);
    w.beat('ghost', 10);
    expect(w.nextDeadline()).toBeUndefined();
    expect(w.lastSeen('ghost')).toBeUndefined();
  });

  it('declares no pardoned child hung before its grace ends, and a silent one right after it', () => {
    const w = new HeartbeatWatchdog(3);
    w.watch('a', 100, 0);
    w.pardon(1_000, 5_000); // the bus came back at 1 s after an outage
    expect(w.nextDeadline()).toBe(6_000);
    expect(w.hung(6_000)).toEqual([]);
    expect(w.hung(6_001)).toEqual(['a']);
  });

  it('keeps a pardoned child that beats alive past its grace, on its usual threshold', () => {
    const w = new HeartbeatWatchdog(3);
    w.watch('a', 100, 0);
    w.pardon(1_000, 500);
    w.beat('a', 1_400);
    expect(w.hung(1_600)).toEqual([]);
    expect(w.nextDeadline()).toBe(1_700);
    expect(w.hung(1_701)).toEqual(['a']);
  });
});
