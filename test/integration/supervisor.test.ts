import { readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ActorHandle } from '../../actors/runtime/actor.ts';
import type { Bus } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import { actorInbox, allObs, heartbeatSubject } from '../../protocols/subjects.ts';
import type { ChildSpecInput } from '../../supervisors/child-spec.ts';
import type { Strategy } from '../../supervisors/supervisor-options.ts';
import { spawnProcessChild } from '../../supervisors/process-child.ts';
import { supervisorSpec } from '../../supervisors/child-spec.ts';
import {
  CLOCK_SLACK_MS,
  collect,
  credsFor,
  issuerSeedOf,
  TestServers,
  testBus,
  waitFor,
} from '../harness/index.ts';
import { isSupEvent, startSupervisor, treeOf } from '../harness/supervision.ts';

const servers = new TestServers();
let nats: NatsServer;
let client: Bus;
let feed: ReturnType<typeof collect>;
const running: ActorHandle[] = [];

beforeAll(async () => {
  nats = await servers.nats();
  client = await testBus(nats.url);
  feed = collect(client, allObs());
  await feed.ready();
  servers.onStop(() => client.close());
});
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop('test over', 10_000);
});
afterAll(() => servers.stopAll());

const echo = (id: string, extra: Partial<ChildSpecInput> = {}): ChildSpecInput => ({
  id,
  start: { kind: 'actor', actorKind: 'echo', actorId: id },
  shutdownMs: 2_000,
  ...extra,
});

async function sup(id: string, strategy: Strategy, children: ChildSpecInput[], intensity = 10) {
  const s = await startSupervisor(nats.url, { id, strategy, intensity, periodMs: 60_000, children });
  running.push(s);
  return s;
}

/** Starts of `childId` under `supervisorId` seen on the feed so far. */
const starts = (supervisorId: string, childId: string) =>
  feed.seen.filter((e) => isSupEvent(e, { supervisorId, event: 'child-started', childId })).length;

async function crash(id: string) {
  await client
    .ask(actorInbox('echo', id), { type: 'demo.crash.v1', body: { message: `crash ${id}` } })
    .catch(() => {});
}

describe('supervisor strategies with in-host children', () => {
  it('one_for_one restarts only the crashed child', async () => {
    await sup('s11', 'one_for_one', [echo('a11'), echo('b11'), echo('c11')]);
    await crash('b11');
    await feed.next(
      (e) =>
        isSupEvent(e, { supervisorId: 's11', event: 'child-started', childId: 'b11' }) &&
        starts('s11', 'b11') === 2,
    );
    const tree = await treeOf(client, 's11');
    expect(tree.children.map((c) => [c.id, c.status, c.restartCount])).toEqual([
      ['a11', 'running', 0],
      ['b11', 'running', 1],
      ['c11', 'running', 0],
    ]);
    expect([starts('s11', 'a11'), starts('s11', 'c11')]).toEqual([1, 1]);
    const exit = feed.seen.find((e) =>
      isSupEvent(e, { supervisorId: 's11', event: 'child-exited', childId: 'b11' }),
    );
    expect(exit?.type === 'supervisor.event.v1' && exit.body.detectedBy).toBe('exit-report');
    expect(exit?.type === 'supervisor.event.v1' && JSON.stringify(exit.body.reason)).toContain('crash b11');
  });

  it('one_for_all restarts every child when one crashes', async () => {
    await sup('s1a', 'one_for_all', [echo('a1a'), echo('b1a'), echo('c1a')]);
    await crash('a1a');
    await waitFor('all three restarted', () => ['a1a', 'b1a', 'c1a'].every((c) => starts('s1a', c) === 2));
    const stopped = feed.seen.filter((e) => isSupEvent(e, { supervisorId: 's1a', event: 'child-stopped' }));
    // OTP order: siblings are stopped in reverse start order.
    expect(stopped.map((e) => (e.type === 'supervisor.event.v1' ? e.body.childId : ''))).toEqual([
      'c1a',
      'b1a',
    ]);
    expect((await client.ask(actorInbox('echo', 'c1a'), { type: 'actor.ping.v1', body: {} })).type).toBe(
      'actor.pong.v1',
    );
  });

  it('rest_for_one restarts the crashed child and those started after it, not those before', async () => {
    await sup('srf', 'rest_for_one', [echo('arf'), echo('brf'), echo('crf')]);
    await crash('brf');
    await waitFor('b and c restarted', () => starts('srf', 'brf') === 2 && starts('srf', 'crf') === 2);
    expect(starts('srf', 'arf')).toBe(1);
  });
});

