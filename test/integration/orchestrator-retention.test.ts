import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUNS_BUCKET } from '../../actors/orchestrator/options.ts';
import { serviceSubject } from '../../protocols/subjects.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';

/** Finished run records leave the runs bucket after their retention; the ledger keeps their trail. */
const rig = new OrchestratorRig();

beforeAll(async () => {
  await rig.start();
  await rig.orchestrator('orch-ret', { runRetentionMs: 1_500 });
  await rig.agent('ret-1', { tier: 'T0' });
  await rig.agent('ret-2', { tier: 'T0' });
});
afterAll(() => rig.stop());

const noop = 'name: quick\nversion: 1\nstages:\n  - { id: a, task: { kind: noop } }\n';
const slow = 'name: slow\nversion: 1\nstages:\n  - { id: s, task: { kind: sleep, ms: 60000 } }\n';

describe('run record retention', () => {
  it('removes a finished run record once its retention has passed and never a live one', async () => {
    const kv = await rig.client.keyValue(DEFAULT_RUNS_BUCKET);
    const live = await rig.submit(slow);
    const done = await rig.submit(noop);
    const watch = await kv.watch({ key: done, include: 'updates' as never });
    const finishedAt = Date.now();
    expect((await rig.finished(done)).event).toBe('run-succeeded');
    let removedAt: number | undefined;
    for await (const e of watch) {
      if (e.operation === 'DEL' || e.operation === 'PURGE') {
        removedAt = Date.now();
        break;
      }
    }
    watch.stop();
    // Retention 1.5 s, counted from the run's end (timer slack allowed for a loaded machine).
    expect(removedAt! - finishedAt).toBeGreaterThanOrEqual(1_400);
    expect(await kv.get(done).then((e) => e?.operation)).not.toBe('PUT');
    const got = await rig.client
      .ask(serviceSubject('orchestrator'), { type: 'run.get.v1', body: { runId: done } })
      .then(
        () => 'found',
        (err: { code?: string }) => err.code,
      );
    expect(got).toBe('GOV_ERR_NOT_FOUND');
    // The live run (older than the retention by now) is untouched.
    expect((await kv.get(live))?.operation).toBe('PUT');
    await rig.client.ask(serviceSubject('orchestrator'), { type: 'run.cancel.v1', body: { runId: live } });
  });
});
