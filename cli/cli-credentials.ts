/**
 * The NATS credential of a CLI process that joins a running system (NATS_URL), registered as this
 * process's default for that server (infra/nats-auth/local-credentials.ts), first found wins:
 * 1. `AGOV_NATS_CREDS`: `.creds` text, how a supervisor hands a process child its own credential
 *    (removed from the environment once read, so nothing this process starts inherits it);
 *    With it, a supervisor process gets `AGOV_NATS_ISSUER_SEED`, the key it mints its own children's
 *    credentials with (removed likewise);
 * 2. `NATS_CREDS`: a `.creds` file path (as the `nats` CLI takes it);
 * 3. `<AGOV_DATA_DIR>/nats-auth/cli.creds`: the operator's client credential `agov up` writes for
 *    the local user (mode 0600).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CLI_CREDS_FILE, DEFAULT_DATA_DIR, NATS_AUTH_DIR } from '../infra/services.ts';
import { parseCredsText, registerDefaultCredentials, registerIssuerSeed } from '../infra/nats-auth/index.ts';

export function registerCliCredentials(env: NodeJS.ProcessEnv = process.env): void {
  const servers = env.NATS_URL;
  const inline = env.AGOV_NATS_CREDS;
  const issuerSeed = env.AGOV_NATS_ISSUER_SEED;
  delete env.AGOV_NATS_CREDS;
  delete env.AGOV_NATS_ISSUER_SEED;
  if (!servers) return;
  if (issuerSeed) registerIssuerSeed(servers, issuerSeed);
  if (inline) {
    registerDefaultCredentials(servers, parseCredsText(inline));
    return;
  }
  const file =
    env.NATS_CREDS || join(resolve(env.AGOV_DATA_DIR ?? DEFAULT_DATA_DIR), NATS_AUTH_DIR, CLI_CREDS_FILE);
  if (existsSync(file)) registerDefaultCredentials(servers, parseCredsText(readFileSync(file, 'utf8')));
}
