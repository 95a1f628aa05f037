/**
 * Every actor kind by name, loaded on demand: `agov actor echo` must not pay for loading Fastify,
 * SQLite and XState. Process children start through here, so restart latency depends on it.
 */
import { UnknownActorKindError } from '../protocols/errors.ts';
import type { ActorKind } from './runtime/actor-kind.ts';

const LOADERS: Record<string, () => Promise<ActorKind>> = {
  echo: async () => (await import('./echo.ts')).echoKind,
  counter: async () => (await import('./counter.ts')).counterKind,
  agent: async () => (await import('./agent/agent.ts')).agentKind,
  'agent-directory': async () => (await import('./agent-directory.ts')).agentDirectoryKind,
  orchestrator: async () => (await import('./orchestrator/orchestrator.ts')).orchestratorKind,
  'token-authority': async () => (await import('./token/token-authority.ts')).tokenAuthorityKind,
  'token-renewer': async () => (await import('./token/token-renewer.ts')).tokenRenewerKind,
  'budget-monitor': async () => (await import('./error-budget/budget-monitor.ts')).budgetMonitorKind,
  'ledger-writer': async () => (await import('./ledger/ledger-writer.ts')).ledgerWriterKind,
  gateway: async () => (await import('./gateway/gateway.ts')).gatewayKind,
  supervisor: async () => (await import('../supervisors/supervisor.ts')).createSupervisorKind(loadActorKind),
};

export const ACTOR_KIND_NAMES = Object.keys(LOADERS).sort();

/** Loads one actor kind (and only what it imports). */
export async function loadActorKind(name: string): Promise<ActorKind> {
  const load = Object.hasOwn(LOADERS, name) ? LOADERS[name] : undefined;
  if (!load) {
    throw new UnknownActorKindError(
      `unknown actor kind ${JSON.stringify(name)}; known: ${ACTOR_KIND_NAMES.join(', ')}`,
      { details: { kind: name } },
    );
  }
  return load();
}
