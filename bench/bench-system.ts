/**
 * The services a bench runs against, started the one way a system starts (`startSystem`, system/):
 * embedded servers in a throwaway folder, whatever the environment says, and no supervision tree —
 * each bench starts the actors it measures itself, so the measured path is exactly its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningSystem, type StartSystemOptions, startSystem } from '../system/index.ts';

export interface BenchServices {
  /** The throwaway folder (embedded servers' data, and the bench's own files). */
  dir: string;
  system: RunningSystem;
  natsUrl: string;
  redisUrl: string;
  vaultAddr: string | undefined;
  vaultToken: string | undefined;
  /** Kills the servers and deletes the folder. */
  stop(): Promise<void>;
}

export async function startBenchServices(
  name: string,
  options: Pick<StartSystemOptions, 'need' | 'streams'> = {},
): Promise<BenchServices> {
  const dir = mkdtempSync(join(tmpdir(), `agov-bench-${name}-`));
  const system = await startSystem({
    dataDir: dir,
    tree: 'none',
    need: { nats: true, redis: false, vault: false, ...options.need },
    streams: options.streams,
    clientName: `bench-${name}`,
  }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    dir,
    system,
    natsUrl: system.natsUrl,
    redisUrl: system.redisUrl,
    vaultAddr: system.services.vaultAddr,
    vaultToken: system.services.vaultToken,
    async stop() {
      await system.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
