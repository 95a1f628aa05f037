/**
 * A bare nats.js connection, for tests that must speak NATS below the protocol (an attacker sending
 * garbage bytes, a request with no envelope). Everything else goes through a `Bus`, whose connection
 * is private. Closed by `close()` on the returned connection (or `servers.onStop`).
 */
import { type ConnectionOptions, connect, type NatsConnection } from '@nats-io/transport-node';

export function rawConnection(
  url: string,
  options: Partial<ConnectionOptions> = {},
): Promise<NatsConnection> {
  return connect({ servers: url, name: 'raw-test-connection', ...options });
}