describe('restart types', () => {
  it('a transient child that stops normally is not restarted, one that crashes is', async () => {
    await sup('stt', 'one_for_one', [
      echo('tn', { restart: 'transient' }),
      echo('tc', { restart: 'transient' }),
    ]);
    await client.ask(actorInbox('echo', 'tn'), { type: 'actor.stop.v1', body: { reason: 'done' } });
    await feed.next((e) => isSupEvent(e, { supervisorId: 'stt', event: 'child-exited', childId: 'tn' }));
    await crash('tc');
    await waitFor('tc restarted', () => starts('stt', 'tc') === 2);
    const tree = await treeOf(client, 'stt');
    expect(tree.children.find((c) => c.id === 'tn')?.status).toBe('stopped');
    expect(starts('stt', 'tn')).toBe(1);
  });

  it('a temporary child is never restarted and is removed', async () => {
    await sup('stmp', 'one_for_one', [echo('tmp1', { restart: 'temporary' }), echo('perm1')]);
    await crash('tmp1');
    await feed.next((e) => isSupEvent(e, { supervisorId: 'stmp', event: 'child-exited', childId: 'tmp1' }));
    await waitFor('tmp1 removed', async () =>
      (await treeOf(client, 'stmp')).children.every((c) => c.id !== 'tmp1'),
    );
    expect(starts('stmp', 'tmp1')).toBe(1);
  });

  it('a permanent child is restarted even after a normal stop', async () => {
    await sup('sperm', 'one_for_one', [echo('pn')]);
    await client.ask(actorInbox('echo', 'pn'), { type: 'actor.stop.v1', body: {} });
    await waitFor('pn restarted', () => starts('sperm', 'pn') === 2);
  });
});

