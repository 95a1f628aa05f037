/**
 * Service resolution, shared by the CLI and the tests.
 *
 * `NATS_URL`, `REDIS_URL` and `VAULT_ADDR` (+ `VAULT_TOKEN`) are used when set. Otherwise the system
 * starts what it needs itself: nats-server (JetStream) and redis-server from PATH on free ports, with
 * data under one local folder (`AGOV_DATA_DIR`, default `./.data`), and the Vault-API-compatible dev
 * server in this process; it stops them when the process exits.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type NatsServer, startNatsServer } from './nats-server.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';
import { startVaultDevServer, type VaultDevServer } from './vault-dev-server.ts';

export const DEFAULT_DATA_DIR = '.data';

export interface ResolvedServices {
  natsUrl: string;
  redisUrl: string;
  /** Vault address: VAULT_ADDR, or the embedded Vault-API-compatible dev server's. */
  vaultAddr: string | undefined;
  vaultToken: string | undefined;
  dataDir: string;
  /** Which services we started ourselves (and will stop). */
  embedded: { nats?: NatsServer; redis?: RedisServer; vault?: VaultDevServer };
  stop(): Promise<void>;
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  dataDir?: string;
  need?: { nats?: boolean; redis?: boolean; vault?: boolean };
}

export async function resolveServices(options: ResolveOptions = {}): Promise<ResolvedServices> {
  const env = options.env ?? process.env;
  const dataDir = resolve(options.dataDir ?? env.AGOV_DATA_DIR ?? DEFAULT_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const need = { nats: true, redis: true, vault: true, ...options.need };
  const embedded: ResolvedServices['embedded'] = {};
  const stop = async () => {
    await embedded.vault?.stop();
    await embedded.redis?.stop();
    await embedded.nats?.stop();
  };
  try {
    let natsUrl = env.NATS_URL;
    if (!natsUrl && need.nats) {
      embedded.nats = await startNatsServer({ dataDir: join(dataDir, 'nats') });
      natsUrl = embedded.nats.url;
    }
    let redisUrl = env.REDIS_URL;
    if (!redisUrl && need.redis) {
      embedded.redis = await startRedisServer({ dataDir: join(dataDir, 'redis') });
      redisUrl = embedded.redis.url;
    }
    let vaultAddr = env.VAULT_ADDR || undefined;
    let vaultToken = env.VAULT_TOKEN || undefined;
    if (!vaultAddr && need.vault) {
      // Like `vault server -dev`: in memory, in this process; tokens do not survive a restart.
      embedded.vault = await startVaultDevServer();
      vaultAddr = embedded.vault.addr;
      vaultToken = embedded.vault.rootToken;
    }
    return {
      natsUrl: natsUrl ?? '',
      redisUrl: redisUrl ?? '',
      vaultAddr,
      vaultToken,
      dataDir,
      embedded,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
