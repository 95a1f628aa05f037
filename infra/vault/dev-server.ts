import { randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../clock/clock.ts';
import { PolicyStore } from './acl.ts';
import { randomId, TokenStore } from './token-store.ts';
import { TransitEngine } from './transit.ts';
import { VaultApi } from './vault-api.ts';
import { WrappingStore } from './wrapping.ts';

/**
 * A Vault-API-compatible development server for the token auth method (`/v1/auth/token/*`),
 * a minimal ACL policy store (`/v1/sys/policy/*`, `/v1/sys/policies/acl/*`), the transit engine for Ed25519
 * signing keys (`/v1/transit/*`, see vault/transit.ts), response wrapping (`/v1/sys/wrapping/*` and the
 * `X-Vault-Wrap-TTL` header on any request, see vault/wrapping.ts) and `/v1/sys/health`.
 *
 * Like `vault server -dev`, everything lives in memory: stopping the server loses every token.
 * Time comes from the injected Clock, so a ManualClock can expire a 2 h token instantly.
 * See docs/vault.md for the endpoints, shapes and the deviations from a real Vault. The request
 * pipeline is vault-api.ts, its routes *-routes.ts and the engines' own `route`.
 */

export interface VaultDevServerOptions {
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** The root token's ID; random (`hvs.…`) when omitted. */
  rootToken?: string;
  clock?: Clock;
  /**
   * Where the transit engine keeps its keyring (0600). Without it transit keys live in memory and a
   * restart makes new ones. Keep it outside the system's data directory: it holds signing keys.
   */
  transitKeyringFile?: string;
}

export interface VaultDevServer {
  /** Base address, e.g. `http://127.0.0.1:41234` (what VAULT_ADDR would hold). */
  readonly addr: string;
  readonly port: number;
  readonly rootToken: string;
  /** Closes the listener and open connections; all tokens are lost. */
  stop(): Promise<void>;
}

export async function startVaultDevServer(options: VaultDevServerOptions = {}): Promise<VaultDevServer> {
  const clock = options.clock ?? systemClock;
  const rootToken = options.rootToken ?? `hvs.${randomId(24)}`;
  const policies = new PolicyStore();
  const store = new TokenStore(clock, policies);
  store.addRootToken(rootToken);
  const transit = new TransitEngine({ clock, keyringFile: options.transitKeyringFile });
  const wrapping = new WrappingStore(clock);

  const api = new VaultApi({ clock, store, policies, transit, wrapping, clusterId: randomUUID() });
  const server: Server = createServer((req, res) => api.serve(req, res));

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

  let stopped: Promise<void> | undefined;
  return {
    addr: `http://127.0.0.1:${port}`,
    port,
    rootToken,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
