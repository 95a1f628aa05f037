import { parseArgs } from 'node:util';
import { readEnvironment } from '../infra/index.ts';
import { Bus } from '../bus/index.ts';
import { ConfigError } from '../protocols/index.ts';
import { askSupervisorTree } from '../supervisors/index.ts';
import { renderTree } from './tree-view.ts';

/** Levels of nested supervisors `agov teams` expands by default: teams are summarised. */
export const DEFAULT_TEAMS_DEPTH = 0;

/**
 * `agov teams [--json] [--root ID] [--depth N | --all]`: the live supervision tree with each actor's
 * state and restart count. By default the root's children, each nested supervisor (a team) with the
 * summary of its subtree; `--depth N` expands N levels of nested supervisors, `--all` every level. The
 * tree is read page by page, so it works at any fleet size.
 */
export async function commandTeams(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' },
      root: { type: 'string', default: 'root' },
      depth: { type: 'string', default: String(DEFAULT_TEAMS_DEPTH) },
      all: { type: 'boolean' },
    },
  });
  const depth = values.all ? true : Number(values.depth);
  if (depth !== true && !(Number.isInteger(depth) && depth >= 0))
    throw new ConfigError(`agov teams --depth must be a whole number ≥ 0, not ${values.depth}`, {
      details: { option: 'depth', value: values.depth },
    });
  const servers = readEnvironment().natsUrl;
  if (!servers)
    throw new ConfigError('agov teams needs NATS_URL pointing at a running system (see `agov up`)');
  const bus = await Bus.connect({ servers, name: 'agov-teams' });
  try {
    const tree = await askSupervisorTree(bus, values.root!, depth);
    process.stdout.write(values.json ? `${JSON.stringify(tree, null, 2)}\n` : `${renderTree(tree)}\n`);
    return 0;
  } finally {
    await bus.close();
  }
}
