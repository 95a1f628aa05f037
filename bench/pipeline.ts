/**
 * `npm run bench -- pipeline`: the orchestrator's throughput and per-stage dispatch overhead.
 *
 * Run twice, each time with 20 agents in a process of their own:
 * - `plain`: plain agents (examples/agents/node/plain-agent.ts: answer and report at once), which
 *   isolates the orchestrator's own overhead — this is the headline figure;
 * - `agent`: the agent actor (kind `agent`: XState lifecycle persisted to Redis on every
 *   transition, transitions on the feed and in the audit stream), what production runs.
 *
 * For each: throughput — 100 concurrent 5-stage noop pipelines (a chain) → runs/s; latency — runs
 * one at a time, alternating the 5-stage chain and a 10-stage one, against a raw nats.js
 * request/reply round trip on the same server, sampled just before and just after them:
 * - per stage: what one more stage costs, (median 10-stage run − median 5-stage run) / 5 — the
 *   dispatch overhead of a stage, without the costs every run pays once whatever its length;
 * - per run: those fixed costs (submission, and the terminal event, which waits for every audit
 *   publish of the run to be acknowledged), = median 5-stage run − 5 × per stage;
 * - whole 5-stage run / 5, which mixes the two, as the earlier bench reported it.
 * Target: ≤ 3 round trips per stage (p50). A stage's critical path is one KV write (the state,
 * stored before acting), the assign to the agent and the agent's result.
 *
 * The bench's own client shares the orchestrator's process; it reads the feed with a bare
 * JSON.parse (as any external follower would) so its cost does not blur the measurement.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { agentKind } from '../actors/agent/index.ts';
import { orchestratorKind } from '../actors/orchestrator/orchestrator.ts';
import { startPlainAgent } from '../examples/agents/node/plain-agent.ts';
import { runActor } from '../actors/runtime/index.ts';
import { Bus } from '../bus/index.ts';
import { allRunFeeds, serviceSubject } from '../protocols/index.ts';
import { issuerSeedFor, mintLocal, registerIssuerSeed } from '../infra/nats-auth/index.ts';
import { startBenchServices } from './bench-system.ts';
import { rawConnect } from './raw-connect.ts';
import { report, round, summarize } from './stats.ts';

const CONCURRENT_RUNS = 100;
const STAGES = 5;
const AGENTS = 20;
const WARMUP_RUNS = 20;
const SEQUENTIAL_RUNS = 200;
/** The longer chain of the per-stage measurement. */
const LONG_STAGES = 10;
const RAW_ROUND_TRIPS = 2_000;
const RAW_WARMUP = 200;
const AGENTS_CHILD_FLAG = '--bench-pipeline-agents';

type AgentMode = 'plain' | 'agent';

/** A chain of `n` noop stages. */
const chain = (n: number) =>
  [
    'name: bench',
    'version: 1',
    'stages:',
    ...Array.from(
      { length: n },
      (_, i) => `  - { id: s${i}, ${i > 0 ? `needs: [s${i - 1}], ` : ''}task: { kind: noop } }`,
    ),
    '',
  ].join('\n');
const PIPELINE = chain(STAGES);
const LONG_PIPELINE = chain(LONG_STAGES);

interface ModeResult {
  runsPerSec: number;
  stagesPerSec: number;
  concurrentElapsedMs: number;
  failedRuns: number;
  rawRoundTripMs: { p50: number; p99: number };
  /** Whole 5-stage run / 5. */
  stageLatencyMs: { p50: number; p99: number };
  stageOverheadRoundTrips: number;
  stageOverheadRoundTripsP99: number;
  /** What one more stage costs (see the header). */
  marginalStageMs: number;
  marginalStageRoundTrips: number;
  /** What every run pays once. */
  perRunFixedMs: number;
  perRunFixedRoundTrips: number;
}

const decoder = new TextDecoder();

