/**
 * Revocation on a running server without a restart or a config reload: the re-signed account JWT
 * (with the user keys in its `revocations`) is pushed as a claim update over the system account,
 * `$SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE`, which nats-server 2.9 accepts with the MEMORY resolver
 * too (measured: the server answers "jwt updated" and drops the revoked users' connections at once).
 */
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import {
  mintSystemUser,
  mintUser,
  type NatsAuthority,
  type RevokedUser,
  revokeUsers,
  saveRevocations,
} from './authority.ts';

/** How long to wait for the server to accept a claim update. */
export const DEFAULT_CLAIMS_UPDATE_TIMEOUT_MS = 5_000;

/**
 * A system-account connection that pushes account JWTs to `servers`, and a connection in the
 * application account that keeps the account loaded: nats-server 2.9's memory resolver answers a
 * claim update for an account no client has loaded since the server started with "jwt updated" and
 * then forgets it, loading the preloaded JWT (without the revocation) at the next connect — measured:
 * a revoked user connected right after such a push.
 */
export class ClaimsPusher {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly holder: NatsConnection,
    private readonly authority: NatsAuthority,
  ) {}

  static async connect(servers: string, authority: NatsAuthority): Promise<ClaimsPusher> {
    const list = servers.split(',').map((s) => s.trim());
    const sys = await mintSystemUser(authority);
    const nc = await connect({
      servers: list,
      name: 'agov-credential-authority-sys',
      authenticator: jwtAuthenticator(sys.jwt, new TextEncoder().encode(sys.seed)),
      maxReconnectAttempts: -1,
    });
    // May read the feed and nothing else; it subscribes to nothing: it is there to hold the account.
    const user = await mintUser(authority, { role: 'observer', name: 'claims-pusher' });
    const holder = await connect({
      servers: list,
      name: 'agov-credential-authority-account',
      authenticator: jwtAuthenticator(user.jwt, new TextEncoder().encode(user.seed)),
      inboxPrefix: user.inboxPrefix,
      maxReconnectAttempts: -1,
    });
    return new ClaimsPusher(nc, holder, authority);
  }

  /**
   * Revokes the users and pushes the account JWT; resolves once the server has it and the revocations
   * are saved. The push goes first and the save beside it: the revoked connections are dropped as the
   * server applies the update, without waiting for our disk.
   */
  async revoke(users: readonly RevokedUser[]): Promise<void> {
    await revokeUsers(this.authority, users);
    await Promise.all([this.push(), saveRevocations(this.authority)]);
  }

  /** Pushes the authority's current account JWT. */
  async push(): Promise<void> {
    const subject = `$SYS.REQ.ACCOUNT.${this.authority.account.getPublicKey()}.CLAIMS.UPDATE`;
    const reply = await this.nc.request(subject, this.authority.accountJwt, {
      timeout: DEFAULT_CLAIMS_UPDATE_TIMEOUT_MS,
    });
    const answer = JSON.parse(new TextDecoder().decode(reply.data)) as {
      data?: { code?: number; message?: string };
      error?: { code?: number; description?: string };
    };
    if (answer.error || answer.data?.code !== 200)
      throw new Error(
        `nats-server refused the account update: ${answer.error?.description ?? answer.data?.message ?? 'unknown'}`,
      );
  }

  async close(): Promise<void> {
    await Promise.all([this.nc.close(), this.holder.close()]);
  }
}
