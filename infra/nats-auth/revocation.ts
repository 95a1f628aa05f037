/**
 * Revocation on a running server without a restart or a config reload: the re-signed account JWT
 * (with the user keys in its `revocations`) is pushed as a claim update over the system account,
 * `$SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE`, which nats-server 2.9 accepts with the MEMORY resolver
 * too (measured: the server answers "jwt updated" and drops the revoked users' connections at once).
 */
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import {
  mintSystemUser,
  type NatsAuthority,
  type RevokedUser,
  revokeUsers,
  saveRevocations,
} from './authority.ts';

/** How long to wait for the server to accept a claim update. */
export const DEFAULT_CLAIMS_UPDATE_TIMEOUT_MS = 5_000;

/** A system-account connection that pushes account JWTs to `servers`. */
export class ClaimsPusher {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly authority: NatsAuthority,
  ) {}

  static async connect(servers: string, authority: NatsAuthority): Promise<ClaimsPusher> {
    const sys = await mintSystemUser(authority);
    const nc = await connect({
      servers: servers.split(',').map((s) => s.trim()),
      name: 'agov-credential-authority-sys',
      authenticator: jwtAuthenticator(sys.jwt, new TextEncoder().encode(sys.seed)),
      maxReconnectAttempts: -1,
    });
    return new ClaimsPusher(nc, authority);
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

  close(): Promise<void> {
    return this.nc.close();
  }
}
