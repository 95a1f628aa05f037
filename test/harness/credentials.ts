import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
} from '@nats-io/transport-node';
import type { BusCredentials } from '../../bus/bus-options.ts';
import { type MintedUser, mintUser } from '../../infra/nats-auth/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { Principal } from '../../protocols/permissions.ts';
import type { Tier } from '../../protocols/vocabulary/tiers.ts';

/**
 * Credentials on a harness nats-server (operator mode, like every server the project starts). A test
 * connects as admin by default (its process holds the server's keys); these mint what a given actor,
 * agent tier, observer or client gets, from protocols/permissions.ts.
 */
export async function mintFor(nats: NatsServer, principal: Principal): Promise<MintedUser> {
  return mintUser(nats.auth, principal);
}

export async function credsFor(nats: NatsServer, principal: Principal): Promise<BusCredentials> {
  const u = await mintFor(nats, principal);
  return { kind: 'jwt', jwt: u.jwt, seed: u.seed };
}

/** An agent's credentials for its tier. */
export const agentCreds = (nats: NatsServer, id: string, tier: Tier) =>
  credsFor(nats, { role: 'agent', id, tier });

export const observerCreds = (nats: NatsServer, name = 'test-observer') =>
  credsFor(nats, { role: 'observer', name });

export const adminCreds = (nats: NatsServer, name = 'test-admin') => credsFor(nats, { role: 'admin', name });

/** The key a supervisor process mints its children's credentials with (spawnProcessChild `issuerSeed`). */
export const issuerSeedOf = (nats: NatsServer): string =>
  new TextDecoder().decode(nats.auth.account.getSeed());

/** A raw nats.js connection as `principal` (admin by default), with its private inbox prefix. */
export async function rawConnect(
  nats: NatsServer,
  principal: Principal = { role: 'admin', name: 'raw' },
  options: Partial<ConnectionOptions> = {},
): Promise<NatsConnection> {
  const u = await mintFor(nats, principal);
  return connect({
    servers: nats.url,
    authenticator: credsAuthenticator(new TextEncoder().encode(u.creds)),
    inboxPrefix: u.inboxPrefix,
    ...options,
  });
}

/**
 * A raw connection as `principal` that collects the permission violations the server reports: what an
 * attacker test connects with, to assert that each forbidden action was refused by the broker.
 */
export async function connectWatched(
  nats: NatsServer,
  principal: Principal,
): Promise<{ nc: NatsConnection; violations: string[] }> {
  const nc = await rawConnect(nats, principal);
  const violations: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') violations.push(String(s.error));
  })();
  return { nc, violations };
}

/** Writes `principal`'s `.creds` file (mode 0600) into `dir` and returns its path (for NATS_CREDS). */
export async function credsFile(nats: NatsServer, principal: Principal, dir: string): Promise<string> {
  const u = await mintFor(nats, principal);
  const file = join(dir, `${u.name}.creds`);
  writeFileSync(file, u.creds, { mode: 0o600 });
  return file;
}
