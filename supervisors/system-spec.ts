/**
 * The supervision tree of a whole system, as started by `agov up` and `agov run`:
 *
 * ```
 * root (one_for_one)
 * ├── services (one_for_one): ledger-writer, agent-directory, token-authority, token-renewer,
 * │                           budget-monitor, orchestrator, gateway — each kind that is registered
 * └── teams (one_for_one): one supervisor per team (config/teams.yaml), nested
 * ```
 * Services start before the teams so that agents find them when they announce themselves.
 */
import { DEFAULT_LEDGER_WRITER_NICE } from '../actors/ledger/ledger-writer-options.ts';
import type { ActorRegistry } from '../actors/runtime/registry.ts';
import { actorInbox } from '../protocols/subjects.ts';
import { type ChildSpec, type SupervisorSpec, supervisorSpec, validateSupervisorSpec } from './child-spec.ts';
import { type TeamDef, teamsSupervisorSpec } from './teams.ts';

/** Service actor kinds in start order; the first instance of each gets the id `<kind>-1`. */
export const SYSTEM_SERVICE_KINDS = [
  'ledger-writer',
  'agent-directory',
  'token-authority',
  'token-renewer',
  'budget-monitor',
  'orchestrator',
  'gateway',
] as const;

/**
 * Niceness of service processes that should yield the CPU under contention (absent: normal
 * priority). Only process children have a priority of their own; in-host services share the root's.
 */
export const SYSTEM_SERVICE_NICE: Readonly<Partial<Record<(typeof SYSTEM_SERVICE_KINDS)[number], number>>> = {
  'ledger-writer': DEFAULT_LEDGER_WRITER_NICE,
};

export interface SystemSpecOptions {
  registry: ActorRegistry;
  teams: TeamDef[];
  /** Run services in their own OS processes instead of the root's process. */
  servicesAsProcesses?: boolean;
  /** Per-kind start arguments. */
  serviceArgs?: Record<string, Record<string, unknown>>;
}

export function systemSpec(options: SystemSpecOptions): SupervisorSpec {
  const known = new Set(options.registry.list().map((k) => k.kind));
  const services = supervisorSpec({
    id: 'services',
    strategy: 'one_for_one',
    intensity: 10,
    periodMs: 30_000,
  });
  const defaults: Record<string, Record<string, unknown>> = {};
  // The gateway reports HTTP callers' policy violations under its own address; the key's tier was
  // checked at the gateway, so the token authority accepts reports from it.
  if (known.has('gateway'))
    defaults['token-authority'] = { reporterAllowlist: [actorInbox('gateway', 'gateway-1')] };
  services.children = SYSTEM_SERVICE_KINDS.filter((k) => known.has(k)).map((kind): ChildSpec => {
    const actor = {
      actorKind: kind,
      actorId: `${kind}-1`,
      args: { ...defaults[kind], ...options.serviceArgs?.[kind] },
    };
    const nice = SYSTEM_SERVICE_NICE[kind];
    return {
      id: kind,
      start: options.servicesAsProcesses
        ? { kind: 'process', ...actor, ...(nice !== undefined ? { nice } : {}) }
        : { kind: 'actor', ...actor },
      restart: 'permanent',
      shutdownMs: 10_000,
    };
  });
  const root = supervisorSpec({ id: 'root', strategy: 'one_for_one', intensity: 3, periodMs: 60_000 });
  root.children = [
    {
      id: 'services',
      start: { kind: 'supervisor', spec: services },
      restart: 'permanent',
      shutdownMs: 'infinity',
    },
    {
      id: 'teams',
      start: { kind: 'supervisor', spec: teamsSupervisorSpec(options.teams) },
      restart: 'permanent',
      shutdownMs: 'infinity',
    },
  ];
  validateSupervisorSpec(root);
  return root;
}
