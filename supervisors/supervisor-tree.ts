/**
 * Reading supervision trees of any size. A supervisor answers `supervisor.status.v1` one page at a
 * time (at most MAX_TREE_PAGE_CHILDREN children) with a summary of its whole subtree, so no reply grows
 * with the fleet; `askSupervisorTree` assembles a tree page by page and subtree by subtree, and
 * `askSupervisorSummary` counts a whole tree with one small reply per supervisor.
 */
import type { AskOptions, Bus } from '../bus/index.ts';
import {
  actorInbox,
  type BodyIn,
  DEFAULT_TREE_DEPTH,
  DEFAULT_TREE_PAGE_CHILDREN,
  InvalidMessageError,
  PayloadTooLargeError,
  type SupervisorSummary,
  type SupervisorTree,
} from '../protocols/index.ts';

/** A `supervisor.status.v1` request with its defaults applied. */
export interface TreeRequest {
  depth: number;
  offset: number;
  limit: number;
}

/** The request a `supervisor.status.v1` body means (`deep: false` is depth 0). */
export function treeRequest(body: BodyIn<'supervisor.status.v1'>): TreeRequest {
  return {
    depth: body.depth ?? (body.deep === false ? 0 : DEFAULT_TREE_DEPTH),
    offset: body.offset ?? 0,
    limit: body.limit ?? DEFAULT_TREE_PAGE_CHILDREN,
  };
}

/** How a tree is read. */
export interface TreeReadOptions extends AskOptions {
  /**
   * A running nested supervisor that does not answer fails the whole read with its error (a timeout,
   * no responders), instead of being reported without its subtree: for callers that act on every
   * process of the tree (chaos picks its victims there), where a silently missing subtree is a lie.
   */
  complete?: boolean;
}

/** One page of a supervisor's tree, as it answers it. */
export async function askSupervisorPage(
  bus: Bus,
  supervisorId: string,
  body: Partial<TreeRequest>,
  options: AskOptions = {},
): Promise<SupervisorTree> {
  const r = await bus.ask(
    actorInbox('supervisor', supervisorId),
    { type: 'supervisor.status.v1', body },
    options,
  );
  if (r.type !== 'supervisor.tree.v1')
    throw new InvalidMessageError(`supervisor ${supervisorId} answered ${r.type}, not supervisor.tree.v1`);
  return r.body;
}

/** The summary of a whole tree (every descendant counted), in one small reply. */
export async function askSupervisorSummary(
  bus: Bus,
  supervisorId: string,
  options: AskOptions = {},
): Promise<SupervisorSummary> {
  const page = await askSupervisorPage(bus, supervisorId, { depth: 0, offset: 0, limit: 0 }, options);
  if (!page.summary) throw new InvalidMessageError(`supervisor ${supervisorId} answered no summary`);
  return page.summary;
}

/**
 * Asks a supervisor for its tree: every child, read page by page, and nested supervisors' trees down to
 * `depth` levels (`true`: all of them; `false`: none, their summaries only). Each message stays small
 * however many children there are; a nested supervisor that does not answer (restarting) is reported
 * without its subtree.
 *
 * @example const tree = await askSupervisorTree(bus, 'root');
 */
export async function askSupervisorTree(
  bus: Bus,
  supervisorId: string,
  depth: boolean | number = true,
  options: TreeReadOptions = {},
): Promise<SupervisorTree> {
  const { complete: _, ...ask } = options;
  const levels = depth === true ? Number.POSITIVE_INFINITY : depth === false ? 0 : depth;
  let limit = DEFAULT_TREE_PAGE_CHILDREN;
  // A page the supervisor cannot send (children with large heartbeat statuses) is asked again smaller.
  const page = async (offset: number): Promise<SupervisorTree> => {
    for (;;) {
      try {
        return await askSupervisorPage(bus, supervisorId, { depth: 0, offset, limit }, ask);
      } catch (err) {
        if (!(err instanceof PayloadTooLargeError) || limit === 1) throw err;
        limit = Math.max(1, Math.floor(limit / 2));
      }
    }
  };
  const first = await page(0);
  const tree: SupervisorTree = { ...first, children: [...first.children], offset: 0 };
  const total = first.total ?? first.children.length;
  while (tree.children.length < total) {
    const next = await page(tree.children.length);
    if (next.children.length === 0) break; // the tree shrank meanwhile
    tree.children.push(...next.children);
  }
  if (levels > 0) {
    for (const c of tree.children) {
      if (c.type !== 'supervisor' || c.status !== 'running') continue;
      try {
        c.tree = await askSupervisorTree(bus, c.actorId, levels - 1, options);
      } catch (err) {
        // a nested supervisor restarting right now: reported without its subtree, unless asked not to
        if (options.complete) throw err;
      }
    }
  }
  return tree;
}

/** Every node of a tree (as deep as it was read), for "is everything running" checks. */
export function allChildren(tree: SupervisorTree): SupervisorTree['children'] {
  return tree.children.flatMap((c) => [c, ...(c.tree ? allChildren(c.tree) : [])]);
}

export function emptySummary(): SupervisorSummary {
  return {
    children: 0,
    running: 0,
    starting: 0,
    pending: 0,
    stopped: 0,
    restarts: 0,
    supervisors: 0,
    unreachable: 0,
  };
}

/** Counts one child into a summary. */
export function countChild(
  s: SupervisorSummary,
  status: SupervisorTree['children'][number]['status'],
  restarts: number,
): void {
  s.children++;
  s[status]++;
  s.restarts += restarts;
}

/** Adds a nested supervisor's summary into its parent's. */
export function addSummary(into: SupervisorSummary, from: SupervisorSummary): void {
  for (const k of Object.keys(into) as (keyof SupervisorSummary)[]) into[k] += from[k];
}

/** Whether every child of a summarised tree runs (nothing starting, pending, stopped or unreachable). */
export function allRunning(s: SupervisorSummary): boolean {
  return s.running === s.children && s.unreachable === 0;
}
