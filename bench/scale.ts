/**
 * `npm run bench -- scale`: costs as the work grows (issue: linear from 10 to 10,000). Part measured
 * here: **run bursts** — bursts of 1,000 and 5,000 three-stage noop runs (argument `--runs-burst
 * 1000,5000,10000` for other sizes) through the documented protocol (`run.request.v1`, at most 64
 * requests in flight; a GOV_ERR_OVERLOADED refusal is retried after its retry-after) on 20 plain
 * agents in a process of their own. Per burst: throughput (runs/s, first request → last terminal event),
 * request → accepted p50/p99, accepted → terminal p50; then the growth ratio of each larger burst against
 * the smallest: (cost per run at N) ÷ (cost per run at the smallest) — 1.0 is linear. The
 * **ledger** (scale-ledger.ts): open, full and incremental verify at 10k/100k entries. And **agents per
 * host** (scale-agents.ts): `agov up` with 10/100/1,000 in-host agents (`--agents 10,100,1000,10000`):
 * start, RSS, fds, idle CPU, 1-stage run latency. `--only runs`, `--only ledger` or `--only agents`
 * runs one part.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { orchestratorKind } from '../actors/orchestrator/orchestrator.ts';
import { runActor } from '../actors/runtime/index.ts';
import { Bus } from '../bus/index.ts';
import { issuerSeedFor } from '../infra/nats-auth/index.ts';
import { allRunFeeds, GovError, isTerminalRunEvent, serviceSubject } from '../protocols/index.ts';
import { startBenchServices } from './bench-system.ts';
import { type AgentsResult, benchAgentsScale, DEFAULT_AGENT_SIZES } from './scale-agents.ts';
import { benchLedgerScale, DEFAULT_VERIFY_SIZES, type LedgerScaleResult } from './scale-ledger.ts';
import { report, round, summarize } from './stats.ts';

const DEFAULT_BURSTS = [1_000, 5_000];
const AGENTS = 20;
const IN_FLIGHT = 64;
const PIPELINE = [
  'name: burst',
  'version: 1',
  'stages:',
  '  - { id: a, task: { kind: noop } }',
  '  - { id: b, needs: [a], task: { kind: noop } }',
  '  - { id: c, needs: [b], task: { kind: noop } }',
  '',
].join('\n');
/** Live runs the bench's orchestrator may drive: above the largest burst, so no refusal blurs it. */
const BENCH_MAX_RUNS_IN_FLIGHT = 20_000;

interface BurstResult {
  runs: number;
  elapsedMs: number;
  runsPerSec: number;
  refusedOverloaded: number;
  failedRuns: number;
  requestToAcceptedMs: { p50: number; p99: number };
  acceptedToTerminalMs: { p50: number; p99: number };
}

const decoder = new TextDecoder();

