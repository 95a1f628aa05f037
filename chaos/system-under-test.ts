/**
 * A whole system for chaos scenarios, started from nothing: nats-server, redis-server and the Vault
 * dev server on free ports, and the root supervisor with every service and agent in its own OS process
 * (so faults are real SIGKILL/SIGSTOP of real processes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRegistry } from '../actors/kinds.ts';
import { type ActorHandle, runActor } from '../actors/runtime/actor.ts';
import { Bus } from '../bus/bus.ts';
import { ensureStreams } from '../bus/streams.ts';
import { type NatsServer, startNatsServer } from '../infra/nats-server.ts';
import { type RedisServer, startRedisServer } from '../infra/redis-server.ts';
import { startVaultDevServer, type VaultDevServer } from '../infra/vault-dev-server.ts';
import type { SupervisorTree } from '../protocols/messages/supervisor.ts';
import { askSupervisorTree } from '../supervisors/supervisor-tree.ts';
import { systemSpec } from '../supervisors/system-spec.ts';
import { parseTeams } from '../supervisors/teams.ts';
import { DEFAULT_CHAOS_HEARTBEAT_MS, DEFAULT_CHAOS_MISSED_BEATS } from './chaos-options.ts';

/** Agents in their own processes, and one team whose supervisor is a process too. */
export const CHAOS_TEAMS = `
teams:
  - id: chaos-a
    strategy: one_for_one
    intensity: 50
    periodMs: 10000
    members:
      - { id: chaos-t1-a, tier: T1, role: executor, process: true }
      - { id: chaos-t1-b, tier: T1, role: executor, process: true }
      - { id: chaos-t0-a, tier: T0, role: observer, process: true }
  - id: chaos-b
    process: true
    intensity: 50
    periodMs: 10000
    members:
      - { id: chaos-t1-c, tier: T1, role: executor }
      - { id: chaos-t1-d, tier: T1, role: executor }
`;

export interface LiveProcess {
  supervisorId: string;
  childId: string;
  actorKind: string;
  actorId: string;
  pid: number;
}

export interface SystemUnderTest {
  dir: string;
  nats: NatsServer;
  redis: RedisServer;
  vault: VaultDevServer;
  client: Bus;
  root: ActorHandle;
  tree(): Promise<SupervisorTree>;
  /** Every child running in its own process, from the live tree. */
  processes(): Promise<LiveProcess[]>;
  stop(): Promise<void>;
}

export async function startSystemUnderTest(
  options: { heartbeatMs?: number; missedBeats?: number } = {},
): Promise<SystemUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'agov-chaos-'));
  const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
  const redis = await startRedisServer({ dataDir: join(dir, 'redis') });
  const vault = await startVaultDevServer();
  // Process children read their service addresses from the environment they inherit.
  Object.assign(process.env, {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    VAULT_ADDR: vault.addr,
    VAULT_TOKEN: vault.rootToken,
    AGOV_DATA_DIR: join(dir, 'data'),
  });
  const client = await Bus.connect({ servers: nats.url, name: 'chaos-runner', askTimeoutMs: 5_000 });
  await ensureStreams(client);
  const registry = defaultRegistry();
  const spec = systemSpec({
    registry,
    teams: parseTeams(CHAOS_TEAMS, 'chaos-teams'),
    servicesAsProcesses: true,
    // Frequent checkpoints so the ledger invariant checks signatures, not just the chain.
    serviceArgs: { gateway: { port: 0 }, 'ledger-writer': { checkpointEveryEntries: 50 } },
  });
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_CHAOS_HEARTBEAT_MS;
  const root = await runActor(registry.get('supervisor'), {
    id: 'root',
    args: {
      spec,
      childHeartbeatMs: heartbeatMs,
      missedBeats: options.missedBeats ?? DEFAULT_CHAOS_MISSED_BEATS,
    },
    bus: { servers: nats.url },
    heartbeatMs,
  });
  const tree = () => askSupervisorTree(client, 'root');
  const processes = async () => {
    const out: LiveProcess[] = [];
    const walk = (t: SupervisorTree) => {
      for (const c of t.children) {
        if (c.pid && c.status === 'running')
          out.push({
            supervisorId: t.supervisorId,
            childId: c.id,
            actorKind: c.actorKind,
            actorId: c.actorId,
            pid: c.pid,
          });
        if (c.tree) walk(c.tree);
      }
    };
    walk(await tree());
    return out;
  };
  return {
    dir,
    nats,
    redis,
    vault,
    client,
    root,
    tree,
    processes,
    async stop() {
      await root.stop('chaos over', 30_000).catch(() => {});
      await client.close().catch(() => {});
      await vault.stop().catch(() => {});
      await redis.kill();
      await nats.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
