import { createSupervisorKind } from '../supervisors/supervisor.ts';
import { agentKind } from './agent/agent.ts';
import { agentDirectoryKind } from './agent-directory.ts';
import { counterKind } from './counter.ts';
import { echoKind } from './echo.ts';
import { ledgerWriterKind } from './ledger/ledger-writer.ts';
import { orchestratorKind } from './orchestrator/orchestrator.ts';
import { ActorRegistry } from './runtime/registry.ts';

/** Every actor kind this codebase ships, for hosts, supervisors and `agov actor <kind>`. */
export function defaultRegistry(): ActorRegistry {
  const registry = new ActorRegistry();
  registry.register(echoKind, counterKind, agentKind, agentDirectoryKind, ledgerWriterKind, orchestratorKind, createSupervisorKind(() => registry));
  return registry;
}
