/**
 * Ownership and recovery (actors/orchestrator/ownership.ts) on a real nats-server: runs stored in the
 * runs bucket (compare-and-set claims), owners that answer their ping or are gone (no responders).
 * The hooks record what the orchestrator would be asked to do. orchestrator-recovery.test.ts covers
 * the same through whole orchestrators and SIGKILLed processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../bus/index.ts';
import { Ownership } from '../../actors/orchestrator/ownership.ts';
import { newRun, type RunRecord } from '../../actors/orchestrator/run-machine.ts';
import { RunStore } from '../../actors/orchestrator/run-store.ts';
import { RunView } from '../../actors/orchestrator/run-view.ts';
import type { ActorContext } from '../../actors/runtime/index.ts';
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import { instantiatePipeline, parsePipeline } from '../../protocols/pipeline/index.ts';
import { actorInbox } from '../../protocols/subjects.ts';
import { serve, TestServers, testBus } from '../harness/index.ts';

const servers = new TestServers();
let bus: Bus;
let bucketN = 0;

beforeAll(async () => {
  const nats = await servers.nats();
  bus = await testBus(nats.url);
  servers.onStop(() => bus.close());
  // A live orchestrator answers its ping; one that refuses the ping still answers, so it is alive too.
  serve(bus, actorInbox(ACTOR_KIND.orchestrator, 'alive'), () => undefined);
  serve(bus, actorInbox(ACTOR_KIND.orchestrator, 'grumpy'), () => undefined, { accepts: [] });
  serve(bus, actorInbox(ACTOR_KIND.orchestrator, 'me'), () => undefined);
  serve(bus, actorInbox(ACTOR_KIND.orchestrator, 'rival'), () => undefined);
  await bus.flush();
});
afterAll(() => servers.stopAll());

const PIPELINE = (() => {
  const parsed = parsePipeline(
    'name: p\nversion: 1\nstages:\n  - { id: a, task: { kind: noop } }\n',
    'p.yaml',
  );
  if (!parsed.ok) throw new Error('fixture pipeline invalid');
  return instantiatePipeline(parsed.pipeline, {});
})();

function aRun(runId: string, owner: string, over: Partial<RunRecord> = {}): RunRecord {
  return { ...newRun({ runId, pipeline: PIPELINE, owner, now: 1_000 }), status: 'running', ...over };
}

interface Rig {
  store: RunStore;
  view: RunView;
  own: Ownership;
  resumed: RunRecord[];
  calls: string[];
  retired: string[];
}

async function rig(id = 'me', store?: RunStore): Promise<Rig> {
  const s = store ?? (await RunStore.open(bus, `TEST_OWN_${++bucketN}`));
  const view = new RunView();
  const resumed: RunRecord[] = [];
  const calls: string[] = [];
  const retired: string[] = [];
  const ctx = { id, bus } as unknown as ActorContext;
  const own = new Ownership(ctx, view, s, {
    // As the orchestrator does: the resumed run is taken into memory (a copy, so a test can tell them apart).
    resume: (run) => {
      resumed.push(run);
      calls.push(`resume ${run.runId}`);
      view.adopt({ ...run });
    },
    retired: (run) => void retired.push(run.runId),
    reconcileChildren: async () => void calls.push('reconcile'),
    requestPump: () => void calls.push('pump'),
  });
  return { store: s, view, own, resumed, calls, retired };
}

describe('ownership: locate', () => {
  it('finds a run driven here in memory, without reading the store', async () => {
    const r = await rig();
    const run = aRun('l-here', 'someone-else');
    r.view.set(run);
    const found = await r.own.locate('l-here');
    expect(found?.where).toBe('here');
    expect(found?.run).toBe(run);
    expect(await r.store.get('l-here')).toBeUndefined();
    expect(r.resumed).toEqual([]);
  });

  it('answers undefined for a run neither here nor stored', async () => {
    const r = await rig();
    expect(await r.own.locate('l-nowhere')).toBeUndefined();
  });

  it('reports a finished stored run as stored and never adopts it, even from a dead owner', async () => {
    const r = await rig();
    await r.store.save(aRun('l-done', 'dead-owner', { status: 'succeeded' }));
    const found = await r.own.locate('l-done');
    expect(found?.where).toBe('stored');
    expect(found?.run.owner).toBe('dead-owner');
    expect((await r.store.get('l-done'))?.owner).toBe('dead-owner');
    expect(r.resumed).toEqual([]);
  });

  it.each([
    ['alive', 'answers its ping'],
    ['grumpy', 'answers its ping with an error'],
  ])('leaves a live run to its owner %s, which %s: reported elsewhere, not adopted', async (owner) => {
    const r = await rig();
    await r.store.save(aRun(`l-${owner}`, owner));
    const found = await r.own.locate(`l-${owner}`);
    expect(found?.where).toBe('elsewhere');
    expect(found?.run.owner).toBe(owner);
    expect((await r.store.get(`l-${owner}`))?.owner).toBe(owner);
    expect(r.resumed).toEqual([]);
  });

  it('adopts a live run whose owner no longer answers: claimed in the store, resumed, found here', async () => {
    const r = await rig();
    await r.store.save(aRun('l-orphan', 'dead-owner'));
    const found = await r.own.locate('l-orphan');
    expect(found?.where).toBe('here');
    expect((await r.store.get('l-orphan'))?.owner).toBe('me');
    expect(r.resumed.map((x) => [x.runId, x.owner])).toEqual([['l-orphan', 'me']]);
    // What the caller gets is the run as resumed into memory.
    expect(found?.run).toBe(r.view.get('l-orphan'));
  });

  it('takes back its own stored run (from before a restart) without a claim', async () => {
    const r = await rig();
    await r.store.save(aRun('l-mine', 'me'));
    const rev = (await r.store.kv.get('l-mine'))?.revision;
    const found = await r.own.locate('l-mine');
    expect(found?.where).toBe('here');
    expect(r.resumed.map((x) => x.runId)).toEqual(['l-mine']);
    expect((await r.store.kv.get('l-mine'))?.revision).toBe(rev);
  });

  it('of two orchestrators adopting one orphan, exactly one adopts; the other then finds it elsewhere', async () => {
    const a = await rig('me');
    const b = await rig('rival', a.store);
    await a.store.save(aRun('l-race', 'dead-owner'));
    const [fa, fb] = await Promise.all([a.own.locate('l-race'), b.own.locate('l-race')]);
    const winners = [fa, fb].filter((f) => f?.where === 'here');
    expect(winners).toHaveLength(1);
    expect([fa?.where, fb?.where].sort()).toEqual(['elsewhere', 'here']);
    expect(a.resumed.length + b.resumed.length).toBe(1);
    const owner = (await a.store.get('l-race'))?.owner;
    expect(owner).toBe(fa?.where === 'here' ? 'me' : 'rival');
  });
});

describe('ownership: recover', () => {
  async function stored(r: Rig) {
    // A live run with unsent events is resumed once, as a live run.
    await r.store.save(
      aRun('mine-live', 'me', {
        outbox: [bus.wrap({ type: 'run.event.v1', body: { runId: 'mine-live', event: 'stage-dispatched' } })],
      } as Partial<RunRecord>),
    );
    await r.store.save(aRun('mine-done', 'me', { status: 'succeeded' }));
    await r.store.save(
      aRun('mine-done-outbox', 'me', {
        status: 'failed',
        outbox: [
          bus.wrap({ type: 'run.event.v1', body: { runId: 'mine-done-outbox', event: 'run-failed' } }),
        ],
      } as Partial<RunRecord>),
    );
    await r.store.save(aRun('orphan', 'dead-owner'));
    await r.store.save(aRun('orphan-done', 'dead-owner', { status: 'failed' }));
    await r.store.save(aRun('theirs', 'alive'));
    await r.store.save(aRun('in-view', 'dead-owner-2'));
    r.view.set(aRun('in-view', 'dead-owner-2'));
  }

  it('at start resumes its own live runs and finished runs with unsent events, adopts orphans, then reconciles and pumps', async () => {
    const r = await rig();
    await stored(r);
    await r.own.recover({ atStart: true });
    expect(r.resumed.map((x) => x.runId).sort()).toEqual(['mine-done-outbox', 'mine-live', 'orphan']);
    expect(r.calls.slice(-2)).toEqual(['reconcile', 'pump']);
    expect(r.calls.filter((c) => c === 'reconcile' || c === 'pump')).toHaveLength(2);
    expect((await r.store.get('orphan'))?.owner).toBe('me');
    expect(r.resumed.find((x) => x.runId === 'orphan')?.owner).toBe('me');
    for (const [runId, owner] of [
      ['theirs', 'alive'],
      ['orphan-done', 'dead-owner'],
      ['in-view', 'dead-owner-2'],
    ])
      expect((await r.store.get(runId!))?.owner).toBe(owner);
  });

  it('later (another instance exited) adopts orphans only, leaving its own stored runs alone', async () => {
    const r = await rig();
    await stored(r);
    await r.own.recover({ atStart: false });
    expect(r.resumed.map((x) => x.runId)).toEqual(['orphan']);
    expect(r.calls).toEqual(['resume orphan', 'reconcile', 'pump']);
    expect(r.retired).toEqual([]);
  });

  it('at start hands every finished run with nothing pending to retention, oldest first, whoever owned it', async () => {
    const r = await rig();
    await stored(r);
    await r.store.save(aRun('done-early', 'dead-owner', { status: 'succeeded', finishedAt: 500 }));
    await r.own.recover({ atStart: true });
    // Not 'mine-done-outbox': its last events are not acknowledged yet (it is resumed instead).
    expect(r.retired[0]).toBe('done-early');
    expect(r.retired.slice(1).sort()).toEqual(['mine-done', 'orphan-done']);
  });

  it('removes a finished record only while it is finished with an empty outbox', async () => {
    const r = await rig();
    await stored(r);
    for (const id of ['mine-live', 'mine-done-outbox', 'mine-done']) await r.store.remove(id);
    expect(await r.store.get('mine-live')).toBeDefined();
    expect(await r.store.get('mine-done-outbox')).toBeDefined();
    expect(await r.store.get('mine-done')).toBeUndefined();
    expect((await r.store.all()).map((x) => x.runId)).not.toContain('mine-done');
  });

  it('of two orchestrators recovering at once, exactly one adopts each orphan', async () => {
    const a = await rig('me');
    const b = await rig('rival', a.store);
    await a.store.save(aRun('race-orphan', 'dead-owner'));
    await Promise.all([a.own.recover({ atStart: false }), b.own.recover({ atStart: false })]);
    const adopters = [...a.resumed, ...b.resumed].filter((x) => x.runId === 'race-orphan');
    expect(adopters).toHaveLength(1);
    expect((await a.store.get('race-orphan'))?.owner).toBe(adopters[0]!.owner);
    expect(a.calls.slice(-2)).toEqual(['reconcile', 'pump']);
    expect(b.calls.slice(-2)).toEqual(['reconcile', 'pump']);
  });
});
