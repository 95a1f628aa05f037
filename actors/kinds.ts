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

/**
 * Every actor kind this codebase ships, loaded at once, for hosts that run many kinds (`agov up`,
 * tests). A process that runs one actor uses `loadActorKind` (kind-loaders.ts) instead.
 */
export function defaultRegistry(): ActorRegistry {
  const registry = new ActorRegistry();
  registry.register(
    echoKind,
    counterKind,
    agentKind,
    agentDirectoryKind,
    orchestratorKind,
    tokenAuthorityKind,
    tokenRenewerKind,
    budgetMonitorKind,
    ledgerWriterKind,
    gatewayKind,
    createSupervisorKind((kind) => registry.get(kind)),
  );
  return registry;
}
