import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR, readEnvironment } from '../infra/environment.ts';
import { ConfigError } from '../protocols/vocabulary/errors.ts';
import { connectionFilePath, isRunning, readConnectionFile, shellExports } from './connection-file.ts';

/**
 * `agov env [--data-dir DIR] [--json]`: prints the connection file of the system running on DIR as
 * shell exports (`eval "$(agov env)"`), or the file itself. Exits 1 when none runs there.
 */
export async function commandEnv(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
  });
  const dataDir = values['data-dir'] ?? readEnvironment().dataDir ?? DEFAULT_DATA_DIR;
  let c: ReturnType<typeof readConnectionFile>;
  try {
    c = readConnectionFile(dataDir);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`agov env: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (!isRunning(c.pid)) {
    process.stderr.write(
      `agov env: ${connectionFilePath(dataDir)} is stale: process ${c.pid} no longer runs (start one with \`agov up\`)\n`,
    );
    return 1;
  }
  process.stdout.write(values.json ? `${JSON.stringify(c, null, 2)}\n` : `${shellExports(c)}\n`);
  return 0;
}
