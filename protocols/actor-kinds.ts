/**
 * The names of the actor kinds this codebase ships. A kind's name is part of the protocol: it is the
 * middle of every actor's inbox (`gov.actor.<kind>.<id>`) and service subject (`gov.svc.<kind>`), so
 * an actor that asks another kind's service names it from here, never from that kind's module.
 * The table that loads each kind is `system/kinds.ts`.
 */
export const ACTOR_KIND = {
  echo: 'echo',
  counter: 'counter',
  agent: 'agent',
  agentDirectory: 'agent-directory',
  orchestrator: 'orchestrator',
  tokenAuthority: 'token-authority',
  tokenRenewer: 'token-renewer',
  budgetMonitor: 'budget-monitor',
  ledgerWriter: 'ledger-writer',
  witness: 'witness',
  gateway: 'gateway',
  supervisor: 'supervisor',
  memory: 'memory',
  workStatus: 'work-status',
  checkpoint: 'checkpoint',
  control: 'control',
  credentialAuthority: 'credential-authority',
} as const;

export type ActorKindName = (typeof ACTOR_KIND)[keyof typeof ACTOR_KIND];

/**
 * Service names that are not actor kinds: another kind answers on `gov.svc.<name>` (the budget
 * monitor answers handoff report queries).
 */
export const SERVICE_NAME = {
  handoff: 'handoff',
} as const;
