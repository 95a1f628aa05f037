import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from './find-binary.ts';
import { freePort } from './free-port.ts';
import { type ManagedProcess, pollUntil, startManagedProcess } from './managed-process.ts';

export interface NatsServerOptions {
  /** Folder for JetStream data and the generated config. */
  dataDir: string;
  port?: number;
  /** Extra nats-server config text (accounts, authorization), appended to the generated file. */
  extraConfig?: string;
}

export interface NatsServer extends ManagedProcess {
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
}

/** Starts nats-server with JetStream on 127.0.0.1 and resolves once JetStream answers health checks. */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  const bin = findBinary('nats-server');
  const port = options.port ?? (await freePort());
  const monitorPort = await freePort();
  const storeDir = join(options.dataDir, 'jetstream');
  mkdirSync(storeDir, { recursive: true });
  const configFile = join(options.dataDir, 'nats-server.conf');
  writeFileSync(
    configFile,
    [
      `host: 127.0.0.1`,
      `port: ${port}`,
      `http_port: ${monitorPort}`,
      `max_payload: 8MB`,
      `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
      options.extraConfig ?? '',
    ].join('\n'),
  );
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
  return Object.assign(proc, { url: `nats://127.0.0.1:${port}`, port, monitorPort }) as NatsServer;
}
