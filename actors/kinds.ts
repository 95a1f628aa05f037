import { createSupervisorKind } from '../supervisors/supervisor.ts';
import { agentKind } from './agent/agent.ts';
import { agentDirectoryKind } from './agent-directory.ts';
import { counterKind } from './counter.ts';
import { echoKind } from './echo.ts';
import { budgetMonitorKind } from './error-budget/budget-monitor.ts';
import { gatewayKind } from './gateway/gateway.ts';
import { ledgerWriterKind } from './ledger/ledger-writer.ts';
import { orchestratorKind } from './orchestrator/orchestrator.ts';
import { ActorRegistry } from './runtime/registry.ts';
import { tokenAuthorityKind } from './token/token-authority.ts';
import { tokenRenewerKind } from './token/token-renewer.ts';

/** Every actor kind this codebase ships, for hosts, supervisors and `agov actor <kind>`. */
export function defaultRegistry(): ActorRegistry {
  const registry = new ActorRegistry();
  registry.register(tokenAuthorityKind, tokenRenewerKind, budgetMonitorKind);
  registry.register(gatewayKind);
  registry.register(echoKind, counterKind, agentKind, agentDirectoryKind, ledgerWriterKind, orchestratorKind, createSupervisorKind(() => registry));
  return registry;
}
