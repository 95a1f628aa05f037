/**
 * `agov`: the command line of agent-governance. Each subcommand lives in its own module.
 */
import { GovError, toGovError } from '../protocols/errors.ts';
const USAGE = `agov <command> [options]

Commands:
  up [--once]                   start the system on embedded defaults (or NATS_URL/REDIS_URL/VAULT_ADDR)
  actor <kind> --id <id>        run one actor in this process (joins NATS_URL)
  agents [--json] [--team T]    list the agents the agent directory knows (NATS_URL)
  teams [--json]                the live supervision tree: each actor's state and restarts (NATS_URL)
  ledger <verify|prove|consistency|tail|query>
                                read and check the audit ledger file (agov ledger help)
  evidence <export|verify>      a run's evidence package, checked offline (agov evidence)
  validate FILE...              check pipeline files; prints file:line:column: error[code]: message
  run FILE [--param k=v]... [--detach]
                                run a pipeline and follow it (embedded system when NATS_URL is unset)
  runs [--status S] [--json]    recent pipeline runs
  run-status RUN_ID [--json]    one run and its stages
  chaos list | run SCENARIO     fault injection against a whole system; invariant verdicts
  help                          this text
`;

type Command = (argv: string[]) => Promise<number>;

/** Each command's module is loaded only when it runs: `agov actor` starts fast (restart latency). */
const commands: Record<string, Command> = {
  up: async (a) => (await import('./command-up.ts')).commandUp(a),
  actor: async (a) => (await import('./command-actor.ts')).commandActor(a),
  chaos: async (a) => (await import('./command-chaos.ts')).commandChaos(a),
  ledger: async (a) => (await import('./command-ledger.ts')).commandLedger(a),
  evidence: async (a) => (await import('./command-evidence.ts')).commandEvidence(a),
  agents: async (a) => (await import('./command-agents.ts')).commandAgents(a),
  teams: async (a) => (await import('./command-teams.ts')).commandTeams(a),
  validate: async (a) => (await import('./command-validate.ts')).commandValidate(a),
  run: async (a) => (await import('./command-run.ts')).commandRun(a),
  runs: async (a) => (await import('./command-run.ts')).commandRuns(a),
  'run-status': async (a) => (await import('./command-run.ts')).commandRunStatus(a),
  help: async () => {
    process.stdout.write(USAGE);
    return 0;
  },
};

async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`agov: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  const { registerCliCredentials } = await import('./cli-credentials.ts');
  registerCliCredentials();
  return cmd(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = toGovError(err);
    process.stderr.write(`agov: error[${e.code}]: ${e.message}\n`);
    process.exit(e instanceof GovError && e.code === 'GOV_ERR_CONFIG' ? 2 : 1);
  },
);
