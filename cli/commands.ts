/**
 * The table of `agov` commands: name, one line for `agov --help`, the full usage for
 * `agov <command> --help` (or `-h`), and the module that runs it — loaded only when it runs, so
 * `agov actor` starts fast (restart latency) and help never starts anything.
 *
 * Adding a command is adding a row here: `cli/index.ts` answers `--help`/`-h` for every row before the
 * command sees its arguments, and test/unit/cli-help.test.ts checks every row answers.
 */

export type CommandRun = (argv: string[]) => Promise<number>;

export interface CommandDef {
  name: string;
  /** One line, shown by `agov --help`. */
  summary: string;
  /** The full text `agov <name> --help` prints; a function when it lives in the command's module. */
  usage: string | (() => Promise<string>);
  run: CommandRun;
}

export const COMMANDS: readonly CommandDef[] = [
  {
    name: 'up',
    summary: 'start the whole system (embedded services unless NATS_URL/REDIS_URL/VAULT_ADDR are set)',
    usage: `agov up [--once] [--teams FILE]

  Starts the services (embedded under AGOV_DATA_DIR, default .data, unless NATS_URL/REDIS_URL/VAULT_ADDR
  are set), the root supervisor, every service actor and the teams of FILE (default config/teams.yaml,
  or AGOV_TEAMS), prints the supervision tree and runs until SIGINT/SIGTERM.
  While it runs, <data dir>/connection.json says where the system is (see \`agov env\`).

  --once         exit after everything is running
  --teams FILE   the teams file to start
`,
    run: async (a) => (await import('./command-up.ts')).commandUp(a),
  },
  {
    name: 'env',
    summary: 'print the running system’s addresses as shell exports: eval "$(agov env)"',
    usage: `agov env [--data-dir DIR] [--json]

  Reads <data dir>/connection.json, written by \`agov up\` while it runs, and prints it as shell
  exports (NATS_URL, AGOV_HTTP_URL, AGOV_DATA_DIR, AGOV_API_KEYS_FILE, …) so a second shell can drive
  the system: eval "$(agov env)". Exits 1 when no system is running there.

  --data-dir DIR  the data folder (default AGOV_DATA_DIR, else .data)
  --json          print the connection file itself
`,
    run: async (a) => (await import('./command-env.ts')).commandEnv(a),
  },
  {
    name: 'actor',
    summary: 'run one actor in this process (joins NATS_URL)',
    usage: `agov actor <kind> --id <id> [--arg k=v]... [--heartbeat-ms N] [--nats URL]

  Runs one actor of <kind> in this process. Its start arguments are, by precedence: --arg, the JSON in
  AGOV_ACTOR_ARGS, and the environment variables the kind has options for. Exits 0 after a graceful
  stop and 1 after a crash.
`,
    run: async (a) => (await import('./command-actor.ts')).commandActor(a),
  },
  {
    name: 'agents',
    summary: 'list the agents the agent directory knows (NATS_URL)',
    usage: `agov agents [--json] [--team T] [--nats URL] [--timeout-ms N]
agov agents suspend|resume|release|promote|demote|drain AGENT_ID [--reason R] [--json]

  One line per agent: id, state, tier, team, role, restarts, last heartbeat age, current task.
  With a verb: an operator control (T2, audited with this credential's principal; release takes an
  agent out of quarantine). See docs/protocol.md "Operator controls".
`,
    run: async (a) =>
      (await import('./command-control.ts')).isControlVerb('agent', a)
        ? (await import('./command-control.ts')).commandControl('agent', a)
        : (await import('./command-agents.ts')).commandAgents(a),
  },
  {
    name: 'agent',
    summary: 'enroll an external agent (writes its .creds file) or revoke its credentials',
    usage: `agov agent enroll --id ID --tier T0|T1|T2 [--team T] [--out FILE] [--ttl-hours N]
agov agent revoke --id ID

  enroll: mints the agent's NATS credential from the keys under <data dir>/nats-auth, with exactly
  its tier's permissions (docs/security.md), and writes it as a .creds file (mode 0600, default
  agent-ID.creds). The agent connects with it and inboxPrefix _INBOX.agent-ID.
  revoke: revokes every credential enrolled for ID; with NATS_URL set, on the running server at once
  (its connections are dropped and refused from then on).
`,
    run: async (a) => (await import('./command-credentials.ts')).commandAgent(a),
  },
  {
    name: 'creds',
    summary: 'write a read-only observer (or operator client) NATS credential',
    usage: `agov creds observer|client [--name N] [--out FILE]

  observer: may subscribe to the JSON feed (gov.obs.>) and nothing else:
    nats sub --creds observer-N.creds 'gov.obs.>'
  client: the operator CLI's rights (ask services and actors, read the feed).
`,
    run: async (a) => (await import('./command-credentials.ts')).commandCreds(a),
  },
  {
    name: 'nats',
    summary: 'write an operator-mode nats-server config for a server the system does not start (compose)',
    usage: `agov nats init --config-dir DIR [--store-dir DIR] [--port N] [--http-port N]

  Creates (or keeps) the NATS keys under <data dir>/nats-auth and writes DIR/nats-server.conf and
  DIR/operator.jwt (public JWTs only): run the server with \`nats-server -c DIR/nats-server.conf\` and the
  system with NATS_URL and the same data dir (docs/security.md, compose.yaml).
`,
    run: async (a) => (await import('./command-nats.ts')).commandNats(a),
  },
  {
    name: 'teams',
    summary: 'the live supervision tree: each actor’s state and restarts (NATS_URL)',
    usage: `agov teams [--json] [--root ID] [--depth N | --all]

  The live supervision tree under supervisor ID (default root), with each actor's state and restarts.
  Nested supervisors (teams) show the counts of their subtree; --depth N lists N levels of them in
  full (default 0), --all every level. Read page by page: any fleet size works.
`,
    run: async (a) => (await import('./command-teams.ts')).commandTeams(a),
  },
  {
    name: 'ledger',
    summary: 'read and check the audit ledger file: verify, prove, consistency, tail, query',
    usage: async () => (await import('./command-ledger.ts')).LEDGER_USAGE,
    run: async (a) => (await import('./command-ledger.ts')).commandLedger(a),
  },
  {
    name: 'evidence',
    summary: 'export a run’s evidence package, or verify one offline',
    usage: async () => (await import('./command-evidence.ts')).EVIDENCE_USAGE,
    run: async (a) => (await import('./command-evidence.ts')).commandEvidence(a),
  },
  {
    name: 'validate',
    summary: 'check pipeline files; prints file:line:column: error[code]: message',
    usage: `agov validate FILE...

  Checks pipeline files. Prints each problem as file:line:column: error[code]: message and FILE: ok
  for a clean file; exits 1 when any file has an error.
`,
    run: async (a) => (await import('./command-validate.ts')).commandValidate(a),
  },
  {
    name: 'run',
    summary: 'run a pipeline and follow it (embedded system when NATS_URL is unset)',
    usage: `agov run FILE [--param k=v]... [--detach] [--plain] [--tier T]

  With NATS_URL set, submits FILE to the system running there; without it, starts the whole system
  as \`agov up\` does, runs the pipeline and stops again. Follows the run on the feed and exits 0 only
  when it succeeded. Before anything starts, the pipeline's effective tier is computed as the gateway
  and the orchestrator do (its stages, templates, child pipelines, diagnostic, token policies); a
  \`root\` policy, a path reference or a tier above --tier is refused (exit 1).

  -p, --param k=v  a pipeline parameter (repeatable)
  --detach         print the run id and return at once (needs NATS_URL)
  --plain          plain lines instead of progress bars
  --tier T         submit as tier T (T0, T1, T2; default T2, the operator); the orchestrator checks it too
`,
    run: async (a) => (await import('./command-run.ts')).commandRun(a),
  },
  {
    name: 'runs',
    summary: 'recent pipeline runs, newest first',
    usage: `agov runs [--status S] [--limit N] [--json]
agov runs cancel|pause|resume RUN_ID [--reason R] [--json]

  With a verb: an operator control (T2, audited). pause stops new dispatches of the run until resume.
`,
    run: async (a) =>
      (await import('./command-control.ts')).isControlVerb('run', a)
        ? (await import('./command-control.ts')).commandControl('run', a)
        : (await import('./command-run.ts')).commandRuns(a),
  },
  {
    name: 'budget',
    summary: "a run's error budget: show it, or reset it (T2)",
    usage: `agov budget show|reset RUN_ID [--reason R] [--json]

  show: the budget's verdict and windows (T0). reset: forgets the run's counted outcomes (T2, audited).
`,
    run: async (a) => (await import('./command-control.ts')).commandControl('budget', a),
  },
  {
    name: 'report',
    summary: "report an error or a success against the error budget of this task's run (PIPELINE_ID)",
    usage: `agov report error|ok [--message M] [--code C]

  In an exec task: appends the report to $AGOV_REPORT_FILE; the agent hands it on with the task's
  result and the orchestrator counts it against the task's own run. Elsewhere: POST
  $AGOV_HTTP_URL/api/pipeline/errors with $AGOV_API_KEY (T1+) for the run PIPELINE_ID.
`,
    run: async (a) => (await import('./command-report.ts')).commandReport(a),
  },
  {
    name: 'tokens',
    summary: "revoke a run's token and its children (T2)",
    usage: `agov tokens revoke RUN_ID [--reason R] [--json]

  Revokes the run token and every child token of the run (T2, audited).
`,
    run: async (a) => (await import('./command-control.ts')).commandControl('token', a),
  },
  {
    name: 'run-status',
    summary: 'one run and its stages (exit 0 succeeded, 1 failed/cancelled, 3 running)',
    usage: `agov run-status RUN_ID [--json]
`,
    run: async (a) => (await import('./command-run.ts')).commandRunStatus(a),
  },
  {
    name: 'chaos',
    summary: 'fault injection against a whole system, with invariant verdicts',
    usage: `agov chaos list
agov chaos run SCENARIO [--seed N] [--duration MS] [--runs N] [--json]

  Starts a whole system from nothing, injects the scenario's faults while pipelines run, and prints
  what was injected, what recovered and how fast, and the invariant verdicts. Exit 0 only if all hold.
`,
    run: async (a) => (await import('./command-chaos.ts')).commandChaos(a),
  },
  {
    name: 'checkpoint',
    summary: 'snapshots to resume from: now, load [--restore], report, timeline (NATS_URL)',
    usage: async () => (await import('./command-checkpoint.ts')).CHECKPOINT_USAGE,
    run: async (a) => (await import('./command-checkpoint.ts')).commandCheckpoint(a),
  },
  {
    name: 'status',
    summary: 'work status per target (directory, repository, service): update, sweep, dashboard (NATS_URL)',
    usage: async () => (await import('./command-status.ts')).STATUS_USAGE,
    run: async (a) => (await import('./command-status.ts')).commandStatus(a),
  },
  {
    name: 'memory',
    summary: 'external memory, content-addressed blobs with summaries: log, fetch, list, stats (NATS_URL)',
    usage: async () => (await import('./command-memory.ts')).MEMORY_USAGE,
    run: async (a) => (await import('./command-memory.ts')).commandMemory(a),
  },
];

/** `agov --help`: every command with its one line. */
export function overview(commands: readonly CommandDef[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return `agov <command> [options]

Commands:
${lines.join('\n')}
  ${'help'.padEnd(width)}this text (also --help, -h)

\`agov <command> --help\` explains one command.
`;
}

/** True when argv asks for help: `--help` or `-h` anywhere before a `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

export async function usageOf(def: CommandDef): Promise<string> {
  return typeof def.usage === 'string' ? def.usage : def.usage();
}
