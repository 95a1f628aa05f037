/**
 * `npm run bench -- scale --only agents`: the per-agent costs of one host (issue 17 item 5). For each
 * fleet size (default 10, 100, 1,000; `--agents 10,100,1000,10000`), `agov up` starts as a user starts
 * it, on a data folder of its own, with that many in-host T1 agents in teams of 100; measured:
 * - start: spawn → every child of the tree running (the connection file written, then the summary);
 * - the host process's RSS and open file descriptors, and the embedded nats-server's connections;
 * - idle CPU over `IDLE_WINDOW_MS` of the host process and of nats-server (% of one core);
 * - 1-stage noop run latency: request → terminal event on the feed, `RUNS` runs one after another.
 * Each size's growth ratio against the one 10× smaller: cost at 10× ÷ (10 × cost at 1×) for start,
 * the host's RSS, fds and idle CPU (1.0 linear; well below 1 while the fixed cost of the services
 * dominates), and the run p50 against the smallest fleet's p50 (target ≤ 1.5). On a loaded machine quote ratios with the load average printed beside them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectionFilePath, readConnectionFile } from '../cli/connection-file.ts';
import { Bus } from '../bus/index.ts';
import { loadOrCreateNatsAuthority, registerAuthority } from '../infra/nats-auth/index.ts';
import { allRunFeeds, isTerminalRunEvent, serviceSubject } from '../protocols/index.ts';
import { askSupervisorSummary } from '../supervisors/index.ts';
import { round, summarize } from './stats.ts';

export const DEFAULT_AGENT_SIZES = [10, 100, 1_000];
const TEAM_SIZE = 100;
const IDLE_WINDOW_MS = 10_000;
const RUNS = 20;
const WARMUP_RUNS = 10;
const START_TIMEOUT_MS = 30 * 60_000;
const CLOCK_TICKS_PER_S = 100;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const AGOV = join(ROOT, 'cli/agov.mjs');
const PIPELINE = ['name: one', 'version: 1', 'stages:', '  - { id: a, task: { kind: noop } }', ''].join('\n');

export interface AgentsResult {
  agents: number;
  startMs: number;
  hostRssMb: number;
  hostFds: number;
  natsConnections: number;
  idleCpuHostPct: number;
  idleCpuNatsPct: number;
  runP50Ms: number;
  runP99Ms: number;
  loadAvg1: number;
}

function teamsYaml(agents: number): string {
  const lines = ['teams:'];
  for (let t = 0; t * TEAM_SIZE < agents; t++) {
    lines.push(`  - id: t${t}`, '    members:');
    for (let i = t * TEAM_SIZE; i < Math.min(agents, (t + 1) * TEAM_SIZE); i++)
      lines.push(`      - { id: a${i}, tier: T1 }`);
  }
  return `${lines.join('\n')}\n`;
}

const proc = (pid: number, file: string) => readFileSync(`/proc/${pid}/${file}`, 'utf8');
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(proc(pid, 'status'))?.[1] ?? 0) / 1024;
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
/** utime + stime, in clock ticks. */
function cpuTicks(pid: number): number {
  const f = proc(pid, 'stat').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** The pid of `agov up`'s child named `comm` (its embedded nats-server). */
function childNamed(parent: number, comm: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = proc(Number(d), 'stat');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.split(') ')[1]!.split(' ')[1]);
      if (ppid === parent && name === comm) return Number(d);
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function natsConnections(monitorUrl: string | undefined): Promise<number> {
  if (!monitorUrl) return Number.NaN;
  const res = await fetch(`${monitorUrl}/varz`);
  return ((await res.json()) as { connections: number }).connections;
}

async function runLatencies(client: Bus): Promise<number[]> {
  const ended = new Map<string, () => void>();
  // The terminal event can be read before the ask's reply resumes its awaiter (same socket read).
  const over = new Set<string>();
  const decoder = new TextDecoder();
  const sub = client.subscribeRaw(allRunFeeds(), (m) => {
    const { type, body } = JSON.parse(decoder.decode(m.data)) as {
      type: string;
      body: { runId: string; event: string };
    };
    if (type !== 'run.event.v1' || !isTerminalRunEvent(body.event)) return;
    over.add(body.runId);
    ended.get(body.runId)?.();
  });
  await client.flush();
  const out: number[] = [];
  for (let i = 0; i < WARMUP_RUNS + RUNS; i++) {
    const t0 = performance.now();
    let resolveEnd!: () => void;
    const end = new Promise<void>((r) => {
      resolveEnd = r;
    });
    const reply = await client.ask(serviceSubject('orchestrator'), {
      type: 'run.request.v1',
      body: { yaml: PIPELINE, params: {} },
    });
    if (reply.type !== 'run.accepted.v1') throw new Error(`unexpected ${reply.type}`);
    ended.set(reply.body.runId, resolveEnd);
    if (over.has(reply.body.runId)) resolveEnd();
    await end;
    if (i >= WARMUP_RUNS) out.push(performance.now() - t0);
  }
  sub.unsubscribe();
  return out;
}

async function measure(agents: number): Promise<AgentsResult> {
  const dir = mkdtempSync(join(tmpdir(), 'agov-bench-agents-'));
  const teams = join(dir, 'teams.yaml');
  writeFileSync(teams, teamsYaml(agents));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AGOV_DATA_DIR: dir,
    AGOV_TEAMS: teams,
    AGOV_HTTP_PORT: '0',
  };
  for (const k of ['NATS_URL', 'REDIS_URL', 'VAULT_ADDR', 'VAULT_TOKEN']) delete env[k];
  const t0 = performance.now();
  const up: ChildProcess = spawn(process.execPath, [AGOV, 'up'], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: 'ignore',
  });
  let client: Bus | undefined;
  try {
    await until(
      'agov up wrote its connection file',
      () => existsSync(connectionFilePath(dir)),
      START_TIMEOUT_MS,
    );
    const conn = readConnectionFile(dir);
    registerAuthority(conn.natsUrl, await loadOrCreateNatsAuthority(join(dir, 'nats-auth')));
    client = await Bus.connect({ servers: conn.natsUrl, name: 'bench-agents', askTimeoutMs: 60_000 });
    const bus = client;
    let last: unknown;
    await until(
      'every child running',
      async () => {
        const s = await askSupervisorSummary(bus, 'root').catch((err: unknown) => String(err));
        if (typeof s === 'string') return false;
        if (JSON.stringify(s) !== JSON.stringify(last))
          console.log(`agents ${agents}: ${Math.round(performance.now() - t0)} ms, ${JSON.stringify(s)}`);
        last = s;
        return s.pending === 0 && s.starting === 0 && s.unreachable === 0 && s.running >= agents;
      },
      START_TIMEOUT_MS,
    );
    const startMs = performance.now() - t0;
    const host = up.pid!;
    const nats = childNamed(host, 'nats-server');
    const monitor = readFileSync(join(dir, 'nats', 'nats-server.conf'), 'utf8').match(
      /http_port: (\d+)/,
    )?.[1];
    const before = { host: cpuTicks(host), nats: nats ? cpuTicks(nats) : 0, at: performance.now() };
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
    const secs = (performance.now() - before.at) / 1000;
    const pct = (ticks: number) => round((100 * ticks) / CLOCK_TICKS_PER_S / secs, 1);
    const idleCpuHostPct = pct(cpuTicks(host) - before.host);
    const idleCpuNatsPct = nats ? pct(cpuTicks(nats) - before.nats) : Number.NaN;
    const runs = summarize(await runLatencies(bus));
    return {
      agents,
      startMs: Math.round(startMs),
      hostRssMb: round(rssMb(host), 0),
      hostFds: fds(host),
      natsConnections: await natsConnections(monitor ? `http://127.0.0.1:${monitor}` : undefined),
      idleCpuHostPct,
      idleCpuNatsPct,
      runP50Ms: round(runs.p50, 1),
      runP99Ms: round(runs.p99, 1),
      loadAvg1: round(loadavg()[0]!, 1),
    };
  } finally {
    await client?.close().catch(() => undefined);
    const exited = new Promise((r) => up.once('exit', r));
    try {
      process.kill(-up.pid!, 'SIGKILL');
      await exited;
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Growth of each size against the one before it: cost at k× ÷ (k × cost at 1×); 1.0 is linear. */
function growthRatios(results: AgentsResult[]): Record<string, number> {
  const ratios: Record<string, number> = {};
  const base = results[0];
  for (let i = 1; i < results.length; i++) {
    const a = results[i - 1]!;
    const b = results[i]!;
    const k = b.agents / a.agents;
    const g = (x: number, y: number) => round(y / (k * x), 2);
    const tag = `${b.agents}vs${a.agents}`;
    ratios[`agentsStartGrowth${tag}`] = g(a.startMs, b.startMs);
    ratios[`agentsRssGrowth${tag}`] = g(a.hostRssMb, b.hostRssMb);
    ratios[`agentsFdsGrowth${tag}`] = g(a.hostFds, b.hostFds);
    ratios[`agentsIdleCpuGrowth${tag}`] = g(
      a.idleCpuHostPct + a.idleCpuNatsPct,
      b.idleCpuHostPct + b.idleCpuNatsPct,
    );
    ratios[`agentsRunP50vs${base!.agents}At${b.agents}`] = round(b.runP50Ms / base!.runP50Ms, 2);
  }
  return ratios;
}

export async function benchAgentsScale(
  sizes: number[],
): Promise<{ results: AgentsResult[]; ratios: Record<string, number> }> {
  const results: AgentsResult[] = [];
  for (const n of sizes) {
    const r = await measure(n);
    results.push(r);
    console.log(
      `agents ${n}: start ${r.startMs} ms, host RSS ${r.hostRssMb} MB, host fds ${r.hostFds}, nats connections ${r.natsConnections}, idle CPU host ${r.idleCpuHostPct} % + nats ${r.idleCpuNatsPct} % of a core, 1-stage run p50 ${r.runP50Ms} ms p99 ${r.runP99Ms} ms (load ${r.loadAvg1})`,
    );
  }
  const ratios = growthRatios(results);
  for (const [k, v] of Object.entries(ratios)) console.log(`${k}: ${v}`);
  return { results, ratios };
}
