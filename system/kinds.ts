/**
 * The one table of actor kinds this codebase ships: name → lazy loader. A process that runs one actor
 * (`agov actor <kind>`, every process child) loads only that kind's modules: `agov actor echo` must not
 * pay for Fastify, SQLite and XState, and restart latency depends on it. A host that runs many kinds
 * (`agov up`, tests) loads the ones it needs with {@link loadRegistry}.
 *
 * A new kind is one line here and its name in `protocols/actor-kinds.ts`. The loaders import the
 * kind's own module rather than its folder's face, so that a process loads no more than the kind uses.
 */
import { type ActorKind, ActorRegistry } from '../actors/runtime/index.ts';
import { ACTOR_KIND, type ActorKindName, UnknownActorKindError } from '../protocols/index.ts';

const LOADERS: Readonly<Record<ActorKindName, () => Promise<ActorKind>>> = {
  [ACTOR_KIND.echo]: async () => (await import('../actors/echo.ts')).echoKind,
  [ACTOR_KIND.counter]: async () => (await import('../actors/counter.ts')).counterKind,
  [ACTOR_KIND.agent]: async () => (await import('../actors/agent/agent.ts')).agentKind,
  [ACTOR_KIND.agentDirectory]: async () => (await import('../actors/agent-directory.ts')).agentDirectoryKind,
  [ACTOR_KIND.orchestrator]: async () =>
    (await import('../actors/orchestrator/orchestrator.ts')).orchestratorKind,
  [ACTOR_KIND.tokenAuthority]: async () =>
    (await import('../actors/token/token-authority.ts')).tokenAuthorityKind,
  [ACTOR_KIND.tokenRenewer]: async () => (await import('../actors/token/token-renewer.ts')).tokenRenewerKind,
  [ACTOR_KIND.budgetMonitor]: async () =>
    (await import('../actors/error-budget/budget-monitor.ts')).budgetMonitorKind,
  [ACTOR_KIND.ledgerWriter]: async () => (await import('../actors/ledger/ledger-writer.ts')).ledgerWriterKind,
  [ACTOR_KIND.witness]: async () => (await import('../actors/witness/witness.ts')).witnessKind,
  [ACTOR_KIND.gateway]: async () => (await import('../actors/gateway/gateway.ts')).gatewayKind,
  [ACTOR_KIND.memory]: async () => (await import('../actors/context/memory-actor.ts')).memoryKind,
  [ACTOR_KIND.workStatus]: async () => (await import('../actors/context/status-actor.ts')).workStatusKind,
  [ACTOR_KIND.checkpoint]: async () => (await import('../actors/context/checkpoint-actor.ts')).checkpointKind,
  [ACTOR_KIND.control]: async () => (await import('../actors/control/control-actor.ts')).controlKind,
  [ACTOR_KIND.credentialAuthority]: async () =>
    (await import('../actors/credentials/credential-authority.ts')).credentialAuthorityKind,
  [ACTOR_KIND.supervisor]: async () =>
    (await import('../supervisors/supervisor.ts')).createSupervisorKind(loadActorKind),
};

export const ACTOR_KIND_NAMES: readonly ActorKindName[] = (Object.keys(LOADERS) as ActorKindName[]).sort();

export function isActorKindName(name: string): name is ActorKindName {
  return Object.hasOwn(LOADERS, name);
}

/**
 * Loads one actor kind (and only what it imports).
 * @throws UnknownActorKindError for a name not in the table.
 */
export async function loadActorKind(name: string): Promise<ActorKind> {
  if (!isActorKindName(name)) {
    throw new UnknownActorKindError(
      `unknown actor kind ${JSON.stringify(name)}; known: ${ACTOR_KIND_NAMES.join(', ')}`,
      { details: { kind: name } },
    );
  }
  return LOADERS[name]();
}

/** A registry of the named kinds (default: every kind), for hosts that start actors by name synchronously. */
export async function loadRegistry(names: readonly string[] = ACTOR_KIND_NAMES): Promise<ActorRegistry> {
  const registry = new ActorRegistry();
  registry.register(...(await Promise.all(names.map(loadActorKind))));
  return registry;
}
