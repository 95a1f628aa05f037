import {
  type ConnectionOptions,
  connect,
  errors as natsErrors,
  jwtAuthenticator,
  type NatsConnection,
} from '@nats-io/transport-node';
import { createUser, decode as decodeJwt } from '@nats-io/jwt';
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
  let holder: CredentialHolder | undefined;
  if (c.kind === 'jwt') {
    // Read at every (re)connect, so a renewed or reissued JWT is used from the next one on.
    holder = new CredentialHolder(c.jwt, c.seed);
    const h = holder;
    opts.authenticator = jwtAuthenticator(
      () => h.jwt,
      () => new TextEncoder().encode(h.seed),
    );
    opts.inboxPrefix = inboxPrefixOfJwt(c.jwt);
  }
  try {
    const nc = await connect(opts);
    if (opts.inboxPrefix) principals.set(nc, opts.inboxPrefix.slice('_INBOX.'.length));
    if (holder) {
      holders.set(nc, holder);
      holder.reconnect = () => nc.reconnect();
    }
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
const holders = new WeakMap<NatsConnection, CredentialHolder>();

/**
 * The user JWT and seed a connection authenticates with, replaceable while it runs: the credential
 * authority renews a JWT for the same key, or has the holder make a new key pair (a promotion: the new
 * tier's JWT is signed for the new key, the old key revoked). The seed never leaves this process.
 */
export class CredentialHolder {
  private pending: { publicKey: string; seed: string } | undefined;
  /** Reconnects the connection (with the credential as it is now). */
  reconnect: () => Promise<void> = async () => {};
  constructor(
    public jwt: string,
    public seed: string,
  ) {}

  /** The current key's public key (the JWT's subject). */
  publicKey(): string {
    return decodeJwt(this.jwt).sub;
  }

  /** Makes a new key pair, kept until a JWT for it arrives; returns its public key. */
  rekey(): string {
    const kp = createUser();
    this.pending = { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
    return this.pending.publicKey;
  }

  /**
   * Takes a JWT for the current key (renewal: 'renewed') or for the key `rekey` made ('rekeyed');
   * a JWT for any other key, or for another user name, is refused.
   */
  accept(jwt: string): 'renewed' | 'rekeyed' {
    const claims = decodeJwt(jwt);
    if (claims.name !== decodeJwt(this.jwt).name) throw new Error('a credential for another principal');
    if (claims.sub === this.publicKey()) {
      this.jwt = jwt;
      return 'renewed';
    }
    if (this.pending && claims.sub === this.pending.publicKey) {
      this.jwt = jwt;
      this.seed = this.pending.seed;
      this.pending = undefined;
      return 'rekeyed';
    }
    throw new Error('a credential for a key this connection does not hold');
  }

  /**
   * Uses `jwt` from now on: for the current key (a renewal: from the next reconnect) or for the key
   * {@link rekey} made (a reissue: reconnects at once, so the old key can be revoked).
   */
  async replace(jwt: string): Promise<'renewed' | 'rekeyed'> {
    const how = this.accept(jwt);
    if (how === 'rekeyed') await this.reconnect();
    return how;
  }
}

/** The replaceable credential of a connection (undefined without a user JWT). */
export function credentialHolderOf(nc: NatsConnection): CredentialHolder | undefined {
  return holders.get(nc);
}

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