describe('process children', () => {
  const proc = (id: string): ChildSpecInput => ({
    id,
    start: { kind: 'process', actorKind: 'echo', actorId: id },
    shutdownMs: 2_000,
  });

  it('a SIGKILLed process child is detected by its exit and replaced by a new process', async () => {
    await sup('sproc', 'one_for_one', [proc('p1'), echo('inhost1')]);
    const before = (await treeOf(client, 'sproc')).children.find((c) => c.id === 'p1')!;
    expect(before.pid).toBeGreaterThan(0);
    process.kill(before.pid!, 'SIGKILL');
    await waitFor('p1 restarted', () => starts('sproc', 'p1') === 2);
    const after = (await treeOf(client, 'sproc')).children.find((c) => c.id === 'p1')!;
    expect(after.pid).not.toBe(before.pid);
    const exit = feed.seen.find((e) =>
      isSupEvent(e, { supervisorId: 'sproc', event: 'child-exited', childId: 'p1' }),
    );
    expect(exit?.type === 'supervisor.event.v1' && exit.body.detectedBy).toBe('process-exit');
    expect(
      (await client.ask(actorInbox('echo', 'p1'), { type: 'demo.echo.v1', body: { text: 'back' } })).type,
    ).toBe('demo.echoed.v1');
    expect(starts('sproc', 'inhost1')).toBe(1);
  });

  it('a process child with a nice value runs at that priority, every thread of it, and so does its replacement', async () => {
    const threadNices = (pid: number) =>
      readdirSync(`/proc/${pid}/task`).map((tid) => getPriority(Number(tid)));
    await sup('snice', 'one_for_one', [
      {
        id: 'nice1',
        start: { kind: 'process', actorKind: 'echo', actorId: 'nice1', nice: 7 },
        shutdownMs: 2_000,
      },
      proc('plain1'),
    ]);
    const children = (await treeOf(client, 'snice')).children;
    const first = children.find((c) => c.id === 'nice1')!.pid!;
    expect(getPriority(first)).toBe(7);
    expect(new Set(threadNices(first))).toEqual(new Set([7])); // the libuv pool and V8's helpers too
    expect(getPriority(children.find((c) => c.id === 'plain1')!.pid!)).toBe(getPriority(process.pid)); // inherited
    process.kill(first, 'SIGKILL');
    await waitFor('nice1 restarted', () => starts('snice', 'nice1') === 2);
    const second = (await treeOf(client, 'snice')).children.find((c) => c.id === 'nice1')!.pid!;
    expect(second).not.toBe(first);
    expect(getPriority(second)).toBe(7);
  });

  it('a process child stopped with SIGSTOP is detected through missed heartbeats and replaced', async () => {
    await sup('shung', 'one_for_one', [proc('hung1')]);
    const before = (await treeOf(client, 'shung')).children[0]!;
    process.kill(before.pid!, 'SIGSTOP');
    const hung = await feed.next((e) =>
      isSupEvent(e, { supervisorId: 'shung', event: 'child-hung', childId: 'hung1' }),
    );
    await waitFor('hung1 replaced', () => starts('shung', 'hung1') === 2);
    const exit = feed.seen.find((e) =>
      isSupEvent(e, { supervisorId: 'shung', event: 'child-exited', childId: 'hung1' }),
    );
    expect(exit?.type === 'supervisor.event.v1' && exit.body.detectedBy).toBe('heartbeat');
    // Declared hung first, then its exit: the replacement follows the heartbeat verdict.
    expect(feed.seen.indexOf(hung)).toBeLessThan(feed.seen.indexOf(exit!));
    const after = (await treeOf(client, 'shung')).children[0]!;
    expect(after.pid).not.toBe(before.pid);
    expect(() => process.kill(before.pid!, 0)).toThrow(); // the hung process was killed, not leaked
  });
  it('declares a hung child once it has been silent for more than missedBeats intervals, not before and not much after', async () => {
    // startSupervisor: 200 ms heartbeats, 3 missed beats → the threshold is 600 ms after the last beat.
    await sup('sdeadline', 'one_for_one', [proc('hung2')]);
    const pid = (await treeOf(client, 'sdeadline')).children[0]!.pid!;
    // Timed on the machine's one clock, from envelope stamps: the watchdog counts from its receipt of
    // the last beat, which is no earlier than that beat's own stamp, to the child-hung event's stamp.
    // (Our own receipt of the beat can lag or lead the supervisor's by a socket read.)
    const beats = collect(client, heartbeatSubject('echo', 'hung2'));
    await beats.ready();
    await beats.next(() => true);
    process.kill(pid, 'SIGSTOP');
    const hung = await feed.next((e) =>
      isSupEvent(e, { supervisorId: 'sdeadline', event: 'child-hung', childId: 'hung2' }),
    );
    const lastBeatTs = Math.max(...beats.seen.map((e) => e.ts));
    beats.close();
    const silentMs = hung.ts - lastBeatTs;
    expect(silentMs).toBeGreaterThanOrEqual(600 - CLOCK_SLACK_MS);
    expect(silentMs).toBeLessThan(600 + 400); // a timer set for the deadline, not a polling loop; slack for a loaded machine
  });
});

