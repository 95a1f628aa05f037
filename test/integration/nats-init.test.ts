/**
 * `agov nats init` (compose.yaml's NATS): a nats-server the system does not start runs from the
 * written config in operator mode, and a system given its NATS_URL and the same data dir mints every
 * actor's credential from the keys there. Anonymous connections are refused.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { findBinary } from '../../infra/find-binary.ts';
import { freePort } from '../../infra/free-port.ts';
import { startManagedProcess } from '../../infra/managed-process.ts';
import { allChildren } from '../../supervisors/supervisor-tree.ts';
import { startSystem } from '../../system/index.ts';
import { TestServers, waitFor } from '../harness/index.ts';

const run = promisify(execFile);
const AGOV = join(import.meta.dirname, '../../cli/agov.mjs');
const servers = new TestServers();
afterAll(() => servers.stopAll());

describe('agov nats init', () => {
  it('writes an operator-mode config from which nats-server refuses anonymous clients and the system runs', async () => {
    const dataDir = servers.tempDir('agov-nats-init-data-');
    const configDir = servers.tempDir('agov-nats-init-conf-');
    const [port, httpPort] = [await freePort(), await freePort()];
    await run(
      process.execPath,
      [
        AGOV,
        'nats',
        'init',
        '--config-dir',
        configDir,
        '--store-dir',
        join(configDir, 'js'),
        '--port',
        `${port}`,
        '--http-port',
        `${httpPort}`,
      ],
      { env: { ...process.env, AGOV_DATA_DIR: dataDir } },
    );
    const conf = readFileSync(join(configDir, 'nats-server.conf'), 'utf8');
    expect(conf).toContain('resolver: MEMORY');
    expect(conf).not.toMatch(/\bS[A-Z][A-Z2-7]{56}\b/); // no nkey seed in the server's config
    expect(statSync(join(dataDir, 'nats-auth', 'account.nk')).mode & 0o077).toBe(0);

    const nats = await startManagedProcess({
      name: 'nats-server',
      command: findBinary('nats-server'),
      args: ['-c', join(configDir, 'nats-server.conf')],
      ready: async () => {
        await waitFor(
          'nats-server healthy',
          async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined))?.ok,
        );
      },
    });
    servers.onStop(() => nats.stop());
    const url = `nats://127.0.0.1:${port}`;
    await expect(connect({ servers: url, reconnect: false })).rejects.toThrow(/Authorization Violation/i);

    const sys = await startSystem({
      natsUrl: url,
      dataDir,
      serviceArgs: { gateway: { port: 0 } },
      localApiKeys: false,
    });
    servers.onStop(() => sys.kill());
    await waitFor(
      'every actor running',
      async () => allChildren(await sys.tree()).every((c) => c.status === 'running'),
      60_000,
    );
  }, 120_000);
});
