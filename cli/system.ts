/**
 * Starting a whole system in this process: services (embedded unless NATS_URL/REDIS_URL/VAULT_ADDR
 * are set), JetStream streams, and the root supervisor with the system spec. Used by `agov up` and
 * by `agov run` on embedded defaults.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultRegistry } from '../actors/kinds.ts';
import { type ActorHandle, runActor } from '../actors/runtime/actor.ts';
import { Bus } from '../bus/bus.ts';
import { ensureStreams } from '../bus/streams.ts';
import { type ResolvedServices, resolveServices } from '../infra/services.ts';
import type { SupervisorTree } from '../protocols/messages/supervisor.ts';
import { actorInbox } from '../protocols/subjects.ts';
import { systemSpec } from '../supervisors/system-spec.ts';
import { parseTeams } from '../supervisors/teams.ts';
import { allChildren } from './tree-view.ts';

/** Port of the HTTP gateway under `agov up` (AGOV_HTTP_PORT overrides; 0 picks a free one). */
export const DEFAULT_HTTP_PORT = 8080;

export const DEFAULT_TEAMS_FILE = fileURLToPath(new URL('../config/teams.yaml', import.meta.url));

export interface RunningSystem {
  services: ResolvedServices;
  client: Bus;
  root: ActorHandle;
  tree(): Promise<SupervisorTree>;
  stop(): Promise<void>;
}

export async function startSystem(options: { teamsFile?: string; heartbeatMs?: number } = {}): Promise<RunningSystem> {
  const services = await resolveServices();
  // Children (in-host and process) read their service addresses from the environment.
  process.env.NATS_URL = services.natsUrl;
  process.env.REDIS_URL = services.redisUrl;
  process.env.AGOV_DATA_DIR = services.dataDir;
  if (services.vaultAddr) process.env.VAULT_ADDR = services.vaultAddr;
  if (services.vaultToken) process.env.VAULT_TOKEN = services.vaultToken;
  const client = await Bus.connect({ servers: services.natsUrl, name: 'agov-cli' });
  await ensureStreams(client.nc);
  const teamsFile = options.teamsFile ?? process.env.AGOV_TEAMS ?? DEFAULT_TEAMS_FILE;
  const teams = existsSync(teamsFile) ? parseTeams(readFileSync(teamsFile, 'utf8'), teamsFile) : [];
  const registry = defaultRegistry();
  const spec = systemSpec({ registry, teams, serviceArgs: { gateway: { port: Number(process.env.AGOV_HTTP_PORT ?? DEFAULT_HTTP_PORT) } } });
  const root = await runActor(registry.get('supervisor'), {
    id: spec.id,
    args: { spec, childHeartbeatMs: options.heartbeatMs },
    bus: { servers: services.natsUrl },
  });
  const tree = async () => {
    const r = await client.ask(actorInbox('supervisor', 'root'), { type: 'supervisor.status.v1', body: { deep: true } });
    if (r.type !== 'supervisor.tree.v1') throw new Error(`unexpected reply ${r.type}`);
    return r.body;
  };
  return {
    services,
    client,
    root,
    tree,
    async stop() {
      await root.stop('system stopping', 30_000);
      await client.close();
      await services.stop();
    },
  };
}

/** Waits until every child in the tree is running (or the timeout passes). */
export async function waitForAllRunning(sys: RunningSystem, timeoutMs = 30_000): Promise<SupervisorTree> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await sys.tree();
    if (allChildren(t).every((c) => c.status === 'running') || Date.now() > deadline) return t;
    await new Promise((r) => setTimeout(r, 100));
  }
}
