/**
 * The services a system runs on: the ones it is given (`natsUrl`, `redisUrl`, `vaultAddr` +
 * `vaultToken`, which callers take from the environment), and for each one not given, one started
 * here: nats-server (JetStream) and redis-server from PATH on free ports with their data under
 * `dataDir`, and the Vault-API-compatible dev server in this process. `stop()` stops what was
 * started here, nothing else. `startSystem` (system/) is the caller; so is `agov run` for a bare bus.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_DATA_DIR } from './environment.ts';
import { loadOrCreateNatsAuthority, mintUser, registerAuthority } from './nats-auth/index.ts';
import { type NatsServer, type NatsServerOptions, startNatsServer } from './nats-server.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';
import { startVaultDevServer, type VaultDevServer } from './vault/dev-server.ts';

export { DEFAULT_DATA_DIR };
/** Under the data folder: the NATS operator/account keys (0600 in a 0700 folder) and the CLI's credential. */
export const NATS_AUTH_DIR = 'nats-auth';
export const CLI_CREDS_FILE = 'cli.creds';

export interface ResolvedServices {
  natsUrl: string;
  redisUrl: string;
  /** Vault address: the one given, or the embedded Vault-API-compatible dev server's. */
  vaultAddr: string | undefined;
  vaultToken: string | undefined;
  dataDir: string;
  /** Which services we started ourselves (and will stop). */
  embedded: { nats?: NatsServer; redis?: RedisServer; vault?: VaultDevServer };
  /** Stops what was started here. */
  stop(): Promise<void>;
  /** Ends what was started here at once (SIGKILL): for throwaway systems whose data is deleted next. */
  kill(): Promise<void>;
}

/** How the embedded nats-server is started; the one function to change for a secured bus. */
export type StartEmbeddedNats = (options: NatsServerOptions) => Promise<NatsServer>;

export interface ResolveOptions {
  /** Services to use instead of starting them. */
  natsUrl?: string;
  redisUrl?: string;
  vaultAddr?: string;
  vaultToken?: string;
  /** Folder for embedded services' data (default `.data`). */
  dataDir?: string;
  /** Which services are needed at all (default: all three). */
  need?: { nats?: boolean; redis?: boolean; vault?: boolean };
  startNats?: StartEmbeddedNats;
}

export async function resolveServices(options: ResolveOptions = {}): Promise<ResolvedServices> {
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const need = { nats: true, redis: true, vault: true, ...options.need };
  const embedded: ResolvedServices['embedded'] = {};
  const stop = async () => {
    await embedded.vault?.stop();
    await embedded.redis?.stop();
    await embedded.nats?.stop();
  };
  const kill = async () => {
    await embedded.vault?.stop();
    await embedded.redis?.kill();
    await embedded.nats?.kill();
  };
  try {
    const authDir = join(dataDir, NATS_AUTH_DIR);
    let natsUrl = options.natsUrl;
    if (!natsUrl && need.nats) {
      // Operator mode from the first start: the keys live under the data folder, readable by us only.
      const auth = await loadOrCreateNatsAuthority(authDir);
      embedded.nats = await (options.startNats ?? startNatsServer)({ dataDir: join(dataDir, 'nats'), auth });
      natsUrl = embedded.nats.url;
      // The local operator's CLI credential, for `agov run`/`agov agents` from another shell.
      const cli = await mintUser(auth, { role: 'client', name: 'cli' });
      writeFileSync(join(authDir, CLI_CREDS_FILE), cli.creds, { mode: 0o600 });
    }
    if (options.natsUrl && existsSync(join(authDir, 'account.nk'))) {
      // A server configured by `agov nats init` from these keys (compose): mint every actor's credential.
      registerAuthority(options.natsUrl, await loadOrCreateNatsAuthority(authDir));
    }
    let redisUrl = options.redisUrl;
    if (!redisUrl && need.redis) {
      embedded.redis = await startRedisServer({ dataDir: join(dataDir, 'redis') });
      redisUrl = embedded.redis.url;
    }
    let vaultAddr = options.vaultAddr;
    let vaultToken = options.vaultToken;
    if (!vaultAddr && need.vault) {
      // Like `vault server -dev`: in memory, in this process; tokens do not survive a restart.
      // The transit keyring (the ledger's signing key) lives beside the data directory, never in it:
      // whoever can read or rewrite the ledger's folder must not find the key that signs it.
      embedded.vault = await startVaultDevServer({ transitKeyringFile: vaultKeyringFile(dataDir) });
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
      kill,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Where the embedded Vault dev server keeps its transit keyring: `<dataDir>-vault/transit-keyring.json`. */
export function vaultKeyringFile(dataDir: string): string {
  return `${resolve(dataDir)}-vault/transit-keyring.json`;
}
