import { parseArgs } from 'node:util';
import { readEnvironment } from '../infra/index.ts';
import {
  DEFAULT_TEAMS_FILE,
  loadTeams,
  startSystem,
  systemOptionsFromEnvironment,
  waitForAllRunning,
} from '../system/index.ts';
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
  out(renderTree(await waitForAllRunning(sys)));
  let code = 0;
  if (!values.once) {
    out('running; Ctrl-C to stop');
    code = await new Promise<number>((resolve) => {
      process.once('SIGINT', () => resolve(0));
      process.once('SIGTERM', () => resolve(0));
      void sys.root?.exited.then((r) => resolve(r.reason === 'crash' ? 1 : 0));
    });
  }
  await sys.stop();
  return code;
}
