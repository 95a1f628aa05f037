import { type ActorHandle, runActor } from '../../actors/runtime/actor.ts';
import type { Bus } from '../../bus/bus.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import type { SupervisorTree } from '../../protocols/messages/supervisor.ts';
import { type SupervisorSpecInput, supervisorSpec } from '../../supervisors/child-spec.ts';
import { askSupervisorTree } from '../../supervisors/supervisor-tree.ts';
import { loadActorKind } from '../../system/index.ts';

/** Starts a supervisor actor in this process with a spec. */
export async function startSupervisor(
  natsUrl: string,
  input: SupervisorSpecInput,
  opts: { childHeartbeatMs?: number; missedBeats?: number } = {},
): Promise<ActorHandle> {
  const spec = supervisorSpec(input);
  return runActor(await loadActorKind('supervisor'), {
    id: spec.id,
    args: { spec, childHeartbeatMs: opts.childHeartbeatMs ?? 200, missedBeats: opts.missedBeats ?? 3 },
    bus: { servers: natsUrl },
    heartbeatMs: opts.childHeartbeatMs ?? 200,
  });
}

export const treeOf = (bus: Bus, supervisorId: string): Promise<SupervisorTree> =>
  askSupervisorTree(bus, supervisorId);

export type SupervisorEvent = Extract<Envelope, { type: 'supervisor.event.v1' }>['body'];

export function isSupEvent(e: Envelope, match: Partial<SupervisorEvent>): boolean {
  if (e.type !== 'supervisor.event.v1') return false;
  return Object.entries(match).every(([k, v]) => (e.body as Record<string, unknown>)[k] === v);
}
