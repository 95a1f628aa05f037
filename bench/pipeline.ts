/**
 * `npm run bench -- pipeline`: the orchestrator's throughput and per-stage dispatch overhead.
 *
 * - throughput: 100 concurrent 5-stage noop pipelines (a chain) on N plain agents → runs/s;
 * - overhead: the same pipeline run one at a time; the latency of one stage (submit → run succeeded,
 *   divided by the stages) against a raw nats.js request/reply round trip measured in the same run
 *   against the same server. Target: ≤ 3 round trips per stage. A stage's critical path is one KV
 *   write (the state, stored before acting), the assign request/reply, and the result message.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { orchestratorKind } from '../actors/orchestrator/orchestrator.ts';
import { type PlainAgent, startPlainAgent } from '../actors/orchestrator/plain-agent.ts';
import { runActor } from '../actors/runtime/actor.ts';
import { Bus } from '../bus/bus.ts';
import { ensureStreams } from '../bus/streams.ts';
import { startNatsServer } from '../infra/nats-server.ts';
import { allRunFeeds, serviceSubject } from '../protocols/subjects.ts';
import { report, round, summarize } from './stats.ts';

const CONCURRENT_RUNS = 100;
const STAGES = 5;
const AGENTS = 20;
const SEQUENTIAL_RUNS = 50;
const RAW_ROUND_TRIPS = 2_000;
const AGENTS_CHILD_FLAG = '--bench-pipeline-agents';

const PIPELINE = [
  'name: bench',
  'version: 1',
  'stages:',
  ...Array.from({ length: STAGES }, (_, i) => `  - { id: s${i}, ${i > 0 ? `needs: [s${i - 1}], ` : ''}task: { kind: noop } }`),
  '',
].join('\n');

export async function benchPipeline(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'agov-bench-pipeline-'));
  const nats = await startNatsServer({ dataDir: dir });
  let agentsChild: ReturnType<typeof spawn> | undefined;
  try {
    const client = await Bus.connect({ servers: nats.url, name: 'bench-client', askTimeoutMs: 30_000 });
    await ensureStreams(client.nc);
    const orch = await runActor(orchestratorKind, { id: 'bench-orch', bus: { servers: nats.url } });
    // The agents run in a process of their own, as they would in production.
    agentsChild = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), AGENTS_CHILD_FLAG, nats.url, String(AGENTS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      agentsChild!.stdout!.once('data', () => resolve());
      agentsChild!.once('exit', (code) => reject(new Error(`bench agents exited with ${code}`)));
    });

    const finished = new Map<string, (ok: boolean) => void>();
    const early = new Map<string, boolean>();
    client.subscribeRaw(allRunFeeds(), (m) => {
      const d = client.decode(m.data);
      if (!d.ok || d.env.type !== 'run.event.v1') return;
      const { runId, event } = d.env.body;
      if (event !== 'run-succeeded' && event !== 'run-failed' && event !== 'run-cancelled') return;
      const ok = event === 'run-succeeded';
      const f = finished.get(runId);
      if (f) f(ok);
      else early.set(runId, ok);
    });
    await client.flush();
    const runOnce = async (): Promise<boolean> => {
      const reply = await client.ask(serviceSubject('orchestrator'), { type: 'run.request.v1', body: { yaml: PIPELINE, params: {} } });
      if (reply.type !== 'run.accepted.v1') throw new Error(`unexpected ${reply.type}`);
      const runId = reply.body.runId;
      const known = early.get(runId);
      if (known !== undefined) return known;
      return new Promise((resolve) => finished.set(runId, resolve));
    };

    // Raw baseline: plain nats.js request/reply on the same server.
    const raw = await connect({ servers: nats.url });
    raw.subscribe('bench.rtt', { callback: (_e, m) => {
        m.respond(m.data);
      },
    });
    await raw.flush();
    const payload = new Uint8Array(256);
    for (let i = 0; i < 200; i++) await raw.request('bench.rtt', payload);
    const rtt: number[] = [];
    for (let i = 0; i < RAW_ROUND_TRIPS; i++) {
      const t0 = performance.now();
      await raw.request('bench.rtt', payload, { timeout: 5000 });
      rtt.push(performance.now() - t0);
    }

    // Warm-up, then one run at a time: the latency of a stage with nothing else going on.
    for (let i = 0; i < 5; i++) await runOnce();
    const perStage: number[] = [];
    for (let i = 0; i < SEQUENTIAL_RUNS; i++) {
      const t0 = performance.now();
      if (!(await runOnce())) throw new Error('a sequential bench run failed');
      perStage.push((performance.now() - t0) / STAGES);
    }

    // Throughput: many runs at once.
    const t0 = performance.now();
    const outcomes = await Promise.all(Array.from({ length: CONCURRENT_RUNS }, () => runOnce()));
    const elapsedS = (performance.now() - t0) / 1000;
    const failed = outcomes.filter((ok) => !ok).length;

    await orch.stop();
    await raw.close();
    await client.close();

    const r = summarize(rtt);
    const s = summarize(perStage);
    const results = {
      concurrentRuns: CONCURRENT_RUNS,
      stagesPerRun: STAGES,
      agents: AGENTS,
      runsPerSec: round(CONCURRENT_RUNS / elapsedS, 1),
      stagesPerSec: round((CONCURRENT_RUNS * STAGES) / elapsedS, 1),
      concurrentElapsedMs: Math.round(elapsedS * 1000),
      failedRuns: failed,
      rawRoundTripMs: { p50: round(r.p50), p99: round(r.p99) },
      stageLatencyMs: { p50: round(s.p50), p99: round(s.p99) },
      sequentialRuns: SEQUENTIAL_RUNS,
    };
    const ratios = { stageOverheadRoundTrips: round(s.p50 / r.p50, 2), stageOverheadRoundTripsP99: round(s.p99 / r.p99, 2) };
    console.log(`${CONCURRENT_RUNS} concurrent ${STAGES}-stage runs on ${AGENTS} agents: ${results.runsPerSec} runs/s (${results.stagesPerSec} stages/s), ${failed} failed`);
    console.log(`stage latency p50 ${results.stageLatencyMs.p50} ms vs raw round trip ${results.rawRoundTripMs.p50} ms → ${ratios.stageOverheadRoundTrips} round trips per stage (target ≤ 3)`);
    report('pipeline', results, ratios);
  } finally {
    agentsChild?.kill('SIGKILL');
    await nats.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** In the agents' child process: start them, say so on stdout, then live until killed. */
if (process.argv[2] === AGENTS_CHILD_FLAG) {
  const [servers, count] = [process.argv[3]!, Number(process.argv[4])];
  const started: PlainAgent[] = [];
  for (let i = 0; i < count; i++) started.push(await startPlainAgent({ servers, id: `bench-agent-${i}`, tier: 'T0' }));
  process.stdout.write('ready\n');
}