describe('escalation', () => {
  it('exceeding restart intensity escalates to the parent, which restarts the whole subtree', async () => {
    const team = {
      id: 'team-esc',
      strategy: 'one_for_one' as const,
      intensity: 1,
      periodMs: 60_000,
      children: [
        {
          id: 'w1',
          start: { kind: 'actor' as const, actorKind: 'echo', actorId: 'w1' },
          restart: 'permanent' as const,
          shutdownMs: 2_000,
        },
        {
          id: 'w2',
          start: { kind: 'actor' as const, actorKind: 'echo', actorId: 'w2' },
          restart: 'permanent' as const,
          shutdownMs: 2_000,
        },
      ],
    };
    await sup('root-esc', 'one_for_one', [
      { id: 'team-esc', start: { kind: 'supervisor', spec: team }, shutdownMs: 'infinity' },
      echo('sibling-esc'),
    ]);
    await crash('w1');
    await waitFor('w1 restarted once', () => starts('team-esc', 'w1') === 2);
    await crash('w1'); // second restart within the period: intensity 1 exceeded
    await feed.next((e) => isSupEvent(e, { supervisorId: 'team-esc', event: 'escalated' }));
    await feed.next((e) =>
      isSupEvent(e, { supervisorId: 'root-esc', event: 'child-exited', childId: 'team-esc' }),
    );
    await waitFor('team restarted by root', () => starts('root-esc', 'team-esc') === 2);
    await waitFor(
      'w1 and w2 started afresh',
      () => starts('team-esc', 'w1') === 3 && starts('team-esc', 'w2') === 2,
    );
    const tree = await treeOf(client, 'root-esc');
    const t = tree.children.find((c) => c.id === 'team-esc')!;
    expect(t.restartCount).toBe(1);
    expect(t.tree?.children.map((c) => [c.id, c.status, c.restartCount])).toEqual([
      ['w1', 'running', 0],
      ['w2', 'running', 0],
    ]);
    expect(starts('root-esc', 'sibling-esc')).toBe(1);
  });
});

describe('supervisors in their own processes', () => {
  it('regression: a killed in-host supervisor takes its children with it, process children included (chaos teardown left 70 actor processes running)', async () => {
    const s = await startSupervisor(nats.url, {
      id: 'sinhost-kill',
      strategy: 'one_for_one',
      intensity: 10,
      periodMs: 60_000,
      children: [
        { id: 'kp1', start: { kind: 'process', actorKind: 'echo', actorId: 'kp1' }, shutdownMs: 2_000 },
        echo('kih1'),
      ],
    });
    const tree = await waitFor('process child running', async () => {
      const t = await treeOf(client, 'sinhost-kill').catch(() => undefined);
      return t?.children.find((c) => c.id === 'kp1')?.pid ? t : undefined;
    });
    const pid = tree.children.find((c) => c.id === 'kp1')!.pid!;
    servers.onStop(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    });
    await s.kill();
    await waitFor('process child gone', () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    // The in-host child died with it too: nothing answers at its address any more.
    await expect(
      client.ask(
        actorInbox('echo', 'kih1'),
        { type: 'demo.echo.v1', body: { text: 'x' } },
        { timeoutMs: 500 },
      ),
    ).rejects.toThrow();
  });

  it('regression: a SIGKILLed supervisor process takes its process children with it (no orphans under reused ids)', async () => {
    const spec = supervisorSpec({
      id: 'sproc-sup',
      children: [
        { id: 'gc1', start: { kind: 'process', actorKind: 'echo', actorId: 'gc1' }, shutdownMs: 2_000 },
      ],
    });
    const supProc = spawnProcessChild({
      kind: 'supervisor',
      id: 'sproc-sup',
      natsUrl: nats.url,
      credentials: await credsFor(nats, { role: 'actor', kind: 'supervisor', id: 'sproc-sup' }),
      issuerSeed: issuerSeedOf(nats),
      args: { spec, childHeartbeatMs: 200 },
      heartbeatMs: 200,
    });
    servers.onStop(() => supProc.signal('SIGKILL'));
    const tree = await waitFor('grandchild running', async () => {
      const t = await treeOf(client, 'sproc-sup').catch(() => undefined);
      return t?.children[0]?.pid ? t : undefined;
    });
    const grandchild = tree.children[0]!.pid!;
    supProc.signal('SIGKILL');
    await supProc.exited;
    await waitFor('grandchild gone', () => {
      try {
        process.kill(grandchild, 0);
        return false;
      } catch {
        return true;
      }
    });
  });
});
