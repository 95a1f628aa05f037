/**
 * `npm run bench -- recovery`: how fast the supervision tree heals.
 * - process children: SIGKILL → the replacement's first heartbeat (≥ 50 kills);
 * - in-host children: crash → the replacement's first heartbeat (≥ 50 crashes);
 * - hung children (SIGSTOP): time to detection, as a multiple of the heartbeat interval.
 * Baselines in the same run: a bare `node` process that connects with plain nats.js and publishes
 * once (the floor for any process restart), and opening a plain nats.js connection (in-host floor).
 * Targets: process p99 < 500 ms; in-host p99 < 20 ms; hung detected within 3 intervals (+ one check).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { buildCliBundle } from '../cli/build-bundle.ts';
import { defaultRegistry } from '../actors/kinds.ts';
import { runActor } from '../actors/runtime/actor.ts';
import { Bus } from '../bus/bus.ts';
import { startNatsServer } from '../infra/nats-server.ts';
import { actorInbox, allObs, heartbeatSubject } from '../protocols/subjects.ts';
import { supervisorSpec } from '../supervisors/child-spec.ts';
import { askSupervisorTree } from '../supervisors/supervisor-tree.ts';
import { report, round, summarize } from './stats.ts';

const KILLS = 50;
const HB_MS = 100;
const HUNG_ROUNDS = 5;

/** The first heartbeat (seq 0) of the next incarnation of an actor. */
function firstBeat(bus: Bus, kind: string, id: string): Promise<{ at: number; pid: number }> {
  return new Promise((resolve) => {
    const sub = bus.subscribeRaw(heartbeatSubject(kind, id), (m) => {
      const d = bus.decode(m.data);
      if (!d.ok || d.env.type !== 'actor.heartbeat.v1' || d.env.body.seq !== 0) return;
      sub.unsubscribe();
      resolve({ at: performance.now(), pid: d.env.body.pid });
    });
  });
}

export async function benchRecovery(): Promise<void> {
  buildCliBundle();
  const dir = mkdtempSync(join(tmpdir(), 'agov-bench-recovery-'));
  const nats = await startNatsServer({ dataDir: dir });
  const bus = await Bus.connect({ servers: nats.url, name: 'bench-recovery' });
  try {
    const spec = supervisorSpec({
      id: 'bench-root',
      intensity: 100_000,
      periodMs: 1_000,
      children: [
        { id: 'proc', start: { kind: 'process', actorKind: 'echo', actorId: 'proc' }, shutdownMs: 2_000 },
        { id: 'inhost', start: { kind: 'actor', actorKind: 'echo', actorId: 'inhost' }, shutdownMs: 2_000 },
      ],
    });
    const root = await runActor(defaultRegistry().get('supervisor'), {
      id: 'bench-root',
      args: { spec, childHeartbeatMs: HB_MS, missedBeats: 3 },
      bus: { servers: nats.url },
    });
    const treePid = async () => {
      for (;;) {
        const tree = await askSupervisorTree(bus, 'bench-root', false);
        const pid = tree.children.find((c) => c.id === 'proc')?.pid;
        if (pid) return pid;
        await new Promise((res) => setTimeout(res, 10));
      }
    };

    const procMs: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const pid = await treePid();
      const next = firstBeat(bus, 'echo', 'proc');
      await bus.flush();
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      procMs.push((await next).at - t0);
    }

    const inhostMs: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const next = firstBeat(bus, 'echo', 'inhost');
      await bus.flush();
      const t0 = performance.now();
      bus.tell(actorInbox('echo', 'inhost'), { type: 'demo.crash.v1', body: { message: 'bench' } });
      inhostMs.push((await next).at - t0);
    }

    const hungIntervals: number[] = [];
    for (let i = 0; i < HUNG_ROUNDS; i++) {
      const pid = await treePid();
      const detected = new Promise<number>((resolve) => {
        const sub = bus.subscribeRaw(allObs(), (m) => {
          const d = bus.decode(m.data);
          if (d.ok && d.env.type === 'supervisor.event.v1' && d.env.body.event === 'child-hung' && d.env.body.childId === 'proc') {
            sub.unsubscribe();
            resolve(performance.now());
          }
        });
      });
      const back = firstBeat(bus, 'echo', 'proc');
      await bus.flush();
      // Hang at a random phase of the heartbeat cycle, as a real hang would.
      await new Promise((r) => setTimeout(r, Math.random() * HB_MS));
      const t0 = performance.now();
      process.kill(pid, 'SIGSTOP');
      hungIntervals.push(((await detected) - t0) / HB_MS);
      await back;
    }
    await root.stop('bench over', 10_000);

    // Baselines.
    const rawProcMs: number[] = [];
    const script = `import('@nats-io/transport-node').then(async ({connect}) => { const nc = await connect({servers: '${nats.url}'}); nc.publish('bench.raw.up'); await nc.flush(); await nc.close(); })`;
    for (let i = 0; i < 20; i++) {
      const up = new Promise<number>((resolve) => {
        const sub = bus.subscribeRaw('bench.raw.up', () => {
          sub.unsubscribe();
          resolve(performance.now());
        });
      });
      await bus.flush();
      const t0 = performance.now();
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
      rawProcMs.push((await up) - t0);
      await new Promise((r) => child.once('exit', r));
    }
    const rawConnMs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      const nc = await connect({ servers: nats.url });
      nc.publish('bench.raw.up');
      await nc.flush();
      rawConnMs.push(performance.now() - t0);
      await nc.close();
    }

    if (process.env.BENCH_VERBOSE) console.log('in-host samples in order (ms):', inhostMs.map((x) => x.toFixed(1)).join(' '));
    const p = summarize(procMs);
    const h = summarize(inhostMs);
    const hung = summarize(hungIntervals);
    const rp = summarize(rawProcMs);
    const rc = summarize(rawConnMs);
    const results = {
      processRestartMs: { p50: round(p.p50, 1), p99: round(p.p99, 1), n: p.n },
      inHostRestartMs: { p50: round(h.p50, 2), p99: round(h.p99, 2), n: h.n },
      hungDetectionIntervals: { p50: round(hung.p50, 2), max: round(hung.max, 2), heartbeatMs: HB_MS, missedBeats: 3 },
      rawNodeProcessUpMs: { p50: round(rp.p50, 1), p99: round(rp.p99, 1) },
      rawNatsConnectMs: { p50: round(rc.p50, 2), p99: round(rc.p99, 2) },
    };
    const ratios = {
      processRestartP50VsRawProcess: round(p.p50 / rp.p50, 2),
      inHostRestartP50VsRawConnect: round(h.p50 / rc.p50, 2),
    };
    console.log(`process child: kill → first heartbeat p50 ${results.processRestartMs.p50} ms, p99 ${results.processRestartMs.p99} ms (target p99 < 500 ms); bare node+nats process ${results.rawNodeProcessUpMs.p50} ms → ${ratios.processRestartP50VsRawProcess}×`);
    console.log(`in-host child: crash → first heartbeat p50 ${results.inHostRestartMs.p50} ms, p99 ${results.inHostRestartMs.p99} ms (target p99 < 20 ms); plain connect ${results.rawNatsConnectMs.p50} ms → ${ratios.inHostRestartP50VsRawConnect}×`);
    console.log(`hung child: detected after ${results.hungDetectionIntervals.p50} intervals (max ${results.hungDetectionIntervals.max}; target ≤ 3; declared after 3 silent intervals, checked 5× per interval)`);
    report('recovery', results, ratios);
  } finally {
    await bus.close();
    await nats.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
