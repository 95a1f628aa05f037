/**
 * Raw nats.js connections for baselines, on the same authenticated server as the bus under test
 * (every server the project starts is in operator mode): the admin credential this process holds.
 */
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { defaultCredentialsFor } from '../infra/nats-auth/index.ts';

export async function rawConnect(servers: string): Promise<NatsConnection> {
  const creds = await defaultCredentialsFor(servers);
  if (!creds) throw new Error(`no credentials for ${servers}`);
  return connect({
    servers,
    authenticator: jwtAuthenticator(creds.jwt, new TextEncoder().encode(creds.seed)),
  });
}

/** The same, as a module script for a child process (JWT and seed inlined). */
export async function rawConnectScript(servers: string, body: string): Promise<string> {
  const c = (await defaultCredentialsFor(servers))!;
  return `import('@nats-io/transport-node').then(async ({connect, jwtAuthenticator}) => { const nc = await connect({servers: '${servers}', authenticator: jwtAuthenticator('${c.jwt}', new TextEncoder().encode('${c.seed}'))}); ${body} })`;
}
