/**
 * The one place environment variables are read. Entry points (the CLI commands, the chaos runner,
 * benches) call {@link readEnvironment} once and hand the values on: to `startSystem`, to an actor's
 * start arguments, to a child's spec. Nothing below an entry point reads `process.env`; a child gets
 * its settings through its child spec (in-host: its args; a process: its args and the `env` of its spec).
 *
 * | variable | meaning |
 * | --- | --- |
 * | `NATS_URL`, `REDIS_URL`, `VAULT_ADDR` + `VAULT_TOKEN` | use these services instead of embedded ones |
 * | `NATS_CREDS` | a `.creds` file: the NATS credential a CLI process joins NATS_URL with |
 * | `AGOV_NATS_CREDS` | `.creds` text a process supervisor gives its child (removed once read) |
 * | `AGOV_NATS_ISSUER_SEED` | the key a supervisor process mints its children's credentials with (removed once read) |
 * | `AGOV_DATA_DIR` | the data folder (default `.data`) |
 * | `AGOV_TEAMS` | the teams file `agov up` / `agov run` start |
 * | `AGOV_HTTP_PORT`, `AGOV_HTTP_HOST` | the gateway's listen address |
 * | `AGOV_API_KEYS`, `AGOV_API_KEYS_FILE`, `AGOV_METRICS_KEY` | the gateway's keys |
 * | `AGOV_LEDGER_KEY` | the ledger's signing key |
 * | `AGOV_LEDGER_KEY_FINGERPRINT` | the ledger key `agov ledger` / `agov evidence` pin when not told |
 * | `AGOV_ACTOR_ARGS` | start arguments (JSON) a process supervisor gives `agov actor` |
 * | `AGOV_EXIT_WITH_PARENT` | `1`: `agov actor` exits when its parent's stdin pipe closes |
 * | `AGOV_NO_BUNDLE` | `1`: process children run from the TypeScript sources, not `dist/` |
 * | `LOG_LEVEL` | debug, info, warn (default), error, silent |
 * | `PIPELINE_ID` | the run a task belongs to (set for tasks): `agov memory log` and `agov status update` record it |
 * | `PARENT_PIPELINE_ID` | the run that started the task's run (set for tasks; empty for a top-level run) |
 * | `AGOV_REPORT_FILE` | set for exec tasks: where `agov report` appends the task's outcome reports |
 * | `AGOV_HTTP_URL`, `AGOV_API_KEY` | the gateway and a key, for `agov report` outside a task |
 * | `BENCH_VERBOSE` | benches print their samples |
 */

/** Data folder when AGOV_DATA_DIR is not set. */
export const DEFAULT_DATA_DIR = '.data';

export interface Environment {
  natsUrl?: string;
  redisUrl?: string;
  vaultAddr?: string;
  vaultToken?: string;
  natsCredsFile?: string;
  natsCreds?: string;
  natsIssuerSeed?: string;
  dataDir?: string;
  teamsFile?: string;
  httpPort?: string;
  httpHost?: string;
  apiKeys?: string;
  apiKeysFile?: string;
  metricsKey?: string;
  ledgerKey?: string;
  ledgerKeyFingerprint?: string;
  actorArgsJson?: string;
  exitWithParent: boolean;
  noBundle: boolean;
  logLevel?: string;
  pipelineId?: string;
  parentPipelineId?: string;
  reportFile?: string;
  httpUrl?: string;
  apiKey?: string;
  benchVerbose: boolean;
  /** The executable search path (to find nats-server, redis-server, bwrap). */
  path?: string;
}

/** An empty variable counts as unset. */
const value = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);

/** Reads the variables this system knows (see the table above). */
export function readEnvironment(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Environment {
  return {
    natsUrl: value(env.NATS_URL),
    redisUrl: value(env.REDIS_URL),
    vaultAddr: value(env.VAULT_ADDR),
    vaultToken: value(env.VAULT_TOKEN),
    natsCredsFile: value(env.NATS_CREDS),
    natsCreds: value(env.AGOV_NATS_CREDS),
    natsIssuerSeed: value(env.AGOV_NATS_ISSUER_SEED),
    dataDir: value(env.AGOV_DATA_DIR),
    teamsFile: value(env.AGOV_TEAMS),
    httpPort: value(env.AGOV_HTTP_PORT),
    httpHost: value(env.AGOV_HTTP_HOST),
    apiKeys: value(env.AGOV_API_KEYS),
    apiKeysFile: value(env.AGOV_API_KEYS_FILE),
    metricsKey: value(env.AGOV_METRICS_KEY),
    ledgerKey: value(env.AGOV_LEDGER_KEY),
    ledgerKeyFingerprint: value(env.AGOV_LEDGER_KEY_FINGERPRINT),
    actorArgsJson: value(env.AGOV_ACTOR_ARGS),
    exitWithParent: env.AGOV_EXIT_WITH_PARENT === '1',
    noBundle: env.AGOV_NO_BUNDLE === '1',
    logLevel: value(env.LOG_LEVEL),
    pipelineId: value(env.PIPELINE_ID),
    parentPipelineId: value(env.PARENT_PIPELINE_ID),
    reportFile: value(env.AGOV_REPORT_FILE),
    httpUrl: value(env.AGOV_HTTP_URL),
    apiKey: value(env.AGOV_API_KEY),
    benchVerbose: value(env.BENCH_VERBOSE) !== undefined,
    path: value(env.PATH),
  };
}

/**
 * The environment a child process starts with: this process's own (PATH, HOME, LOG_LEVEL…), then
 * what its spec gives it. Copying is not reading: nothing here interprets the inherited values.
 */
export function childEnvironment(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
  return Object.assign(out, extra);
}