async function measure(mode: AgentMode, natsUrl: string, redisUrl: string, dir: string): Promise<ModeResult> {
  const client = await Bus.connect({ servers: natsUrl, name: `bench-client-${mode}`, askTimeoutMs: 30_000 });
  const raw: NatsConnection = await rawConnect(natsUrl);
  const orch = await runActor(orchestratorKind, { id: `bench-orch-${mode}`, bus: { servers: natsUrl } });
  // The agents run in a process of their own, as they would in production.
  const agentsChild = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      AGENTS_CHILD_FLAG,
      mode,
      natsUrl,
      String(AGENTS),
      redisUrl,
      join(dir, `agents-${mode}`),
    ],
    // The agents' process mints each agent's own credential (its tier's permissions) with this key.
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, AGOV_NATS_ISSUER_SEED: issuerSeedFor(natsUrl) },
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      agentsChild.stdout!.once('data', () => resolve());
      agentsChild.once('exit', (code) => reject(new Error(`bench agents exited with ${code}`)));
    });

    const runOnce = await followRuns(client);
    const { rtt, rawSamples } = await rawRoundTrips(raw);

    // Warm-up, then one run at a time: the latency of a stage with nothing else going on. Half the
    // raw samples are taken before, half after, so both see the machine in the same state.
    for (let i = 0; i < WARMUP_RUNS; i++) await runOnce(i % 2 ? PIPELINE : LONG_PIPELINE);
    await rawSamples(RAW_ROUND_TRIPS / 2);
    const perStage: number[] = [];
    const shortRuns: number[] = [];
    const longRuns: number[] = [];
    for (let i = 0; i < SEQUENTIAL_RUNS; i++) {
      let t0 = performance.now();
      if (!(await runOnce())) throw new Error('a sequential bench run failed');
      const ms = performance.now() - t0;
      shortRuns.push(ms);
      perStage.push(ms / STAGES);
      t0 = performance.now();
      if (!(await runOnce(LONG_PIPELINE))) throw new Error('a sequential bench run failed');
      longRuns.push(performance.now() - t0);
    }
    await rawSamples(RAW_ROUND_TRIPS / 2);

    // Throughput: many runs at once.
    const t0 = performance.now();
    const outcomes = await Promise.all(Array.from({ length: CONCURRENT_RUNS }, () => runOnce()));
    const elapsedS = (performance.now() - t0) / 1000;
    const failed = outcomes.filter((ok) => !ok).length;

    return modeResult({ rtt, perStage, shortRuns, longRuns, elapsedS, failed });
  } finally {
    await orch.stop();
    agentsChild.kill('SIGKILL');
    await raw.close();
    await client.close();
  }
}

/** Asks the orchestrator for a run; settles with whether it succeeded, read from the feed. */
async function followRuns(client: Bus): Promise<(yaml?: string) => Promise<boolean>> {
  const finished = new Map<string, (ok: boolean) => void>();
  const early = new Map<string, boolean>();
  client.subscribeRaw(allRunFeeds(), (m) => {
    const { type, body } = JSON.parse(decoder.decode(m.data)) as {
      type: string;
      body: { runId: string; event: string };
    };
    if (type !== 'run.event.v1') return;
    const { runId, event } = body;
    if (event !== 'run-succeeded' && event !== 'run-failed' && event !== 'run-cancelled') return;
    const ok = event === 'run-succeeded';
    const f = finished.get(runId);
    if (f) f(ok);
    else early.set(runId, ok);
  });
  await client.flush();
  return async (yaml = PIPELINE): Promise<boolean> => {
    const reply = await client.ask(serviceSubject('orchestrator'), {
      type: 'run.request.v1',
      body: { yaml, params: {} },
    });
    if (reply.type !== 'run.accepted.v1') throw new Error(`unexpected ${reply.type}`);
    const runId = reply.body.runId;
    const known = early.get(runId);
    if (known !== undefined) return known;
    return new Promise((resolve) => finished.set(runId, resolve));
  };
}

/** Raw baseline: plain nats.js request/reply on the same server, warmed up; samples go into `rtt`. */
async function rawRoundTrips(raw: NatsConnection) {
  raw.subscribe('bench.rtt', {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  await raw.flush();
  const payload = new Uint8Array(256);
  for (let i = 0; i < RAW_WARMUP; i++) await raw.request('bench.rtt', payload);
  const rtt: number[] = [];
  const rawSamples = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await raw.request('bench.rtt', payload, { timeout: 5000 });
      rtt.push(performance.now() - t0);
    }
  };
  return { rtt, rawSamples };
}

function modeResult(m: {
  rtt: number[];
  perStage: number[];
  shortRuns: number[];
  longRuns: number[];
  elapsedS: number;
  failed: number;
}): ModeResult {
  const { elapsedS } = m;
  const r = summarize(m.rtt);
  const s = summarize(m.perStage);
  const shortP50 = summarize(m.shortRuns).p50;
  const marginal = (summarize(m.longRuns).p50 - shortP50) / (LONG_STAGES - STAGES);
  const fixed = shortP50 - STAGES * marginal;
  return {
    runsPerSec: round(CONCURRENT_RUNS / elapsedS, 1),
    stagesPerSec: round((CONCURRENT_RUNS * STAGES) / elapsedS, 1),
    concurrentElapsedMs: Math.round(elapsedS * 1000),
    failedRuns: m.failed,
    rawRoundTripMs: { p50: round(r.p50), p99: round(r.p99) },
    stageLatencyMs: { p50: round(s.p50), p99: round(s.p99) },
    stageOverheadRoundTrips: round(s.p50 / r.p50, 2),
    stageOverheadRoundTripsP99: round(s.p99 / r.p99, 2),
    marginalStageMs: round(marginal),
    marginalStageRoundTrips: round(marginal / r.p50, 2),
    perRunFixedMs: round(fixed),
    perRunFixedRoundTrips: round(fixed / r.p50, 2),
  };
}

