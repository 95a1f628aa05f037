/**
 * `agov run FILE [--param k=v]... [--detach]`, `agov runs`, `agov run-status ID`.
 *
 * With NATS_URL set, `run` submits to the system already running there. Without it, it starts the
 * whole system itself, as `agov up` does (`startSystem`: embedded nats-server, redis-server and Vault
 * dev server, every service actor and the teams of config/teams.yaml, in this process), runs the
 * pipeline, and stops everything again. It follows the run on the feed (progress bars on a TTY,
 * plain lines otherwise) and exits 0 only when the run succeeded.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pipelineLoader, StoredRuns } from '../actors/orchestrator/index.ts';
import { Bus } from '../bus/index.ts';
import { DEFAULT_DATA_DIR, readEnvironment, resolveServices } from '../infra/index.ts';
import type { BodyOf } from '../protocols/index.ts';
import { ConfigError, isTerminalRunEvent, isTerminalRunStatus } from '../protocols/index.ts';
import { assertAdmissible, formatDiagnostic, parsePipeline } from '../protocols/pipeline/index.ts';
import { isTier, type Tier } from '../protocols/index.ts';
import { allRunFeeds, serviceSubject } from '../protocols/index.ts';
import { parseKeyValues } from './args.ts';
import { registerSystemCredentials } from './cli-credentials.ts';
import { runningSystem } from './connection-file.ts';
import {
  DEFAULT_TEAMS_FILE,
  loadTeams,
  startSystem,
  systemOptionsFromEnvironment,
  waitForAllRunning,
} from '../system/index.ts';
import { ProgressView } from './progress-view.ts';

/** How often `agov run` also polls the run's state, in case a feed event was missed. */
export const DEFAULT_RUN_POLL_MS = 2_000;

const out = (s: string) => process.stdout.write(`${s}\n`);

interface LocalSystem {
  natsUrl: string;
  stop(): Promise<void>;
}

/**
 * The whole system on embedded defaults (system/start-system.ts): services, the root supervisor with every
 * service actor (orchestrator, token authority and renewer, budget monitor, ledger writer, …) and the
 * teams of config/teams.yaml — so a run is governed exactly as it would be under `agov up`.
 */
async function startLocalSystem(): Promise<LocalSystem> {
  const env = readEnvironment();
  const sys = await startSystem({
    ...systemOptionsFromEnvironment(env),
    teams: loadTeams(env.teamsFile ?? DEFAULT_TEAMS_FILE),
  });
  try {
    await waitForAllRunning(sys, undefined, 0);
  } catch (err) {
    await sys.stop();
    throw err;
  }
  return { natsUrl: sys.services.natsUrl, stop: () => sys.stop() };
}

