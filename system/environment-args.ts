/**
 * From the environment (read once, by `infra/environment.ts`) to what the system is given: the
 * options of `startSystem`, and the start arguments `agov actor <kind>` adds for the variables a kind
 * has an option for. Explicit arguments always win over the environment.
 */
import type { Environment } from '../infra/index.ts';
import { ACTOR_KIND, type ActorKindName } from '../protocols/index.ts';
import type { StartSystemOptions } from './start-system.ts';

const defined = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const vault = (e: Environment) => ({
  redisUrl: e.redisUrl,
  vaultAddr: e.vaultAddr,
  vaultToken: e.vaultToken,
});

const gateway = (e: Environment) => ({
  port: e.httpPort,
  host: e.httpHost,
  apiKeys: e.apiKeys,
  apiKeysFile: e.apiKeysFile,
  metricsKey: e.metricsKey,
});

/** Per kind: the start arguments the environment supplies (absent variables supply nothing). */
const ENV_ARGS: Partial<Record<ActorKindName, (e: Environment) => Record<string, unknown>>> = {
  [ACTOR_KIND.agent]: (e) => ({ redisUrl: e.redisUrl, dataDir: e.dataDir, vaultAddr: e.vaultAddr }),
  [ACTOR_KIND.tokenAuthority]: vault,
  [ACTOR_KIND.tokenRenewer]: vault,
  [ACTOR_KIND.budgetMonitor]: (e) => ({ redisUrl: e.redisUrl }),
  [ACTOR_KIND.ledgerWriter]: (e) => ({ dataDir: e.dataDir, key: e.ledgerKey }),
  [ACTOR_KIND.gateway]: gateway,
};

/** The start arguments `kind` takes from the environment. */
export function environmentArgs(kind: string, env: Environment): Record<string, unknown> {
  const pick = ENV_ARGS[kind as ActorKindName];
  return pick ? defined(pick(env)) : {};
}

/** `startSystem` options from the environment: given services, data folder, gateway and ledger settings. */
export function systemOptionsFromEnvironment(env: Environment): StartSystemOptions {
  return {
    natsUrl: env.natsUrl,
    redisUrl: env.redisUrl,
    vaultAddr: env.vaultAddr,
    vaultToken: env.vaultToken,
    dataDir: env.dataDir,
    serviceArgs: {
      [ACTOR_KIND.gateway]: defined(gateway(env)),
      [ACTOR_KIND.ledgerWriter]: defined({ key: env.ledgerKey }),
    },
    localApiKeys: true,
  };
}
