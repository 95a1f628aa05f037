/**
 * The keys of a NATS deployment in operator mode (decentralized auth): an operator, the system
 * account (`$SYS`: server events, claim updates) and the application account every actor lives in.
 * Users are not known to the server: a user JWT signed by the application account is proof enough,
 * so credentials are minted here without touching the server's configuration.
 *
 * Revoking a user adds its public key to the account JWT's `revocations` (re-signed by the operator)
 * and pushes the new account JWT to the server: `$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE` with the
 * system account's user (credential-authority) or a rewritten preload + reload (nats-server.ts).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  fromSeed,
  type KeyPair,
} from '@nats-io/jwt';
import { fastKeyPair } from './fast-signing.ts';
import { type Principal, inboxPrefixOf, permissionsFor, principalName } from '../../protocols/permissions.ts';

/** JetStream enabled with no limits in the application account (the operator sets quotas in production). */
const UNLIMITED_JETSTREAM = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

/** Lifetime of a minted user credential when none is asked for; renewed before it ends. */
export const DEFAULT_USER_CREDS_TTL_MS = 24 * 60 * 60 * 1000;

/** How long a request's responder may answer (the `resp` permission): asks time out well before. */
export const DEFAULT_RESPONSE_WINDOW_MS = 10 * 60 * 1000;

export interface NatsAuthority {
  readonly operator: KeyPair;
  readonly system: KeyPair;
  readonly account: KeyPair;
  readonly operatorJwt: string;
  readonly systemJwt: string;
  /** The application account's JWT as last signed (with the current revocations). */
  accountJwt: string;
  /** Revoked user public keys → revocation time (unix seconds): users issued before it are refused. */
  readonly revocations: Record<string, number>;
  /**
   * When each revoked user's JWT expires (unix ms), where known: past that (and a clock-skew margin)
   * the server refuses the JWT by itself, so its revocation is pruned from the account JWT.
   */
  readonly revocationExpiry: Record<string, number>;
  /** Where the keys are kept (absent: in memory only). Revocations are saved there. */
  readonly dir?: string;
}

/** What minting users needs: the application account's key (an account signing key in production). */
export type UserIssuer = Pick<NatsAuthority, 'account'>;

/** A minted user: its JWT, its nkey seed, and what a connection needs. Public key identifies it. */
export interface MintedUser {
  readonly name: string;
  readonly publicKey: string;
  readonly jwt: string;
  readonly seed: string;
  readonly inboxPrefix: string;
  /** Unix ms when the JWT expires. */
  readonly expiresAtMs: number;
  /** The `.creds` file text (nats CLI, nats.js `credsAuthenticator`). */
  readonly creds: string;
}

const ACCOUNT_NAME = 'AGOV';

async function signAccount(
  operator: KeyPair,
  account: KeyPair,
  revocations: Record<string, number>,
): Promise<string> {
  return encodeAccount(
    ACCOUNT_NAME,
    account,
    {
      limits: { ...UNLIMITED_JETSTREAM, conn: -1, subs: -1, data: -1, payload: -1 },
      ...(Object.keys(revocations).length ? { revocations: { ...revocations } } : {}),
    },
    { signer: operator },
  );
}