export async function commandRun(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      param: { type: 'string', multiple: true, short: 'p' },
      detach: { type: 'boolean' },
      plain: { type: 'boolean' },
      tier: { type: 'string' },
    },
  });
  const fileArg = positionals[0];
  if (!fileArg) throw new ConfigError('usage: agov run FILE [--param k=v]... [--detach] [--tier T]');
  const tierArg = values.tier ?? 'T2';
  if (!isTier(tierArg)) throw new ConfigError(`--tier must be T0, T1 or T2, got ${JSON.stringify(tierArg)}`);
  const tier: Tier = tierArg;
  const file = resolve(fileArg);
  const yaml = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`cannot read ${fileArg} (${err.code ?? err.message})`);
  });
  // Report a broken file here, located, before anything starts.
  const parsed = parsePipeline(yaml, fileArg);
  if (!parsed.ok) {
    for (const d of parsed.diagnostics) out(formatDiagnostic(d));
    return 1;
  }
  // Admission as the gateway and the orchestrator compute it (protocols/pipeline/effective-tier.ts):
  // a `root` policy, a path reference or anything above --tier is refused here, before anything starts.
  const need = await assertAdmissible(parsed.pipeline, tier, pipelineLoader(), `agov run --tier ${tier}`);
  out(`pipeline ${parsed.pipeline.name}: effective tier ${need.tier} (${need.reason})`);
  const params = parseKeyValues(values.param ?? []);
  const envNatsUrl = readEnvironment().natsUrl;
  const embedded = !envNatsUrl;
  if (embedded && values.detach)
    throw new ConfigError(
      '--detach needs a running system (set NATS_URL); without it the run stops with agov',
    );
  const system = embedded ? await startLocalSystem() : undefined;
  const natsUrl = system?.natsUrl ?? envNatsUrl!;
  const client = await Bus.connect({ servers: natsUrl, name: 'agov-cli' });
  try {
    const events: BodyOf<'run.event.v1'>[] = [];
    let onEvent: ((e: BodyOf<'run.event.v1'>) => void) | undefined;
    client.subscribeRaw(allRunFeeds(), (m) => {
      const d = client.decode(m.data);
      if (!d.ok || d.env.type !== 'run.event.v1') return;
      if (onEvent) onEvent(d.env.body);
      else events.push(d.env.body);
    });
    await client.flush();
    const reply = await client.ask(serviceSubject('orchestrator'), {
      type: 'run.request.v1',
      body: { yaml, file, params, requestedBy: 'agov-cli', callerTier: tier },
    });
    if (reply.type !== 'run.accepted.v1') throw new ConfigError(`unexpected reply ${reply.type}`);
    const { runId, pipeline, stages } = reply.body;
    out(`run ${runId}: pipeline ${pipeline}, ${stages.length} stage(s)${system ? ' (embedded system)' : ''}`);
    if (values.detach) return 0;

    const tty = Boolean(process.stdout.isTTY) && !values.plain;
    const view = new ProgressView(runId, stages, process.stdout, tty);
    const final = await new Promise<BodyOf<'run.state.v1'>>((resolveFinal, reject) => {
      let settled = false;
      const settle = async () => {
        if (settled) return;
        try {
          const r = await client.ask(serviceSubject('orchestrator'), { type: 'run.get.v1', body: { runId } });
          if (r.type === 'run.state.v1' && isTerminalRunStatus(r.body.status) && !settled) {
            settled = true;
            clearInterval(poll);
            resolveFinal(r.body);
          }
        } catch (err) {
          if (!settled && (err as { code?: string }).code !== 'GOV_ERR_TIMEOUT') {
            settled = true;
            clearInterval(poll);
            reject(err);
          }
        }
      };
      const poll = setInterval(() => void settle(), DEFAULT_RUN_POLL_MS);
      onEvent = (e) => {
        view.onEvent(e);
        if (e.runId === runId && isTerminalRunEvent(e.event)) void settle();
      };
      for (const e of events.splice(0)) onEvent(e);
      const interrupt = () => {
        void client
          .ask(serviceSubject('orchestrator'), {
            type: 'run.cancel.v1',
            body: { runId, reason: 'agov run interrupted' },
          })
          .catch(() => {});
      };
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
    });
    view.finish(final);
    return final.status === 'succeeded' ? 0 : 1;
  } finally {
    await client.close();
    await system?.stop();
  }
}

type RunsApi = {
  list(status?: string, limit?: number): Promise<BodyOf<'run.state.v1'>[]>;
  get(id: string): Promise<BodyOf<'run.state.v1'>>;
};

/**
 * Runs as the orchestrator answers for them. With NATS_URL, or with a system running on the data
 * folder (its connection file names the NATS URL and the CLI's credential), the orchestrator is asked
 * over the bus. Only when no system runs there does the CLI read what the stopped system stored
 * (the orchestrator's read-only `StoredRuns`, on the data folder's own nats-server, started for it):
 * a deliberate operator tool, e.g. for the history `agov run` on embedded defaults leaves behind.
 */
