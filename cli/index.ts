/**
 * `agov`: the command line of agent-governance. Each subcommand lives in its own module; the table of
 * commands, their one-line summaries and their usage texts is cli/commands.ts.
 */
import { readEnvironment } from '../infra/environment.ts';
import { GovError, toGovError } from '../protocols/vocabulary/errors.ts';
import { COMMANDS, overview, usageOf, wantsHelp } from './commands.ts';

async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    const def = COMMANDS.find((c) => c.name === rest[0]);
    process.stdout.write(def ? await usageOf(def) : overview());
    return 0;
  }
  const def = COMMANDS.find((c) => c.name === name);
  if (!def) {
    process.stderr.write(`agov: unknown command ${JSON.stringify(name)}\n\n${overview()}`);
    return 2;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(await usageOf(def));
    return 0;
  }
  const env = readEnvironment();
  // Only a process that may join a running system needs its credential (and must scrub it from its
  // environment); loading the NATS auth code
  // costs about 0.1 s of CPU, which commands that need no system (help, validate, env) do not pay.
  if (env.natsUrl || env.natsCreds || env.natsIssuerSeed)
    (await import('./cli-credentials.ts')).registerCliCredentials(env, process.env);
  return def.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = toGovError(err);
    process.stderr.write(`agov: error[${e.code}]: ${e.message}\n`);
    process.exit(e instanceof GovError && e.code === 'GOV_ERR_CONFIG' ? 2 : 1);
  },
);
