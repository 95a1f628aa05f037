/**
 * The supervision tree of a whole system, as started by `startSystem` (`agov up`, `agov run`, chaos):
 *
 * ```
 * root (one_for_one)
 * ├── services (one_for_one): ledger-writer, agent-directory, token-authority, token-renewer,
 * │                           budget-monitor, orchestrator, gateway, memory, work-status, checkpoint,
 * │                           control
 * └── teams (one_for_one): one supervisor per team (config/teams.yaml), nested
 * ```
 * Services start before the teams so that agents find them when they announce themselves.
 * Everything that differs between services is data in {@link SYSTEM_SERVICES}; `supervisors/` knows
 * no concrete kind.
 */
import { ACTOR_KIND, type ActorKindName, actorInbox } from '../protocols/index.ts';
import {
  type ChildSpec,
  type SupervisorSpec,
  supervisorSpec,
  validateSupervisorSpec,
} from '../supervisors/index.ts';
import {
  DEFAULT_LEDGER_WRITER_NICE,
  DEFAULT_ROOT_INTENSITY,
  DEFAULT_ROOT_PERIOD_MS,
  DEFAULT_SERVICE_SHUTDOWN_MS,
  DEFAULT_SERVICES_INTENSITY,
  DEFAULT_SERVICES_PERIOD_MS,
} from './system-options.ts';
import { type AgentArgs, type TeamDef, teamsSupervisorSpec } from './teams.ts';

/** What a started system knows about where its services are, handed to the actors that need them. */
export interface ServiceAddresses {
  redisUrl: string;
  vaultAddr?: string;
  vaultToken?: string;
  dataDir: string;
}

/** One service actor of the system, as data. */
export interface SystemService {
  kind: ActorKindName;
  /** Which service addresses it takes as start arguments (of the same name). */
  needs: ReadonlyArray<keyof ServiceAddresses>;
  /** Start arguments every system gives it. */
  args?: Readonly<Record<string, unknown>>;
  /** Niceness of its process when services run as processes (absent: normal priority). */
  nice?: number;
}

/** Id of the first (and in a system, only) instance of a service kind. */
export const serviceActorId = (kind: string) => `${kind}-1`;

/** Service actors in start order. */
export const SYSTEM_SERVICES: readonly SystemService[] = [
  { kind: ACTOR_KIND.ledgerWriter, needs: ['dataDir'], nice: DEFAULT_LEDGER_WRITER_NICE },
  // Cosigns the writer's checkpoints from its own store and key (docs/ledger.md "Witnesses").
  { kind: ACTOR_KIND.witness, needs: ['dataDir'] },
  { kind: ACTOR_KIND.agentDirectory, needs: [] },
  {
    kind: ACTOR_KIND.tokenAuthority,
    needs: ['redisUrl', 'vaultAddr', 'vaultToken'],
    // The gateway reports HTTP callers' policy violations under its own address; the key's tier was
    // checked at the gateway, so the token authority accepts reports from it.
    args: { reporterAllowlist: [actorInbox(ACTOR_KIND.gateway, serviceActorId(ACTOR_KIND.gateway))] },
  },
  { kind: ACTOR_KIND.tokenRenewer, needs: ['redisUrl', 'vaultAddr', 'vaultToken'] },
  { kind: ACTOR_KIND.budgetMonitor, needs: ['redisUrl'] },
  { kind: ACTOR_KIND.orchestrator, needs: [] },
  { kind: ACTOR_KIND.gateway, needs: [] },
  // Context management (docs/context.md); the checkpoint actor asks all the others, so it comes last.
  { kind: ACTOR_KIND.memory, needs: [] },
  { kind: ACTOR_KIND.workStatus, needs: [] },
  { kind: ACTOR_KIND.checkpoint, needs: [] },
  // Operator controls (docs/protocol.md): applies them through the services above.
  { kind: ACTOR_KIND.control, needs: [] },
];

/** Service kinds in start order. */
export const SYSTEM_SERVICE_KINDS: readonly ActorKindName[] = SYSTEM_SERVICES.map((s) => s.kind);

/** Niceness of the service processes that yield the CPU under contention. */
export const SYSTEM_SERVICE_NICE: Readonly<Partial<Record<ActorKindName, number>>> = Object.fromEntries(
  SYSTEM_SERVICES.filter((s) => s.nice !== undefined).map((s) => [s.kind, s.nice]),
);

export interface SystemSpecOptions {
  teams: TeamDef[];
  /** Where the services are; each service and agent gets the addresses it needs as start arguments. */
  addresses?: ServiceAddresses;
  /** Run services in their own OS processes instead of the root's process. */
  servicesAsProcesses?: boolean;
  /** Per-kind start arguments, over the system's own. */
  serviceArgs?: Partial<Record<ActorKindName, Record<string, unknown>>>;
  /** Only these service kinds (default: all of {@link SYSTEM_SERVICES}). */
  services?: readonly ActorKindName[];
}

function pick(
  addresses: ServiceAddresses | undefined,
  needs: SystemService['needs'],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of needs) if (addresses?.[k] !== undefined) out[k] = addresses[k];
  return out;
}

function serviceChild(service: SystemService, options: SystemSpecOptions): ChildSpec {
  const actor = {
    actorKind: service.kind,
    actorId: serviceActorId(service.kind),
    args: {
      ...pick(options.addresses, service.needs),
      ...service.args,
      ...options.serviceArgs?.[service.kind],
    },
  };
  return {
    id: service.kind,
    start: options.servicesAsProcesses
      ? { kind: 'process', ...actor, ...(service.nice !== undefined ? { nice: service.nice } : {}) }
      : { kind: 'actor', ...actor },
    restart: 'permanent',
    shutdownMs: DEFAULT_SERVICE_SHUTDOWN_MS,
  };
}

export function systemSpec(options: SystemSpecOptions): SupervisorSpec {
  const wanted = new Set(options.services ?? SYSTEM_SERVICE_KINDS);
  const services = supervisorSpec({
    id: 'services',
    strategy: 'one_for_one',
    intensity: DEFAULT_SERVICES_INTENSITY,
    periodMs: DEFAULT_SERVICES_PERIOD_MS,
  });
  services.children = SYSTEM_SERVICES.filter((s) => wanted.has(s.kind)).map((s) => serviceChild(s, options));
  // vaultAddr: agents unwrap their child tokens there (agent.credentials.v2); never a Vault token.
  const agentArgs: AgentArgs = pick(options.addresses, ['redisUrl', 'dataDir', 'vaultAddr']);
  const root = supervisorSpec({
    id: 'root',
    strategy: 'one_for_one',
    intensity: DEFAULT_ROOT_INTENSITY,
    periodMs: DEFAULT_ROOT_PERIOD_MS,
  });
  root.children = [
    {
      id: 'services',
      start: { kind: 'supervisor', spec: services },
      restart: 'permanent',
      shutdownMs: 'infinity',
    },
    {
      id: 'teams',
      start: { kind: 'supervisor', spec: teamsSupervisorSpec(options.teams, agentArgs) },
      restart: 'permanent',
      shutdownMs: 'infinity',
    },
  ];
  validateSupervisorSpec(root);
  return root;
}
