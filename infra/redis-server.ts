import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { findBinary } from './find-binary.ts';
import { startOnFreePort } from './free-port.ts';
import { type ManagedProcess, pollUntil, startManagedProcess } from './managed-process.ts';

export interface RedisServerOptions {
  dataDir: string;
  port?: number;
}

export interface RedisServer extends ManagedProcess {
  readonly url: string;
  readonly port: number;
}

/**
 * Starts redis-server (the stand-in for DragonflyDB) on 127.0.0.1 with an append-only file
 * under dataDir, so a restart keeps what was written, as Dragonfly's snapshots would.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  return startOnFreePort((port) => startRedisServerOn(options, options.port ?? port));
}

async function startRedisServerOn(options: RedisServerOptions, port: number): Promise<RedisServer> {
  const bin = findBinary('redis-server');
  mkdirSync(options.dataDir, { recursive: true });
  const proc = await startManagedProcess({
    name: 'redis-server',
    command: bin,
    args: [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      options.dataDir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--daemonize',
      'no',
      '--logfile',
      '',
    ],
    ready: () => pollUntil(() => ping(port)),
  });
  return Object.assign(proc, { url: `redis://127.0.0.1:${port}`, port }) as RedisServer;
}

function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let buf = '';
    sock.once('error', (e) => {
      sock.destroy();
      reject(e);
    });
    sock.on('data', (d) => {
      buf += d.toString();
      sock.destroy();
      if (buf.startsWith('+PONG')) resolve();
      else reject(new Error(`redis answered ${buf.trim()}`));
    });
    sock.once('connect', () => sock.write('PING\r\n'));
  });
}
