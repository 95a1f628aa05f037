/**
 * `agov nats init --config-dir DIR [--store-dir DIR] [--port N] [--http-port N]`: the configuration of
 * a nats-server the system does not start itself (compose.yaml, a host's own service), in operator
 * mode like every server of the project (docs/security.md). Keys are created under
 * `<data dir>/nats-auth` on first use (or kept), and DIR gets `nats-server.conf` and `operator.jwt`:
 * public JWTs only, no seed. Run it again after `agov agent revoke` while the server is down: the
 * account JWT in the config carries the saved revocations (a running server gets them over `$SYS`).
 *
 * The system started with `NATS_URL` and the same data directory finds the keys there and mints every
 * actor's credential from them (infra/services.ts).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR, readEnvironment } from '../infra/environment.ts';
import { loadOrCreateNatsAuthority, mintUser, operatorModeConfig } from '../infra/nats-auth/index.ts';
import { CLI_CREDS_FILE, NATS_AUTH_DIR } from '../infra/services.ts';
import { ConfigError } from '../protocols/vocabulary/errors.ts';

export const DEFAULT_NATS_CLIENT_PORT = 4222;
export const DEFAULT_NATS_HTTP_PORT = 8222;
export const DEFAULT_NATS_STORE_DIR = '/data';

export async function commandNats(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'config-dir': { type: 'string' },
      'store-dir': { type: 'string' },
      port: { type: 'string' },
      'http-port': { type: 'string' },
    },
  });
  if (positionals[0] !== 'init') throw new ConfigError('usage: agov nats init --config-dir DIR');
  const configDir = values['config-dir'];
  if (!configDir) throw new ConfigError('agov nats init needs --config-dir');
  const port = Number(values.port ?? DEFAULT_NATS_CLIENT_PORT);
  const httpPort = Number(values['http-port'] ?? DEFAULT_NATS_HTTP_PORT);
  if (!Number.isInteger(port) || !Number.isInteger(httpPort))
    throw new ConfigError('agov nats init: --port and --http-port are port numbers');
  const dataDir = resolve(readEnvironment().dataDir ?? DEFAULT_DATA_DIR);
  const authDir = join(dataDir, NATS_AUTH_DIR);
  const authority = await loadOrCreateNatsAuthority(authDir);
  const dir = resolve(configDir);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nats-server.conf');
  writeFileSync(
    conf,
    [
      '# Written by `agov nats init`: operator mode (docs/security.md). No anonymous user; no secret here.',
      `port: ${port}`,
      `http_port: ${httpPort}`,
      `jetstream { store_dir: ${JSON.stringify(values['store-dir'] ?? DEFAULT_NATS_STORE_DIR)} }`,
      'max_payload: 8MB',
      operatorModeConfig(authority, dir),
      '',
    ].join('\n'),
    // Read by the nats-server container's user; it holds public JWTs only.
    { mode: 0o644 },
  );
  chmodSync(conf, 0o644);
  chmodSync(join(dir, 'operator.jwt'), 0o644);
  const cli = await mintUser(authority, { role: 'client', name: 'cli' });
  writeFileSync(join(authDir, CLI_CREDS_FILE), cli.creds, { mode: 0o600 });
  process.stdout.write(`wrote ${conf} (keys in ${authDir}, operator CLI credential ${CLI_CREDS_FILE})\n`);
  return 0;
}
