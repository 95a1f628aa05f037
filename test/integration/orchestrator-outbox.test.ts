import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUNS_BUCKET } from '../../actors/orchestrator/options.ts';
import type { RunRecord } from '../../actors/orchestrator/run-record.ts';
import { AUDIT_STREAM } from '../../bus/index.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';

/**
 * The orchestrator's transactional outbox, as a SIGKILL leaves it: a run's events are stored with the
 * state that implies them, so an event whose write landed but whose publish never did is published on
 * recovery, under its id, once.
 */
const rig = new OrchestratorRig();

beforeAll(async () => {
  await rig.start();
  for (const id of ['ob-1', 'ob-2']) await rig.agent(id);
});
afterAll(() => rig.stop());

const chain = `
name: outbox
version: 1
stages:
  - { id: a, task: { kind: noop } }
  - { id: b, needs: [a], task: { kind: sleep, ms: 4000 } }
  - { id: c, needs: [b], task: { kind: noop } }
`;

/** Envelope id → how many times it is in the AUDIT stream (and the run events, in `events`). */
const events = new Map<string, { event?: string; pipelineSha256?: string; outputDigest?: string }>();
async function auditCounts(): Promise<Map<string, number>> {
  const jsm = await rig.client.jetstreamManager();
  const info = await jsm.streams.info(AUDIT_STREAM);
  const counts = new Map<string, number>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(AUDIT_STREAM, { seq }).catch(() => null);
    const d = m ? rig.client.decode(m.data) : undefined;
    if (d?.ok) counts.set(d.env.id, (counts.get(d.env.id) ?? 0) + 1);
    if (d?.ok && d.env.type === 'run.event.v1') events.set(d.env.id, d.env.body as never);
  }
  return counts;
}

describe('the orchestrator outbox under SIGKILL', () => {
  it('publishes on recovery, once, an event whose state was stored but whose publish the SIGKILL cut off, and every event a stored run implies is in the audit stream once', async () => {
    const orchestrator = await rig.orchestratorProcess('orch-ob');
    const first = await orchestrator.start();
    const runId = await rig.submit(chain);
    await rig.event(runId, 'stage-accepted', (e) => e.stageId === 'b');
    first.signal('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    // What a SIGKILL between a state write and its publish leaves: the event in the stored outbox only.
    const kv = await rig.client.keyValue(DEFAULT_RUNS_BUCKET);
    const entry = await kv.get(runId);
    const stored = entry!.json<RunRecord>();
    expect(stored.auditIds?.length).toBeGreaterThan(0); // premise: the record lists its events
    const cut = rig.client.wrap({
      type: 'run.event.v1',
      body: { runId, event: 'stage-progress', stageId: 'b', fraction: 0.5 },
      run: runId,
    });
    expect((await auditCounts()).has(cut.id)).toBe(false);
    await kv.put(
      runId,
      JSON.stringify({
        ...stored,
        outbox: [...(stored.outbox ?? []), cut],
        auditIds: [...(stored.auditIds ?? []), cut.id],
      }),
    );

    const second = await orchestrator.start();
    expect((await rig.finished(runId, 45_000)).event).toBe('run-succeeded');
    await second.stop(5_000);

    const final = (await kv.get(runId))!.json<RunRecord>();
    expect(final.outbox ?? []).toEqual([]); // every event acknowledged, the outbox emptied
    const counts = await auditCounts();
    expect(counts.get(cut.id)).toBe(1);
    const implied = final.auditIds ?? [];
    expect(implied).toContain(cut.id);
    expect(implied.filter((id) => counts.get(id) !== 1)).toEqual([]);
    // Provenance for evidence packages: the pipeline text's hash and each stage output's digest.
    const mine = implied.map((id) => events.get(id)!);
    expect(mine.find((e) => e.event === 'run-accepted')?.pipelineSha256).toBe(
      createHash('sha256').update(chain).digest('hex'),
    );
    const succeeded = mine.filter((e) => e.event === 'stage-succeeded');
    expect(succeeded.length).toBe(3);
    for (const e of succeeded) expect(e.outputDigest).toMatch(/^[0-9a-f]{64}$/);
  });
});
