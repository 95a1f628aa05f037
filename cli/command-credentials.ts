/**
 * Credentials for what runs outside the system, minted from the keys under `<data dir>/nats-auth`
 * (so only the operator of this machine, who can read them, can mint):
 *
 * - `agov agent enroll --id ID --tier T [--team T] [--out FILE] [--ttl-hours N]`: an external agent's
 *   `.creds` file, with its tier's permissions (docs/security.md); the enrolment is recorded
 *   (`enrolled.json`: id, tier, team, public key, expiry — never the seed) for revocation;
 * - `agov agent revoke --id ID`: revokes every credential enrolled for ID, on the running system too
 *   (NATS_URL) — its connections are dropped at once and it cannot connect again;
 * - `agov creds observer [--name N] [--out FILE]`: a read-only credential for the JSON feed
 *   (`nats sub --creds FILE 'gov.obs.>'`);
 * - `agov creds client [--name N] [--out FILE]`: the operator CLI's rights (ask services, read the feed).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR, readEnvironment } from '../infra/environment.ts';
import {
  ClaimsPusher,
  loadOrCreateNatsAuthority,
  type MintedUser,
  mintUser,
} from '../infra/nats-auth/index.ts';
import { NATS_AUTH_DIR } from '../infra/services.ts';
import { ConfigError } from '../protocols/vocabulary/errors.ts';
import type { Principal } from '../protocols/permissions.ts';
import { isTier } from '../protocols/vocabulary/tiers.ts';

export const ENROLLED_FILE = 'enrolled.json';
/** External agents' credentials last a week unless asked otherwise; enroll again to renew. */
export const DEFAULT_ENROLL_TTL_HOURS = 24 * 7;

interface Enrolment {
  id: string;
  tier: string;
  team?: string;
  publicKey: string;
  issuedAt: string;
  expiresAt: string;
  revoked?: boolean;
}

function authDir(): string {
  return join(resolve(readEnvironment().dataDir ?? DEFAULT_DATA_DIR), NATS_AUTH_DIR);
}

function readEnrolled(dir: string): Enrolment[] {
  const file = join(dir, ENROLLED_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Enrolment[]) : [];
}

function writeEnrolled(dir: string, list: Enrolment[]): void {
  writeFileSync(join(dir, ENROLLED_FILE), `${JSON.stringify(list, null, 1)}\n`, { mode: 0o600 });
}

function writeCreds(user: MintedUser, out: string | undefined): string {
  const file = resolve(out ?? `${user.name}.creds`);
  writeFileSync(file, user.creds, { mode: 0o600 });
  return file;
}

export async function commandAgent(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      id: { type: 'string' },
      tier: { type: 'string' },
      team: { type: 'string' },
      out: { type: 'string' },
      'ttl-hours': { type: 'string' },
    },
  });
  const sub = positionals[0];
  if (!values.id) throw new ConfigError('agov agent enroll|revoke needs --id');
  const dir = authDir();
  const authority = await loadOrCreateNatsAuthority(dir);
  if (sub === 'enroll') {
    if (!isTier(values.tier)) throw new ConfigError('agov agent enroll needs --tier T0|T1|T2');
    const ttlHours = Number(values['ttl-hours'] ?? DEFAULT_ENROLL_TTL_HOURS);
    if (!(ttlHours > 0)) throw new ConfigError('--ttl-hours must be a positive number');
    const principal: Principal = { role: 'agent', id: values.id, tier: values.tier };
    const user = await mintUser(authority, principal, { ttlMs: ttlHours * 3_600_000 });
    const file = writeCreds(user, values.out);
    writeEnrolled(dir, [
      ...readEnrolled(dir),
      {
        id: values.id,
        tier: values.tier,
        ...(values.team ? { team: values.team } : {}),
        publicKey: user.publicKey,
        issuedAt: new Date().toISOString(),
        expiresAt: new Date(user.expiresAtMs).toISOString(),
      },
    ]);
    process.stdout.write(
      `enrolled agent ${values.id} (${values.tier}): ${file}\n  connect with inboxPrefix ${user.inboxPrefix}; expires ${new Date(user.expiresAtMs).toISOString()}\n`,
    );
    return 0;
  }
  if (sub === 'revoke') {
    const list = readEnrolled(dir);
    const revoked = list
      .filter((e) => e.id === values.id && !e.revoked)
      .map((e) => ({ publicKey: e.publicKey, expiresAtMs: Date.parse(e.expiresAt) }));
    const keys = revoked.map((e) => e.publicKey);
    if (keys.length === 0) throw new ConfigError(`no credential of agent ${values.id} to revoke`);
    const natsUrl = readEnvironment().natsUrl;
    if (natsUrl) {
      const pusher = await ClaimsPusher.connect(natsUrl, authority);
      try {
        await pusher.revoke(revoked);
      } finally {
        await pusher.close();
      }
    } else {
      const { revokeUsers, saveRevocations } = await import('../infra/nats-auth/authority.ts');
      await revokeUsers(authority, revoked);
      await saveRevocations(authority);
    }
    writeEnrolled(
      dir,
      list.map((e) => (keys.includes(e.publicKey) ? { ...e, revoked: true } : e)),
    );
    process.stdout.write(
      `revoked ${keys.length} credential(s) of agent ${values.id}${natsUrl ? ` on ${natsUrl}` : ' (applies at the next start)'}\n`,
    );
    return 0;
  }
  throw new ConfigError('usage: agov agent enroll --id ID --tier T [--team T] [--out FILE] | revoke --id ID');
}

export async function commandCreds(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, out: { type: 'string' } },
  });
  const role = positionals[0];
  if (role !== 'observer' && role !== 'client')
    throw new ConfigError('usage: agov creds observer|client [--name N] [--out FILE]');
  const authority = await loadOrCreateNatsAuthority(authDir());
  const user = await mintUser(authority, { role, name: values.name ?? role });
  const file = writeCreds(user, values.out);
  process.stdout.write(`${role} credential: ${file}  (inboxPrefix ${user.inboxPrefix})\n`);
  return 0;
}
