/**
 * Service resolution, shared by the CLI and the tests.
 *
 * `NATS_URL`, `REDIS_URL` and `VAULT_ADDR` (+ `VAULT_TOKEN`) are used when set. Otherwise the system
 * starts what it needs itself: nats-server (JetStream) and redis-server from PATH on free ports, with
 * data under one local folder (`AGOV_DATA_DIR`, default `./.data`), and the Vault-API-compatible dev
 * server in this process; it stops them when the process exits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadOrCreateNatsAuthority, mintUser } from './nats-auth/index.ts';
import { type NatsServer, startNatsServer } from './nats-server.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';
import { startVaultDevServer, type VaultDevServer } from './vault-dev-server.ts';

export const DEFAULT_DATA_DIR = '.data';
/** Under the data folder: the NATS operator/account keys and the CLI's credential. */
export const NATS_AUTH_DIR = 'nats-auth';
export const CLI_CREDS_FILE = 'cli.creds';

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
      // Operator mode from the first start: the keys live under the data folder, mode 0600.
      const authDir = join(dataDir, NATS_AUTH_DIR);
      const auth = await loadOrCreateNatsAuthority(authDir);
      embedded.nats = await startNatsServer({ dataDir: join(dataDir, 'nats'), auth });
      natsUrl = embedded.nats.url;
      // The local operator's CLI credential, for `agov run`/`agov agents` from another shell.
      const cli = await mintUser(auth, { role: 'client', name: 'cli' });
      writeFileSync(join(authDir, CLI_CREDS_FILE), cli.creds, { mode: 0o600 });
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
