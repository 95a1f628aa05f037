/**
 * The NATS credential of a CLI process that joins a running system (NATS_URL), registered as this
 * process's default for that server (infra/nats-auth/local-credentials.ts), first found wins:
 * 1. `AGOV_NATS_CREDS`: `.creds` text, how a supervisor hands a process child its own credential.
 *    With it, a supervisor process gets `AGOV_NATS_ISSUER_SEED`, the key it mints its own children's
 *    credentials with. Both are removed from this process's environment once read, so nothing it
 *    starts (a task, a child) inherits them;
 * 2. `NATS_CREDS`: a `.creds` file path (as the `nats` CLI takes it);
 * 3. `<AGOV_DATA_DIR>/nats-auth/cli.creds`: the operator's client credential `agov up` writes for
 *    the local user (mode 0600).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Environment } from '../infra/environment.ts';
import { parseCredsText, registerDefaultCredentials, registerIssuerSeed } from '../infra/nats-auth/index.ts';
import { CLI_CREDS_FILE, DEFAULT_DATA_DIR, NATS_AUTH_DIR } from '../infra/services.ts';
import type { ConnectionFile } from './connection-file.ts';

/** Registers the client credential a running system's connection file names, for its NATS URL. */
export function registerSystemCredentials(c: ConnectionFile): void {
  const file = c.credentials.natsCreds;
  if (file && existsSync(file))
    registerDefaultCredentials(c.natsUrl, parseCredsText(readFileSync(file, 'utf8')));
}

export function registerCliCredentials(env: Environment, processEnv: NodeJS.ProcessEnv): void {
  delete processEnv.AGOV_NATS_CREDS;
  delete processEnv.AGOV_NATS_ISSUER_SEED;
  const servers = env.natsUrl;
  if (!servers) return;
  if (env.natsIssuerSeed) registerIssuerSeed(servers, env.natsIssuerSeed);
  if (env.natsCreds) {
    registerDefaultCredentials(servers, parseCredsText(env.natsCreds));
    return;
  }
  const file =
    env.natsCredsFile ?? join(resolve(env.dataDir ?? DEFAULT_DATA_DIR), NATS_AUTH_DIR, CLI_CREDS_FILE);
  if (existsSync(file)) registerDefaultCredentials(servers, parseCredsText(readFileSync(file, 'utf8')));
}
