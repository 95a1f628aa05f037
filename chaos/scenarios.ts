/**
 * The chaos scenarios. Each names the faults it injects and what they hit; the runner drives
 * pipeline runs through the system while injecting them, then checks the invariants.
 */
export type FaultKind =
  | 'sigkill'
  | 'sigkill-many'
  | 'sigstop'
  | 'restart-nats'
  | 'restart-redis'
  | 'audit-flood';

export interface Scenario {
  name: string;
  description: string;
  fault: FaultKind;
  /** Actor kinds whose processes may be hit (sigkill/sigstop); empty = any process. */
  targets: string[];
  /** `sigkill-many`: how many different kinds are hit at once (one process of each). */
  kindsAtOnce?: number;
  /** Every n-th submitted run is the failing pipeline that exhausts its budget (default 4). */
  breachEvery?: number;
  /**
   * Producers (chaos/implied-events.ts) whose stored state must imply audit events for the scenario to
   * prove anything: the killed kind's events, implied by what it persisted, are each in the ledger once.
   */
  producers?: string[];
  /**
   * Load beside the pipeline runs: `checkpoint-restores` has an operator take and restore checkpoints
   * throughout (chaos/checkpoint-load.ts), so the checkpoint actor has restore records to imply events.
   */
  load?: 'checkpoint-restores';
}

/** Every 4th run exhausts its error budget unless the scenario says otherwise. */
export const DEFAULT_BREACH_EVERY = 4;

export const SCENARIOS: Scenario[] = [
  {
    name: 'kill-agents',
    description: 'SIGKILL random agent processes mid-task',
    fault: 'sigkill',
    targets: ['agent'],
    producers: ['agent'],
  },
  {
    name: 'kill-orchestrator',
    description: 'SIGKILL the orchestrator process mid-run',
    fault: 'sigkill',
    targets: ['orchestrator'],
    producers: ['orchestrator'],
  },
  {
    name: 'kill-token-authority',
    description: 'SIGKILL the token authority process while it issues and revokes run tokens',
    fault: 'sigkill',
    targets: ['token-authority'],
    producers: ['token-authority'],
  },
  {
    name: 'kill-token-renewer',
    description: 'SIGKILL the token renewer process',
    fault: 'sigkill',
    targets: ['token-renewer'],
  },
  {
    name: 'kill-budget-monitor',
    description: 'SIGKILL the error-budget monitor process',
    fault: 'sigkill',
    targets: ['budget-monitor'],
    producers: ['budget-monitor'],
  },
  {
    name: 'kill-ledger-writer',
    description: 'SIGKILL the ledger writer process mid-batch',
    fault: 'sigkill',
    targets: ['ledger-writer'],
  },
  {
    name: 'kill-checkpoint',
    description: 'SIGKILL the checkpoint actor while an operator takes and restores checkpoints',
    fault: 'sigkill',
    targets: ['checkpoint'],
    producers: ['checkpoint'],
    load: 'checkpoint-restores',
  },
  {
    name: 'kill-supervisor',
    description: 'SIGKILL a team supervisor process (its agents die with it)',
    fault: 'sigkill',
    targets: ['supervisor'],
  },
  { name: 'kill-random', description: 'SIGKILL any actor process', fault: 'sigkill', targets: [] },
  {
    name: 'hang',
    description: 'SIGSTOP random processes, SIGCONT later (hung actors)',
    fault: 'sigstop',
    targets: ['agent', 'orchestrator', 'token-authority', 'budget-monitor'],
  },
  {
    name: 'kill-mixed',
    description:
      'SIGKILL several kinds at once (agents, orchestrator, budget monitor, token actors) while half the runs breach their budgets',
    fault: 'sigkill-many',
    targets: ['agent', 'orchestrator', 'budget-monitor', 'token-authority', 'token-renewer'],
    kindsAtOnce: 3,
    breachEvery: 2,
  },
  { name: 'restart-nats', description: 'restart nats-server under load', fault: 'restart-nats', targets: [] },
  {
    name: 'restart-redis',
    description: 'restart the Redis-protocol store under load',
    fault: 'restart-redis',
    targets: [],
  },
  {
    name: 'slow-consumer',
    description: 'flood the audit stream so the ledger writer lags far behind',
    fault: 'audit-flood',
    targets: [],
  },
];

export function scenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
