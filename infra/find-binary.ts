import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { MissingBinaryError } from '../protocols/index.ts';
import { readEnvironment } from './environment.ts';

const INSTALL_HINTS: Record<string, string> = {
  'nats-server':
    'install it with `apt-get install nats-server` (Debian/Ubuntu) or `brew install nats-server` (macOS), set NATS_URL to an existing server, or run `docker compose up nats`',
  'redis-server':
    'install it with `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), set REDIS_URL to an existing Redis/DragonflyDB, or run `docker compose up dragonfly`',
};

/** Absolute path of an executable on PATH (plus /usr/sbin, where Debian puts nats-server). */
export function findBinary(name: string): string {
  const dirs = [
    ...(readEnvironment().path ?? '').split(delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/bin',
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new MissingBinaryError(`${name} was not found on PATH: ${INSTALL_HINTS[name] ?? `install ${name}`}`, {
    details: { binary: name },
  });
}