async function assemble(
  operatorKey: KeyPair,
  systemKey: KeyPair,
  accountKey: KeyPair,
  revocations: Record<string, number> = {},
  expiry: Record<string, number> = {},
): Promise<NatsAuthority> {
  const [operator, system, account] = [operatorKey, systemKey, accountKey].map(fastKeyPair) as [
    KeyPair,
    KeyPair,
    KeyPair,
  ];
  const operatorJwt = await encodeOperator('agov', operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount(
    'SYS',
    system,
    { limits: { conn: -1, subs: -1, data: -1, payload: -1 } },
    { signer: operator },
  );
  const accountJwt = await signAccount(operator, account, revocations);
  return {
    operator,
    system,
    account,
    operatorJwt,
    systemJwt,
    accountJwt,
    revocations,
    revocationExpiry: { ...expiry },
  };
}

/** A fresh authority in memory (tests, benches, a throwaway embedded server). */
export function createNatsAuthority(): Promise<NatsAuthority> {
  return assemble(createOperator(), createAccount(), createAccount());
}

const SEED_FILES = { operator: 'operator.nk', system: 'system-account.nk', account: 'account.nk' } as const;

/**
 * The authority kept under `dir` (created on first use): three nkey seeds, each mode 0600 in a 0700
 * folder, readable only by the user the system runs as — never by a sandboxed task (another uid).
 */
export async function loadOrCreateNatsAuthority(dir: string): Promise<NatsAuthority> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const load = (file: string, create: () => KeyPair): KeyPair => {
    const path = join(dir, file);
    if (existsSync(path)) return fromSeed(new TextEncoder().encode(readFileSync(path, 'utf8').trim()));
    const kp = create();
    writeFileSync(path, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
    return kp;
  };
  const saved = readRevocations(join(dir, REVOCATIONS_FILE));
  pruneRevocations(saved.revoked, saved.expires, Date.now());
  const authority = await assemble(
    load(SEED_FILES.operator, createOperator),
    load(SEED_FILES.system, createAccount),
    load(SEED_FILES.account, createAccount),
    saved.revoked,
    saved.expires,
  );
  return Object.assign(authority, { dir });
}

/**
 * Revoked user keys survive a restart: the account JWT is signed with them at every start. The file is
 * `{ v: 2, revoked: {key: unix s}, expires: {key: unix ms} }` (version 1, still read, was the bare
 * `revoked` map).
 */
export const REVOCATIONS_FILE = 'revocations.json';

/**
 * A revocation is kept this long past its user JWT's expiry before it is pruned: the server checks
 * `exp` with its own clock, which may lag ours.
 */
export const DEFAULT_REVOCATION_PRUNE_SKEW_MS = 5 * 60 * 1000;

function readRevocations(file: string): { revoked: Record<string, number>; expires: Record<string, number> } {
  if (!existsSync(file)) return { revoked: {}, expires: {} };
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (raw.v === 2)
    return {
      revoked: { ...(raw.revoked as Record<string, number>) },
      expires: { ...(raw.expires as Record<string, number>) },
    };
  return { revoked: raw as Record<string, number>, expires: {} };
}

/** Drops the revocations of users whose JWTs have expired (with the skew margin); returns how many. */
export function pruneRevocations(
  revoked: Record<string, number>,
  expires: Record<string, number>,
  nowMs: number,
  skewMs = DEFAULT_REVOCATION_PRUNE_SKEW_MS,
): number {
  let pruned = 0;
  for (const [key, exp] of Object.entries(expires)) {
    if (exp + skewMs > nowMs) continue;
    delete revoked[key];
    delete expires[key];
    pruned++;
  }
  return pruned;
}

/** A user to revoke: its public key, and when its JWT expires if known (then it is pruned after). */
export type RevokedUser = string | { publicKey: string; expiresAtMs?: number };

/**
 * Signs a user JWT for the nkey `publicKey` (the holder keeps its seed) with `principal`'s permissions
 * from protocols/permissions.ts: what the credential authority answers, no secret involved.
 */
export async function signUser(
  authority: UserIssuer,
  principal: Principal,
  publicKey: string,
  options: { ttlMs?: number; nowMs?: number } = {},
): Promise<{ name: string; jwt: string; expiresAtMs: number }> {
  const name = principalName(principal);
  const grant = permissionsFor(principal);
  const nowMs = options.nowMs ?? Date.now();
  const expiresAtMs = nowMs + (options.ttlMs ?? DEFAULT_USER_CREDS_TTL_MS);
  const jwt = await encodeUser(
    name,
    publicKey,
    authority.account,
    {
      pub: { allow: [...grant.pub] },
      sub: { allow: [...grant.sub] },
      // Responders answer a request once, to its reply subject, without a grant on `_INBOX.>`.
      resp: { max: 1, ttl: DEFAULT_RESPONSE_WINDOW_MS * 1_000_000 },
    },
    { exp: Math.floor(expiresAtMs / 1000) },
  );
  return { name, jwt, expiresAtMs };
}

/** Mints a user credential for `principal` with the permissions of protocols/permissions.ts. */
export async function mintUser(
  authority: UserIssuer,
  principal: Principal,
  options: { ttlMs?: number; nowMs?: number } = {},
): Promise<MintedUser> {
  const user = fastKeyPair(createUser());
  const { name, jwt, expiresAtMs } = await signUser(authority, principal, user.getPublicKey(), options);
  const seed = new TextDecoder().decode(user.getSeed());
  return {
    name,
    publicKey: user.getPublicKey(),
    jwt,
    seed,
    inboxPrefix: inboxPrefixOf(principal),
    expiresAtMs,
    creds: new TextDecoder().decode(fmtCreds(jwt, user)),
  };
}

/** A user of the system account: may push account claim updates over `$SYS` (revocations). */
export async function mintSystemUser(authority: NatsAuthority): Promise<MintedUser> {
  const user = fastKeyPair(createUser());
  const jwt = await encodeUser('agov-sys', user, authority.system, {});
  const seed = new TextDecoder().decode(user.getSeed());
  return {
    name: 'agov-sys',
    publicKey: user.getPublicKey(),
    jwt,
    seed,
    inboxPrefix: '_INBOX',
    expiresAtMs: Number.POSITIVE_INFINITY,
    creds: new TextDecoder().decode(fmtCreds(jwt, user)),
  };
}

/**
 * Revokes users by public key: every JWT of theirs issued at or before now stops being accepted
 * once the server has the re-signed account JWT (returned, and kept on the authority). Revocations of
 * users whose JWTs have expired meanwhile are pruned first, so the account JWT the server decodes
 * at every update does not grow for ever.
 */
export async function revokeUsers(
  authority: NatsAuthority,
  users: readonly RevokedUser[],
  nowMs = Date.now(),
): Promise<string> {
  // Revocation compares with the JWT's `iat` (seconds): a user minted within this second is covered.
  const at = Math.floor(nowMs / 1000) + 1;
  for (const u of users) {
    const key = typeof u === 'string' ? u : u.publicKey;
    authority.revocations[key] = at;
    const exp = typeof u === 'string' ? undefined : u.expiresAtMs;
    if (exp !== undefined && Number.isFinite(exp)) authority.revocationExpiry[key] = exp;
    else delete authority.revocationExpiry[key];
  }
  pruneRevocations(authority.revocations, authority.revocationExpiry, nowMs);
  authority.accountJwt = await signAccount(authority.operator, authority.account, authority.revocations);
  return authority.accountJwt;
}

/** Saves the authority's revocations under its folder (absent: nothing to do). */
export async function saveRevocations(authority: NatsAuthority): Promise<void> {
  if (!authority.dir) return;
  const text = JSON.stringify(
    { v: 2, revoked: authority.revocations, expires: authority.revocationExpiry },
    null,
    1,
  );
  await writeFile(join(authority.dir, REVOCATIONS_FILE), text, { mode: 0o600 });
}

/** The operator-mode part of a nats-server config; writes the operator JWT next to it. */
export function operatorModeConfig(authority: NatsAuthority, configDir: string): string {
  const opFile = join(configDir, 'operator.jwt');
  writeFileSync(opFile, authority.operatorJwt, { mode: 0o600 });
  return [
    `operator: ${JSON.stringify(opFile)}`,
    `system_account: ${authority.system.getPublicKey()}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${authority.system.getPublicKey()}: ${JSON.stringify(authority.systemJwt)}`,
    `  ${authority.account.getPublicKey()}: ${JSON.stringify(authority.accountJwt)}`,
    '}',
  ].join('\n');
}
