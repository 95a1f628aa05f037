import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_GATEWAY_HOST, DEFAULT_GATEWAY_PORT } from '../actors/gateway/index.ts';
import { type Environment, readEnvironment } from '../infra/index.ts';
import {
  DEFAULT_TEAMS_FILE,
  loadTeams,
  type RunningSystem,
  startSystem,
  systemOptionsFromEnvironment,
  waitForAllRunning,
} from '../system/index.ts';
import { type ConnectionFile, removeConnectionFile, writeConnectionFile } from './connection-file.ts';
import { renderTree } from './tree-view.ts';

/**
 * `agov up [--once] [--teams FILE]`: starts the whole system — services (embedded unless
 * NATS_URL/REDIS_URL/VAULT_ADDR are set), the root supervisor, the service actors and the teams —
 * and prints the live supervision tree. With --once it exits after that; otherwise it runs until
 * SIGINT/SIGTERM, and exits non-zero if the root supervisor itself gives up.
 */
export async function commandUp(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { once: { type: 'boolean' }, teams: { type: 'string' } },
  });
  const env = readEnvironment();
  const sys = await startSystem({
    ...systemOptionsFromEnvironment(env),
    teams: loadTeams(values.teams ?? env.teamsFile ?? DEFAULT_TEAMS_FILE),
  });
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`nats:  ${sys.services.natsUrl}${sys.services.embedded.nats ? ' (embedded)' : ''}`);
  out(`redis: ${sys.services.redisUrl}${sys.services.embedded.redis ? ' (embedded)' : ''}`);
  out(`data:  ${sys.services.dataDir}`);
  // Teams summarised, not listed agent by agent: `agov teams --depth 1` lists them.
  out(renderTree(await waitForAllRunning(sys, undefined, 0)));
  const connectionFile = writeConnectionFile(connectionOf(sys, env));
  out(`connection file: ${connectionFile}  (eval "$(agov env)" in another shell)`);
  let code = 0;
  if (!values.once) {
    out('running; Ctrl-C to stop');
    code = await new Promise<number>((resolve) => {
      process.once('SIGINT', () => resolve(0));
      process.once('SIGTERM', () => resolve(0));
      void sys.root?.exited.then((r) => resolve(r.reason === 'crash' ? 1 : 0));
    });
  }
  removeConnectionFile(sys.dataDir);
  await sys.stop();
  return code;
}

/** Where the running system is, for the connection file (see cli/connection-file.ts). */
function connectionOf(sys: RunningSystem, env: Environment): ConnectionFile {
  const dataDir = resolve(sys.dataDir);
  const port = Number(env.httpPort ?? DEFAULT_GATEWAY_PORT);
  const host = env.httpHost ?? DEFAULT_GATEWAY_HOST;
  // A wildcard listen address is reached on loopback from this machine.
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const file = (p: string | undefined) => (p && existsSync(p) ? resolve(p) : undefined);
  return {
    version: 1,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dataDir,
    natsUrl: sys.natsUrl,
    httpUrl:
      port > 0 ? `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}` : undefined,
    redisUrl: sys.redisUrl,
    vaultAddr: sys.services.vaultAddr,
    credentials: {
      natsCreds: file(join(dataDir, 'nats-auth', 'cli.creds')),
      apiKeysFile: file(env.apiKeys ? undefined : (env.apiKeysFile ?? join(dataDir, 'api-keys'))),
    },
  };
}