export async function benchPipeline(): Promise<void> {
  const services = await startBenchServices('pipeline', { need: { redis: true } });
  const { dir } = services;
  const nats = { url: services.natsUrl };
  const redis = { url: services.redisUrl };
  try {
    const plain = await measure('plain', nats.url, redis.url, dir);
    const agent = await measure('agent', nats.url, redis.url, dir);
    const results = {
      concurrentRuns: CONCURRENT_RUNS,
      stagesPerRun: STAGES,
      agents: AGENTS,
      sequentialRuns: SEQUENTIAL_RUNS,
      // Plain agents: the orchestrator's own overhead (the headline).
      runsPerSec: plain.runsPerSec,
      stagesPerSec: plain.stagesPerSec,
      concurrentElapsedMs: plain.concurrentElapsedMs,
      failedRuns: plain.failedRuns,
      rawRoundTripMs: plain.rawRoundTripMs,
      marginalStageMs: plain.marginalStageMs,
      perRunFixedMs: plain.perRunFixedMs,
      stageLatencyMs: plain.stageLatencyMs,
      // The agent actor (kind `agent`), as production runs it.
      agentActor: {
        runsPerSec: agent.runsPerSec,
        stagesPerSec: agent.stagesPerSec,
        concurrentElapsedMs: agent.concurrentElapsedMs,
        failedRuns: agent.failedRuns,
        rawRoundTripMs: agent.rawRoundTripMs,
        marginalStageMs: agent.marginalStageMs,
        perRunFixedMs: agent.perRunFixedMs,
        stageLatencyMs: agent.stageLatencyMs,
      },
    };
    const ratios = {
      stageRoundTrips: plain.marginalStageRoundTrips,
      perRunFixedRoundTrips: plain.perRunFixedRoundTrips,
      agentActorStageRoundTrips: agent.marginalStageRoundTrips,
      agentActorPerRunFixedRoundTrips: agent.perRunFixedRoundTrips,
      wholeRunPerStageRoundTrips: plain.stageOverheadRoundTrips,
      wholeRunPerStageRoundTripsP99: plain.stageOverheadRoundTripsP99,
      agentActorWholeRunPerStageRoundTrips: agent.stageOverheadRoundTrips,
      agentActorStageRoundTripsP99: agent.stageOverheadRoundTripsP99,
    };
    for (const [name, m] of [
      ['plain agents', plain],
      ['agent actors', agent],
    ] as const) {
      console.log(
        `${name}: ${CONCURRENT_RUNS} concurrent ${STAGES}-stage runs on ${AGENTS} agents: ${m.runsPerSec} runs/s (${m.stagesPerSec} stages/s), ${m.failedRuns} failed`,
      );
      console.log(
        `${name}: one more stage costs ${m.marginalStageMs} ms vs raw round trip ${m.rawRoundTripMs.p50} ms → ${m.marginalStageRoundTrips} round trips per stage (target ≤ 3); every run also pays ${m.perRunFixedMs} ms once (${m.perRunFixedRoundTrips} round trips)`,
      );
      console.log(
        `${name}: a whole 5-stage run / 5: p50 ${m.stageLatencyMs.p50} ms → ${m.stageOverheadRoundTrips} round trips`,
      );
    }
    report('pipeline', results, ratios);
  } finally {
    await services.stop();
  }
}

/** In the agents' child process: start them, say so on stdout, then live until killed. */
if (process.argv[2] === AGENTS_CHILD_FLAG) {
  const [mode, servers, count, redisUrl, workRoot] = process.argv.slice(3) as [
    AgentMode,
    string,
    string,
    string,
    string,
  ];
  registerIssuerSeed(servers, process.env.AGOV_NATS_ISSUER_SEED ?? '');
  for (let i = 0; i < Number(count); i++) {
    const id = `bench-${mode}-${i}`;
    const minted = (await mintLocal(servers, { role: 'agent', id, tier: 'T0' }))!;
    if (mode === 'plain') await startPlainAgent({ servers, id, tier: 'T0', creds: minted.creds });
    else
      await runActor(agentKind, {
        id,
        args: { tier: 'T0', redisUrl, workDir: join(workRoot, id), fresh: true },
        bus: { servers, credentials: { kind: 'jwt', jwt: minted.jwt, seed: minted.seed } },
      });
  }
  process.stdout.write('ready\n');
}
