/**
 * `agov`: the command line of agent-governance. Each subcommand lives in its own module; the table of
 * commands, their one-line summaries and their usage texts is cli/commands.ts.
 */
import { readEnvironment } from '../infra/environment.ts';
import { GovError, toGovError } from '../protocols/index.ts';
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
  const { registerCliCredentials } = await import('./cli-credentials.ts');
  registerCliCredentials(readEnvironment(), process.env);
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
