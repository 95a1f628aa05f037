import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTerminalRunEvent } from '../../protocols/vocabulary/run-status.ts';
import { OrchestratorRig, type RunEvent } from './orchestrator-helpers.ts';

/**
 * The order of a run's events on the feed (docs/observability-feed.md, "Order of a run's events"),
 * with plain agents that accept an assign the instant it arrives: the case where an accept used to
 * overtake the write that recorded its dispatch.
 */
const rig = new OrchestratorRig();

beforeAll(async () => {
  await rig.start();
  await rig.orchestrator('orch-order');
  for (const id of ['fast-1', 'fast-2']) await rig.agent(id, { tier: 'T0' });
});
afterAll(() => rig.stop());

const oneStage = 'name: quick\nversion: 1\nstages:\n  - { id: only, task: { kind: noop } }\n';
const retried = `name: retried
version: 1
stages:
  - id: flaky
    task: { kind: fail, message: nope }
    retries: { max: 2, backoffMs: 1, factor: 1 }
    onFailure: continue
  - { id: after, needs: [flaky], task: { kind: noop } }
`;

/** Every order rule of the doc, checked on one run's events as the feed delivered them. */
function checkOrder(runId: string, events: RunEvent[]): void {
  const names = events.map((e) => `${e.event}${e.stageId ? `:${e.stageId}#${e.attempt}` : ''}`);
  const where = `${runId}: ${names.join(' ')}`;
  expect(events[0]?.event, where).toBe('run-accepted');
  expect(events[1]?.event, where).toBe('run-started');
  expect(events.filter((e) => isTerminalRunEvent(e.event)).length, where).toBe(1);
  expect(isTerminalRunEvent(events.at(-1)!.event), where).toBe(true);
  const seen = new Set<string>();
  for (const e of events) {
    const attempt = `${e.stageId}#${e.attempt}`;
    if (e.event === 'stage-dispatched') seen.add(attempt);
    if (
      ['stage-accepted', 'stage-progress', 'stage-succeeded', 'stage-retrying', 'stage-failed'].includes(
        e.event,
      )
    )
      expect(seen.has(attempt), `${e.event} of ${attempt} before its stage-dispatched — ${where}`).toBe(true);
    if (e.event === 'stage-accepted') seen.add(`accepted ${attempt}`);
    if (e.event === 'stage-succeeded' || e.event === 'stage-retrying' || e.event === 'stage-failed')
      expect(
        seen.has(`accepted ${attempt}`),
        `${e.event} of ${attempt} before stage-accepted — ${where}`,
      ).toBe(true);
  }
}

describe('run event order with agents that accept at once', () => {
  it('puts run-accepted and run-started first, each attempt dispatched before accepted before it ends, and the end last', async () => {
    const runIds = await Promise.all([
      ...Array.from({ length: 30 }, () => rig.submit(oneStage)),
      ...Array.from({ length: 10 }, () => rig.submit(retried)),
    ]);
    await Promise.all(runIds.map((id) => rig.finished(id)));
    for (const id of runIds) checkOrder(id, rig.events(id));
    // The retried pipeline really retried (its order rules were exercised on attempts 1..3).
    const retries = rig.events(runIds.at(-1)!).filter((e) => e.event === 'stage-retrying');
    expect(retries.length).toBe(2);
  });
});
