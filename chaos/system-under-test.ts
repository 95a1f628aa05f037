/**
 * A whole system for chaos scenarios, started from nothing: nats-server, redis-server and the Vault
 * dev server on free ports, and the root supervisor with every service and agent in its own OS process
 * (so faults are real SIGKILL/SIGSTOP of real processes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActorHandle } from '../actors/runtime/index.ts';
import type { Bus } from '../bus/index.ts';
import type { NatsServer, RedisServer } from '../infra/index.ts';
import type { SupervisorTree } from '../protocols/index.ts';
import { type LiveProcess, parseTeams, startSystem } from '../system/index.ts';
import {
  DEFAULT_CHAOS_HEARTBEAT_MS,
  DEFAULT_CHAOS_MISSED_BEATS,
  DEFAULT_CHAOS_PROCESS_START_TIMEOUT_MS,
} from './chaos-options.ts';

export type { LiveProcess };

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

export interface SystemUnderTest {
  dir: string;
  /** The actors' data folder (the ledger's file is there). */
  dataDir: string;
  nats: NatsServer;
  redis: RedisServer;
  client: Bus;
  root: ActorHandle;
  tree(): Promise<SupervisorTree>;
  /** Every child running in its own process, from a complete read of the live tree (or it throws). */
  processes(): Promise<LiveProcess[]>;
  stop(): Promise<void>;
}

/** Always on embedded services of its own, whatever the environment says: faults are injected into them. */
export async function startSystemUnderTest(
  options: { heartbeatMs?: number; missedBeats?: number } = {},
): Promise<SystemUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'agov-chaos-'));
  const sys = await startSystem({
    dataDir: dir,
    teams: parseTeams(CHAOS_TEAMS, 'chaos-teams'),
    servicesAsProcesses: true,
    // Frequent checkpoints so the ledger invariant checks signatures, not just the chain.
    serviceArgs: { gateway: { port: 0 }, 'ledger-writer': { checkpointEveryEntries: 50 } },
    heartbeatMs: options.heartbeatMs ?? DEFAULT_CHAOS_HEARTBEAT_MS,
    missedBeats: options.missedBeats ?? DEFAULT_CHAOS_MISSED_BEATS,
    processStartTimeoutMs: DEFAULT_CHAOS_PROCESS_START_TIMEOUT_MS,
    clientName: 'chaos-runner',
    askTimeoutMs: 5_000,
  }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    dir,
    dataDir: sys.dataDir,
    nats: sys.services.embedded.nats!,
    redis: sys.services.embedded.redis!,
    client: sys.client,
    root: sys.root!,
    tree: sys.tree,
    processes: sys.processes,
    async stop() {
      await sys.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
