import { parseArgs } from 'node:util';
import { Bus } from '../bus/bus.ts';
import { ConfigError } from '../protocols/errors.ts';
import { actorInbox } from '../protocols/subjects.ts';
import { renderTree } from './tree-view.ts';

/** `agov teams [--json] [--root ID]`: the live supervision tree with each actor's state and restart count. */
export async function commandTeams(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, root: { type: 'string', default: 'root' } } });
  const servers = process.env.NATS_URL;
  if (!servers) throw new ConfigError('agov teams needs NATS_URL pointing at a running system (see `agov up`)');
  const bus = await Bus.connect({ servers, name: 'agov-teams' });
  try {
    const r = await bus.ask(actorInbox('supervisor', values.root!), { type: 'supervisor.status.v1', body: { deep: true } });
    if (r.type !== 'supervisor.tree.v1') throw new Error(`unexpected reply ${r.type}`);
    process.stdout.write(values.json ? `${JSON.stringify(r.body, null, 2)}\n` : `${renderTree(r.body)}\n`);
    return 0;
  } finally {
    await bus.close();
  }
}
