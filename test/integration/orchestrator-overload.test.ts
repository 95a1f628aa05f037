import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GovError } from '../../protocols/vocabulary/errors.ts';
import { serviceSubject } from '../../protocols/subjects.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';

/** Admission control: a saturated orchestrator refuses new runs with a typed retry-after, never queues them. */
const rig = new OrchestratorRig();

beforeAll(async () => {
  await rig.start();
  await rig.orchestrator('orch-full', { maxRunsInFlight: 2 });
  await rig.agent('slow-1', { tier: 'T0' });
});
afterAll(() => rig.stop());

const slow = 'name: slow\nversion: 1\nstages:\n  - { id: s, task: { kind: sleep, ms: 60000 } }\n';

describe('orchestrator admission control', () => {
  it('refuses a run beyond maxRunsInFlight with GOV_ERR_OVERLOADED and a retry-after, storing nothing, and admits again once a run ends', async () => {
    const first = await rig.submit(slow);
    const second = await rig.submit(slow);
    const before = await rig.client.ask(serviceSubject('orchestrator'), { type: 'run.list.v1', body: {} });
    const refused = await rig.submit(slow).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(GovError);
    const e = refused as GovError;
    expect(e.code).toBe('GOV_ERR_OVERLOADED');
    expect(e.retryable).toBe(true);
    expect(e.details).toMatchObject({
      retryAfterMs: expect.any(Number),
      runsInFlight: 2,
      maxRunsInFlight: 2,
    });
    const after = await rig.client.ask(serviceSubject('orchestrator'), { type: 'run.list.v1', body: {} });
    expect(after.type === 'run.states.v1' && after.body.runs.length).toBe(
      before.type === 'run.states.v1' && before.body.runs.length,
    );
    await rig.client.ask(serviceSubject('orchestrator'), { type: 'run.cancel.v1', body: { runId: first } });
    await rig.finished(first);
    const third = await rig.submit(slow);
    expect(third).toMatch(/^r-/);
    for (const id of [second, third])
      await rig.client.ask(serviceSubject('orchestrator'), { type: 'run.cancel.v1', body: { runId: id } });
  });
});
