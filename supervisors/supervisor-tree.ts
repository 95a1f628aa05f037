import type { AskOptions, Bus } from '../bus/index.ts';
import { InvalidMessageError } from '../protocols/index.ts';
import type { SupervisorTree } from '../protocols/index.ts';
import { actorInbox } from '../protocols/index.ts';

/**
 * Asks a supervisor for its tree (`supervisor.status.v1` → `supervisor.tree.v1`), nested supervisors
 * included when `deep`.
 *
 * @example const tree = await askSupervisorTree(bus, 'root');
 */
export async function askSupervisorTree(
  bus: Bus,
  supervisorId: string,
  deep = true,
  options: AskOptions = {},
): Promise<SupervisorTree> {
  const r = await bus.ask(
    actorInbox('supervisor', supervisorId),
    { type: 'supervisor.status.v1', body: { deep } },
    options,
  );
  if (r.type !== 'supervisor.tree.v1')
    throw new InvalidMessageError(`supervisor ${supervisorId} answered ${r.type}, not supervisor.tree.v1`);
  return r.body;
}

/** Every node of a tree (deep), for "is everything running" checks. */
export function allChildren(tree: SupervisorTree): SupervisorTree['children'] {
  return tree.children.flatMap((c) => [c, ...(c.tree ? allChildren(c.tree) : [])]);
}
