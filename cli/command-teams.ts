import { parseArgs } from 'node:util';
import { readEnvironment } from '../infra/index.ts';
import { Bus } from '../bus/index.ts';
import { ConfigError } from '../protocols/index.ts';
import { askSupervisorTree } from '../supervisors/index.ts';
import { renderTree } from './tree-view.ts';

/** `agov teams [--json] [--root ID]`: the live supervision tree with each actor's state and restart count. */
export async function commandTeams(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, root: { type: 'string', default: 'root' } },
  });
  const servers = readEnvironment().natsUrl;
  if (!servers)
    throw new ConfigError('agov teams needs NATS_URL pointing at a running system (see `agov up`)');
  const bus = await Bus.connect({ servers, name: 'agov-teams' });
  try {
    const tree = await askSupervisorTree(bus, values.root!);
    process.stdout.write(values.json ? `${JSON.stringify(tree, null, 2)}\n` : `${renderTree(tree)}\n`);
    return 0;
  } finally {
    await bus.close();
  }
}
