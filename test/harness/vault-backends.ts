/**
 * The Vault backends a contract suite runs against: always the in-memory dev server, and a real Vault
 * when VAULT_ADDR and VAULT_TOKEN are set. Use with `describe.each(vaultBackends())`; tests that move
 * time or need the dev server's own behaviour run only where `devServer` is true.
 */
import { ManualClock } from '../../infra/clock/clock.ts';
import { startVaultDevServer } from '../../infra/vault/dev-server.ts';

export interface VaultBackend {
  addr: string;
  rootToken: string;
  /** The dev server's clock when it runs on a ManualClock; a real Vault's time cannot be moved. */
  clock: ManualClock | undefined;
  stop(): Promise<void>;
}

export interface VaultBackendFactory {
  name: string;
  devServer: boolean;
  start(): Promise<VaultBackend>;
}

export interface VaultBackendOptions {
  /** The dev server runs on a ManualClock at 2026-01-01 09:00 UTC (default), else on the system clock. */
  manualClock?: boolean;
  /** Runs against a real Vault before its suite (mount an engine, say). */
  prepareRealVault?(addr: string, rootToken: string): Promise<void>;
}

export function vaultBackends(options: VaultBackendOptions = {}): VaultBackendFactory[] {
  const manualClock = options.manualClock ?? true;
  const factories: VaultBackendFactory[] = [
    {
      name: 'dev server',
      devServer: true,
      async start() {
        const clock = manualClock ? new ManualClock(Date.UTC(2026, 0, 1, 9, 0, 0)) : undefined;
        const server = await startVaultDevServer(clock ? { clock } : {});
        return { addr: server.addr, rootToken: server.rootToken, clock, stop: () => server.stop() };
      },
    },
  ];
  const addr = process.env.VAULT_ADDR;
  const rootToken = process.env.VAULT_TOKEN;
  if (addr && rootToken) {
    factories.push({
      name: `Vault at VAULT_ADDR=${addr}`,
      devServer: false,
      async start() {
        await options.prepareRealVault?.(addr, rootToken);
        return { addr, rootToken, clock: undefined, stop: async () => {} };
      },
    });
  }
  return factories;
}