async function burst(client: Bus, n: number): Promise<BurstResult> {
  const accepted = new Map<string, number>();
  const ended = new Map<string, { at: number; ok: boolean }>();
  let done!: () => void;
  const allEnded = new Promise<void>((r) => {
    done = r;
  });
  const sub = client.subscribeRaw(allRunFeeds(), (m) => {
    const { type, body } = JSON.parse(decoder.decode(m.data)) as {
      type: string;
      body: { runId: string; event: string };
    };
    if (type !== 'run.event.v1' || !isTerminalRunEvent(body.event)) return;
    ended.set(body.runId, { at: performance.now(), ok: body.event === 'run-succeeded' });
    if (ended.size >= n && accepted.size >= n) done();
  });
  await client.flush();
  const toAccepted: number[] = [];
  let refused = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      next++;
      for (;;) {
        const s = performance.now();
        try {
          const reply = await client.ask(serviceSubject('orchestrator'), {
            type: 'run.request.v1',
            body: { yaml: PIPELINE, params: {} },
          });
          if (reply.type !== 'run.accepted.v1') throw new Error(`unexpected ${reply.type}`);
          const at = performance.now();
          toAccepted.push(at - s);
          accepted.set(reply.body.runId, at);
          break;
        } catch (err) {
          if (!(err instanceof GovError) || err.code !== 'GOV_ERR_OVERLOADED') throw err;
          refused++;
          const wait = Number((err.details as { retryAfterMs?: number } | undefined)?.retryAfterMs ?? 100);
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  if ([...accepted.keys()].every((id) => ended.has(id))) done();
  await allEnded;
  const last = Math.max(...[...ended.values()].map((e) => e.at));
  sub.unsubscribe();
  const lat = [...accepted].map(([id, at]) => ended.get(id)!.at - at);
  const elapsedMs = last - t0;
  const a = summarize(toAccepted);
  const l = summarize(lat);
  return {
    runs: n,
    elapsedMs: Math.round(elapsedMs),
    runsPerSec: round(n / (elapsedMs / 1000), 1),
    refusedOverloaded: refused,
    failedRuns: [...ended.values()].filter((e) => !e.ok).length,
    requestToAcceptedMs: { p50: round(a.p50, 1), p99: round(a.p99, 1) },
    acceptedToTerminalMs: { p50: round(l.p50, 0), p99: round(l.p99, 0) },
  };
}

function listArg(name: string, fallback: readonly number[]): number[] {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]!.split(',').map(Number) : [...fallback];
}

export async function benchScale(): Promise<void> {
  const only = process.argv[process.argv.indexOf('--only') + 1];
  const wants = (part: string) => !process.argv.includes('--only') || only === part;
  let ledger: { results: LedgerScaleResult[]; ratios: Record<string, number> } = { results: [], ratios: {} };
  if (wants('ledger')) ledger = await benchLedgerScale(listArg('--verify-entries', DEFAULT_VERIFY_SIZES));
  let perHost: { results: AgentsResult[]; ratios: Record<string, number> } = { results: [], ratios: {} };
  if (wants('agents')) perHost = await benchAgentsScale(listArg('--agents', DEFAULT_AGENT_SIZES));
  if (!wants('runs')) {
    report(
      'scale',
      { ledger: ledger.results, agentsPerHost: perHost.results },
      { ...ledger.ratios, ...perHost.ratios },
    );
    return;
  }
  const sizes = listArg('--runs-burst', DEFAULT_BURSTS);
  const services = await startBenchServices('scale');
  const natsUrl = services.natsUrl;
  const client = await Bus.connect({ servers: natsUrl, name: 'bench-scale', askTimeoutMs: 60_000 });
  const orch = await runActor(orchestratorKind, {
    id: 'bench-orch-scale',
    args: { maxRunsInFlight: BENCH_MAX_RUNS_IN_FLIGHT },
    bus: { servers: natsUrl },
  });
  // The pipeline bench's agents' process: 20 plain agents.
  const agents = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('./pipeline.ts', import.meta.url)),
      '--bench-pipeline-agents',
      'plain',
      natsUrl,
      String(AGENTS),
      '',
      services.dir,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, AGOV_NATS_ISSUER_SEED: issuerSeedFor(natsUrl) },
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      agents.stdout!.once('data', () => resolve());
      agents.once('exit', (code) => reject(new Error(`bench agents exited with ${code}`)));
    });
    await burst(client, 100); // warm-up
    const results: BurstResult[] = [];
    for (const n of sizes) {
      const r = await burst(client, n);
      results.push(r);
      console.log(
        `runs burst ${n}: ${r.runsPerSec} runs/s (${r.elapsedMs} ms), request→accepted p50 ${r.requestToAcceptedMs.p50} ms p99 ${r.requestToAcceptedMs.p99} ms, accepted→terminal p50 ${r.acceptedToTerminalMs.p50} ms, ${r.refusedOverloaded} overloaded refusals, ${r.failedRuns} failed`,
      );
    }
    const base = results[0]!;
    const ratios: Record<string, number> = {};
    for (const r of results.slice(1)) {
      // Cost at k× the work ÷ (k × cost at 1×): 1.0 is linear.
      ratios[`runsBurstGrowth${r.runs}vs${base.runs}`] = round(
        r.elapsedMs / ((r.runs / base.runs) * base.elapsedMs),
        2,
      );
    }
    for (const [k, v] of Object.entries(ratios)) console.log(`${k}: ${v} (1.0 = linear)`);
    report(
      'scale',
      {
        agents: AGENTS,
        inFlight: IN_FLIGHT,
        stagesPerRun: 3,
        runsBurst: results,
        ledger: ledger.results,
        agentsPerHost: perHost.results,
      },
      { ...ratios, ...ledger.ratios, ...perHost.ratios },
    );
  } finally {
    agents.kill('SIGKILL');
    await orch.stop();
    await client.close();
    await services.stop();
  }
}