async function withRuns<T>(fn: (api: RunsApi) => Promise<T>): Promise<T> {
  const env = readEnvironment();
  const dataDir = resolve(env.dataDir ?? DEFAULT_DATA_DIR);
  const running = env.natsUrl ? undefined : runningSystem(dataDir);
  if (running) registerSystemCredentials(running);
  const natsUrl = env.natsUrl ?? running?.natsUrl;
  if (natsUrl) {
    const client = await Bus.connect({ servers: natsUrl, name: 'agov-cli' });
    try {
      return await fn(orchestratorRuns(client));
    } finally {
      await client.close();
    }
  }
  const services = await resolveServices({ dataDir: env.dataDir, need: { nats: true, redis: false } });
  const client = await Bus.connect({ servers: services.natsUrl, name: 'agov-cli' });
  try {
    const stored = await StoredRuns.open(client);
    return await fn({
      list: (status, limit) => stored.list(status || undefined, limit),
      async get(runId) {
        const r = await stored.get(runId);
        if (!r) throw new ConfigError(`no run ${runId} in ${services.dataDir}`);
        return r;
      },
    });
  } finally {
    await client.close();
    await services.stop();
  }
}

/** The orchestrator's answers over the bus (run.list.v1, run.get.v1). */
function orchestratorRuns(client: Bus): RunsApi {
  return {
    async list(status, limit) {
      const r = await client.ask(serviceSubject('orchestrator'), {
        type: 'run.list.v1',
        body: {
          ...(status ? { status: status as BodyOf<'run.list.v1'>['status'] } : {}),
          limit: limit ?? 50,
        },
      });
      return r.type === 'run.states.v1' ? r.body.runs : [];
    },
    async get(runId) {
      const r = await client.ask(serviceSubject('orchestrator'), { type: 'run.get.v1', body: { runId } });
      if (r.type !== 'run.state.v1') throw new ConfigError(`unexpected reply ${r.type}`);
      return r.body;
    },
  };
}

/** `agov runs [--status S] [--limit N] [--json]`: recent runs, newest first. */
export async function commandRuns(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  });
  const runs = await withRuns((api) =>
    api.list(values.status, values.limit ? Number(values.limit) : undefined),
  );
  if (values.json) {
    out(JSON.stringify(runs));
    return 0;
  }
  if (runs.length === 0) out('no runs');
  for (const r of runs) {
    const done = r.stages.filter((s) => s.status === 'succeeded').length;
    out(
      `${r.runId}  ${r.status.padEnd(9)}  ${r.pipeline.padEnd(20)}  ${done}/${r.stages.length} stages  ${new Date(r.createdAt).toISOString()}${r.parentRunId ? `  child of ${r.parentRunId}` : ''}`,
    );
  }
  return 0;
}

/** `agov run-status ID [--json]`: one run and its stages. Exits 0 when it succeeded, 1 when it failed or was cancelled, 3 while it runs. */
export async function commandRunStatus(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' } },
  });
  const runId = positionals[0];
  if (!runId) throw new ConfigError('usage: agov run-status RUN_ID [--json]');
  const r = await withRuns((api) => api.get(runId));
  if (values.json) out(JSON.stringify(r));
  else {
    out(
      `run ${r.runId}  ${r.status}  pipeline ${r.pipeline}${r.parentRunId ? `  (child of ${r.parentRunId})` : ''}`,
    );
    if (r.error) out(`  error ${r.error.code}: ${r.error.message}`);
    const w = Math.max(5, ...r.stages.map((s) => s.stageId.length));
    for (const s of r.stages) {
      const took = s.startedAt && s.finishedAt ? `  ${s.finishedAt - s.startedAt} ms` : '';
      out(
        `  ${s.stageId.padEnd(w)}  ${s.status.padEnd(10)}  attempt ${s.attempt}${s.agentId ? `  on ${s.agentId}` : ''}${took}${s.error ? `  ${s.error.code}: ${s.error.message}` : ''}`,
      );
    }
  }
  return r.status === 'succeeded' ? 0 : isTerminalRunStatus(r.status) ? 1 : 3;
}
