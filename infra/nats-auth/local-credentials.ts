/**
 * Credentials a process holds for the servers it knows, so that connections opened without explicit
 * credentials still authenticate (there is no anonymous user on any server the project starts):
 *
 * - a process that started a server, or holds the system's keys, registers that server's
 *   authority: it can mint per-actor credentials (supervisors mint one per child) and connects
 *   as `admin` by default;
 * - any other process registers the one credential it was given (`NATS_CREDS`, `AGOV_NATS_CREDS`),
 *   which is then its default for that server.
 *
 * Keyed by the server URL list as given to `Bus.connect`.
 */
import type { Principal } from '../../protocols/permissions.ts';
import { fromSeed } from '@nats-io/jwt';
import { fastKeyPair } from './fast-signing.ts';
import { type MintedUser, mintUser, type UserIssuer } from './authority.ts';

export interface JwtCredentials {
  kind: 'jwt';
  jwt: string;
  seed: string;
}

const authorities = new Map<string, UserIssuer>();
const defaults = new Map<string, JwtCredentials | Promise<JwtCredentials>>();

const key = (servers: string) =>
  servers
    .split(',')
    .map((s) => s.trim())
    .sort()
    .join(',');

/** This process holds the keys of `servers`' operator: it may mint for it. */
export function registerAuthority(servers: string, authority: UserIssuer): void {
  authorities.set(key(servers), authority);
  defaults.delete(key(servers));
}

export function authorityFor(servers: string): UserIssuer | undefined {
  return authorities.get(key(servers));
}

/** This process connects to `servers` with `creds` unless told otherwise. */
export function registerDefaultCredentials(servers: string, creds: JwtCredentials): void {
  defaults.set(key(servers), creds);
}

export function forgetServer(servers: string): void {
  authorities.delete(key(servers));
  defaults.delete(key(servers));
}

/** Mints for `principal` on `servers` when this process holds the authority; else undefined. */
export async function mintLocal(
  servers: string,
  principal: Principal,
  options: { ttlMs?: number } = {},
): Promise<MintedUser | undefined> {
  const authority = authorityFor(servers);
  return authority ? mintUser(authority, principal, options) : undefined;
}

/** The credentials a connection to `servers` uses when none are given. */
export async function defaultCredentialsFor(servers: string): Promise<JwtCredentials | undefined> {
  const k = key(servers);
  const known = defaults.get(k);
  if (known) return known;
  const authority = authorities.get(k);
  if (!authority) return undefined;
  const minted = mintUser(authority, { role: 'admin', name: `pid${process.pid}` }).then(
    (u): JwtCredentials => ({ kind: 'jwt', jwt: u.jwt, seed: u.seed }),
  );
  defaults.set(k, minted);
  return minted;
}

/** Parses `.creds` file text (a user JWT and its nkey seed between the usual markers). */
export function parseCredsText(text: string): JwtCredentials {
  const blocks = [...text.matchAll(/-{3,}[^\n]*-{3,}\s*\n([\s\S]*?)\n\s*-{3,}[^\n]*END[^\n]*-{3,}/g)].map(
    (m) => m[1]!.trim(),
  );
  const jwt = blocks.find((b) => b.startsWith('ey'));
  const seed = blocks.find((b) => b.startsWith('SU'));
  if (!jwt || !seed) throw new Error('not a NATS .creds file: a user JWT and a user seed (SU…) are expected');
  return { kind: 'jwt', jwt, seed };
}

/** The `.creds` file text of a user JWT and its seed (the layout `nats` and nats.js read). */
export function formatCredsText(creds: JwtCredentials): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    creds.jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    creds.seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join('\n');
}

/** The issuer's seed, handed to a supervisor process so it can mint for its own children. */
export function issuerSeedFor(servers: string): string | undefined {
  const issuer = authorityFor(servers);
  return issuer ? new TextDecoder().decode(issuer.account.getSeed()) : undefined;
}

export function registerIssuerSeed(servers: string, seed: string): void {
  registerAuthority(servers, { account: fastKeyPair(fromSeed(new TextEncoder().encode(seed))) });
}
