// The governance-critical modules under mutation testing, each with the focused tests that should kill
// its mutants (unit tests first: they are fast and deterministic on a loaded machine).
export const MODULES = [
  {
    name: 'supervisor-logic',
    mutate: ['supervisors/supervisor-logic.ts'],
    tests: ['test/unit/supervisor-logic.test.ts', 'test/unit/teams.test.ts'],
  },
  {
    name: 'run-machine',
    mutate: ['actors/orchestrator/run-machine.ts'],
    tests: ['test/unit/orchestrator-run-machine.test.ts'],
  },
  {
    name: 'lifecycle-machine',
    mutate: ['actors/agent/lifecycle-machine.ts'],
    tests: ['test/unit/agent-lifecycle.test.ts'],
  },
  {
    name: 'budget-policy',
    mutate: ['actors/error-budget/budget-policy.ts', 'actors/error-budget/budget-evaluator.ts'],
    tests: ['test/unit/governance-pure.test.ts', 'test/unit/error-budget-evaluator.test.ts'],
  },
  {
    name: 'ledger-merkle-verify',
    mutate: ['actors/ledger/merkle.ts', 'actors/ledger/verify.ts'],
    tests: [
      'test/unit/ledger-merkle.test.ts',
      'test/unit/ledger-verify.test.ts',
      'test/unit/ledger-prove.test.ts',
    ],
  },
];
