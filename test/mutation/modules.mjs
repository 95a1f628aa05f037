// The governance-critical modules under mutation testing, each with the focused tests that should kill
// its mutants (unit tests first: they are fast and deterministic on a loaded machine).
export const MODULES = [
  {
    name: 'supervisor-logic',
    mutate: ['supervisors/supervisor-logic.ts'],
    tests: [
      'test/unit/supervisor-logic.test.ts',
      'test/unit/supervisor-logic-reports.test.ts',
      'test/unit/teams.test.ts',
    ],
  },
  {
    name: 'run-machine',
    mutate: ['actors/orchestrator/run-machine.ts', 'actors/orchestrator/run-record.ts'],
    tests: ['test/unit/orchestrator-run-machine.test.ts', 'test/unit/orchestrator-run-steps.test.ts'],
  },
  {
    name: 'lifecycle-machine',
    mutate: ['actors/agent/lifecycle-machine.ts', 'actors/agent/lifecycle-rules.ts'],
    tests: ['test/unit/agent-lifecycle.test.ts', 'test/unit/agent-lifecycle-edges.test.ts'],
  },
  {
    name: 'budget-policy',
    mutate: ['actors/error-budget/budget-policy.ts', 'actors/error-budget/budget-evaluator.ts'],
    tests: [
      'test/unit/error-budget-policy.test.ts',
      'test/unit/error-budget-evaluator.test.ts',
      'test/unit/governance-pure.test.ts',
    ],
  },
  {
    name: 'ledger-merkle-verify',
    mutate: ['actors/ledger/merkle.ts', 'actors/ledger/verify.ts', 'actors/ledger/verified-head.ts'],
    tests: [
      'test/unit/ledger-merkle.test.ts',
      'test/unit/ledger-merkle-edges.test.ts',
      'test/unit/ledger-verify.test.ts',
      'test/unit/ledger-verify-report.test.ts',
      'test/unit/ledger-verify-incremental.test.ts',
      'test/unit/ledger-prove.test.ts',
    ],
  },
  // The I/O modules: their tests run on real servers (minutes per pass on this machine), so each is
  // worth running alone: `npm run mutation -- budget-monitor`.
  {
    name: 'budget-monitor',
    mutate: ['actors/error-budget/budget-monitor.ts'],
    tests: ['test/integration/budget-monitor.test.ts'],
  },
  {
    name: 'token-authority',
    mutate: ['actors/token/token-authority.ts'],
    tests: ['test/integration/token-authority.test.ts'],
  },
  {
    name: 'token-renewer',
    mutate: ['actors/token/token-renewer.ts', 'actors/token/renewal-schedule.ts'],
    tests: ['test/integration/token-renewer.test.ts', 'test/unit/governance-pure.test.ts'],
  },
  {
    name: 'token-store',
    mutate: ['actors/token/token-store.ts'],
    tests: ['test/integration/token-store.test.ts'],
  },
  {
    name: 'ledger-store',
    mutate: ['actors/ledger/ledger-store.ts', 'actors/ledger/wal-sync.ts'],
    tests: [
      'test/unit/ledger-store.test.ts',
      'test/unit/ledger-store-durability.test.ts',
      'test/unit/ledger-store-fsync.test.ts',
    ],
  },
  {
    name: 'ledger-writer',
    mutate: [
      'actors/ledger/ledger-writer.ts',
      'actors/ledger/ledger-writer-ingest.ts',
      'actors/ledger/ledger-writer-answers.ts',
      'actors/ledger/ledger-writer-signer.ts',
    ],
    tests: ['test/integration/ledger-writer.test.ts'],
  },
  // Recovery is two files: ownership (locate, adopt, resume at start and on another instance's exit),
  // killed by a focused test on nats alone, and the run driver (commit, outbox, republish, timers),
  // which only whole orchestrators exercise (minutes per mutant pass here).
  {
    name: 'orchestrator-ownership',
    mutate: ['actors/orchestrator/ownership.ts'],
    tests: ['test/integration/orchestrator-ownership.test.ts'],
  },
  {
    name: 'orchestrator-run-driver',
    mutate: ['actors/orchestrator/run-driver.ts'],
    tests: ['test/integration/orchestrator-outbox.test.ts', 'test/integration/orchestrator-recovery.test.ts'],
  },
];
