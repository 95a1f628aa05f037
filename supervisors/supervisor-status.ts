/**
 * `supervisor.status.v1`, answered: one page of a supervisor's children, nested supervisors summarised
 * (or expanded `depth` levels, one page each), and the summary of the whole subtree. Nested
 * supervisors are asked only for their summaries, which stay small whatever their size.
 */
import type { Bus } from '../bus/index.ts';
import type { SupervisorTree } from '../protocols/index.ts';
import type { ChildSpec, StartDescriptor } from './child-spec.ts';
import { type SupervisorState, whichChildren } from './supervisor-logic.ts';
import { DEFAULT_NESTED_TREE_TIMEOUT_MS } from './supervisor-options.ts';
import {
  addSummary,
  askSupervisorPage,
  countChild,
  emptySummary,
  type TreeRequest,
} from './supervisor-tree.ts';

/** What the supervisor knows of a child at run time. */
export interface ChildFacts {
  running: boolean;
  pid?: number;
  lastHeartbeatMs?: number;
  heartbeatStatus?: Record<string, unknown>;
}

export interface TreePageInput {
  bus: Bus;
  supervisor: Pick<SupervisorTree, 'supervisorId' | 'strategy' | 'intensity' | 'periodMs'>;
  state: SupervisorState;
  spec(childId: string): ChildSpec;
  child(childId: string): ChildFacts;
  req: TreeRequest;
}

export function descriptorKind(d: StartDescriptor): { kind: string; actorId: string } {
  return d.kind === 'supervisor'
    ? { kind: 'supervisor', actorId: d.spec.id }
    : { kind: d.actorKind, actorId: d.actorId };
}

export async function treePage(input: TreePageInput): Promise<SupervisorTree> {
  const { req } = input;
  const all = whichChildren(input.state);
  const askNested = (actorId: string, body: TreeRequest) =>
    askSupervisorPage(input.bus, actorId, body, { timeoutMs: DEFAULT_NESTED_TREE_TIMEOUT_MS }).catch(
      () => undefined, // a nested supervisor restarting right now: reported without its subtree
    );
  const nested = new Map<string, Promise<SupervisorTree | undefined>>();
  const summary = emptySummary();
  for (const info of all) {
    const spec = input.spec(info.id);
    countChild(summary, info.status, info.restartCount);
    if (spec.start.kind !== 'supervisor') continue;
    summary.supervisors++;
    if (!input.child(info.id).running) continue;
    nested.set(info.id, askNested(descriptorKind(spec.start).actorId, { depth: 0, offset: 0, limit: 0 }));
  }
  const children: SupervisorTree['children'] = [];
  for (const info of all.slice(req.offset, req.offset + req.limit)) {
    const spec = input.spec(info.id);
    const { kind, actorId } = descriptorKind(spec.start);
    const { running: _running, ...facts } = input.child(info.id);
    const child: SupervisorTree['children'][number] = {
      id: info.id,
      type: spec.start.kind,
      actorKind: kind,
      actorId,
      status: info.status,
      restart: info.restart,
      restartCount: info.restartCount,
      lastExit: info.lastExit as never,
      ...facts,
    };
    const sub = await nested.get(info.id);
    if (sub?.summary) child.summary = sub.summary;
    if (req.depth > 0 && sub) {
      const expanded = await askNested(actorId, { depth: req.depth - 1, offset: 0, limit: req.limit });
      if (expanded) child.tree = expanded;
    }
    children.push(child);
  }
  for (const sub of await Promise.all(nested.values())) {
    if (sub?.summary) addSummary(summary, sub.summary);
    else summary.unreachable++;
  }
  return {
    ...input.supervisor,
    phase: input.state.phase,
    children,
    offset: req.offset,
    total: all.length,
    summary,
  };
}
