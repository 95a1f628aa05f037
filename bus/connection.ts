import {
  type ConnectionOptions,
  connect,
  errors as natsErrors,
  jwtAuthenticator,
  type NatsConnection,
} from '@nats-io/transport-node';
import { decode as decodeJwt } from '@nats-io/jwt';
import { defaultCredentialsFor } from '../infra/nats-auth/local-credentials.ts';
import { UnauthenticatedError } from '../protocols/vocabulary/errors.ts';
import { isSubjectToken } from '../protocols/subjects.ts';
import {
  type BusCredentials,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_RECONNECT_JITTER_MS,
  DEFAULT_RECONNECT_WAIT_MS,
} from './bus-options.ts';

export type ConnectionState = 'connected' | 'disconnected' | 'reconnecting' | 'closed';

export interface ConnectArgs {
  servers: string;
  name: string;
  credentials?: BusCredentials;
  reconnectWaitMs?: number;
}

/**
 * Opens a NATS connection that never gives up: the first connect waits for the server, and
 * reconnects continue forever with backoff + jitter. Messages published while disconnected are
 * buffered by nats.js and flushed on reconnect.
 */
export async function openConnection(args: ConnectArgs): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: args.servers.split(',').map((s) => s.trim()),
    name: args.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: args.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS,
    reconnectJitter: DEFAULT_RECONNECT_JITTER_MS,
    waitOnFirstConnect: true,
    pingInterval: DEFAULT_PING_INTERVAL_MS,
    ignoreClusterUpdates: true,
  };
  // No credentials given: the ones this process holds for that server (infra/nats-auth), if any.
  const c = args.credentials ?? (await defaultCredentialsFor(args.servers)) ?? { kind: 'none' };
  if (c.kind === 'user-password') Object.assign(opts, { user: c.user, pass: c.pass });
  else if (c.kind === 'token') opts.token = c.token;
  else if (c.kind === 'jwt') {
    opts.authenticator = jwtAuthenticator(c.jwt, new TextEncoder().encode(c.seed));
    opts.inboxPrefix = inboxPrefixOfJwt(c.jwt);
  }
  try {
    const nc = await connect(opts);
    if (opts.inboxPrefix) principals.set(nc, opts.inboxPrefix.slice('_INBOX.'.length));
    return nc;
  } catch (err) {
    // Wrong credentials are final: say so, typed, rather than retrying.
    if (err instanceof natsErrors.AuthorizationError || /authorization/i.test(String(err))) {
      throw new UnauthenticatedError(`NATS refused the credentials of ${args.name}`, {
        cause: err,
        details: { name: args.name },
      });
    }
    throw err;
  }
}

const principals = new WeakMap<NatsConnection, string>();

/**
 * The NATS user name a connection authenticated as (from its user JWT), undefined without a JWT.
 * Used to name oneself where the broker checks the name (operator controls, `gov.ctl.<tier>.<self>`).
 */
export function principalOfConnection(nc: NatsConnection): string | undefined {
  return principals.get(nc);
}

/**
 * Reply inboxes are private per user (protocols/permissions.ts): `_INBOX.<user name>`, the only
 * `_INBOX` subtree that user may subscribe to. The name is read from the user JWT itself.
 */
function inboxPrefixOfJwt(jwt: string): string | undefined {
  try {
    const name = decodeJwt(jwt).name;
    return isSubjectToken(name) ? `_INBOX.${name}` : undefined;
  } catch {
    return undefined;
  }
}
