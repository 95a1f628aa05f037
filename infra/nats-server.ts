import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from './find-binary.ts';
import { freePort, startOnFreePort } from './free-port.ts';
import { type ManagedProcess, pollUntil, startManagedProcess } from './managed-process.ts';
import {
  createNatsAuthority,
  type NatsAuthority,
  operatorModeConfig,
  registerAuthority,
} from './nats-auth/index.ts';

/** Seconds a client has to authenticate after connecting. */
export const DEFAULT_AUTH_TIMEOUT_S = 10;
/**
 * Longest protocol line the server reads, CONNECT included. The user JWT rides in CONNECT, and a host's
 * shared connection carries the union of its members' grants (supervisors/host-connections.ts: 100 T2
 * agents make a ~36 KB JWT); nats-server's own default, 4 KB, fits about ten agents.
 */
export const DEFAULT_MAX_CONTROL_LINE_BYTES = 256 * 1024;

export interface NatsServerOptions {
  /** Folder for JetStream data and the generated config. */
  dataDir: string;
  port?: number;
  /**
   * The operator/accounts the server trusts (operator mode: every client needs a user JWT signed by
   * the application account). Absent: a fresh authority held by this process only. There is no way
   * to start a server without authentication.
   */
  auth?: NatsAuthority;
  /** Extra nats-server config text, appended to the generated file. */
  extraConfig?: string;
}

export interface NatsServer extends ManagedProcess {
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
  /** The keys this server trusts; this process may mint credentials from them. */
  readonly auth: NatsAuthority;
  /**
   * Pushes the authority's current account JWT (e.g. after a revocation) by rewriting the preload
   * and reloading the config (SIGHUP); resolves once the server has reloaded.
   */
  reloadAccounts(): Promise<void>;
}

/**
 * Starts nats-server with JetStream on 127.0.0.1, in operator mode (no anonymous clients), and resolves
 * once JetStream answers health checks. This process registers the server's authority
 * (infra/nats-auth/local-credentials.ts), so its own connections authenticate as admin by default.
 */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  // A fixed client port is never swapped; the monitor port is always ours to pick again.
  return startOnFreePort(async (picked) =>
    startNatsServerOn(options, options.port ?? picked, await freePort()),
  );
}

async function startNatsServerOn(
  options: NatsServerOptions,
  port: number,
  monitorPort: number,
): Promise<NatsServer> {
  const bin = findBinary('nats-server');
  const storeDir = join(options.dataDir, 'jetstream');
  mkdirSync(storeDir, { recursive: true });
  const auth = options.auth ?? (await createNatsAuthority());
  const configFile = join(options.dataDir, 'nats-server.conf');
  const writeConfig = () =>
    writeFileSync(
      configFile,
      [
        `host: 127.0.0.1`,
        `port: ${port}`,
        `http_port: ${monitorPort}`,
        `max_payload: 8MB`,
        `max_control_line: ${DEFAULT_MAX_CONTROL_LINE_BYTES}`,
        `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
        operatorModeConfig(auth, options.dataDir),
        // A client signs the server's nonce before this runs out; 2 s (the default) is too short for a
        // loaded machine starting many processes at once.
        `authorization { timeout: ${DEFAULT_AUTH_TIMEOUT_S} }`,
        options.extraConfig ?? '',
      ].join('\n'),
      { mode: 0o600 },
    );
  writeConfig();
  const proc = await startManagedProcess({
    name: 'nats-server',
    command: bin,
    args: ['-c', configFile],
    ready: () =>
      pollUntil(async () => {
        const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`);
        if (!res.ok) throw new Error(`healthz ${res.status}`);
      }),
  });
  const url = `nats://127.0.0.1:${port}`;
  registerAuthority(url, auth);
  const reloadAccounts = async () => {
    writeConfig();
    const before = await configLoadTime(monitorPort);
    if (proc.pid) process.kill(proc.pid, 'SIGHUP');
    await pollUntil(async () => {
      if ((await configLoadTime(monitorPort)) === before) throw new Error('not reloaded yet');
    });
  };
  return Object.assign(proc, { url, port, monitorPort, auth, reloadAccounts }) as NatsServer;
}

async function configLoadTime(monitorPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${monitorPort}/varz`);
  const varz = (await res.json()) as { config_load_time?: string };
  return varz.config_load_time ?? '';
}
