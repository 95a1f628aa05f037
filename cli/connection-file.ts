/**
 * The connection file: `<data dir>/connection.json`, written by `agov up` once everything runs and
 * removed when it stops, so scripts and a second shell find a running system without parsing
 * `agov up`'s output or the embedded servers' configuration (`agov env` prints it as shell exports).
 *
 * Every path in it is absolute. It holds addresses and paths to credential files, never a secret:
 * new credential kinds are new optional members of `credentials` (and a row in {@link EXPORTS}),
 * so readers of version 1 keep working.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../protocols/vocabulary/errors.ts';

export const CONNECTION_FILE = 'connection.json';

export const connectionFileSchema = z.object({
  version: z.literal(1),
  /** The `agov up` process; the file is stale when it no longer runs. */
  pid: z.number().int(),
  startedAt: z.string(),
  dataDir: z.string(),
  natsUrl: z.string(),
  /** The HTTP gateway's base URL (absent when it listens on a port chosen at random). */
  httpUrl: z.string().optional(),
  redisUrl: z.string().optional(),
  vaultAddr: z.string().optional(),
  credentials: z
    .object({
      /** A NATS `.creds` file for a command-line client (when NATS runs with auth). */
      natsCreds: z.string().optional(),
      /** The gateway's API keys (`name:tier:key` lines). */
      apiKeysFile: z.string().optional(),
    })
    .default({}),
});
export type ConnectionFile = z.infer<typeof connectionFileSchema>;

/** What `agov env` exports, in order: variable name and where its value is in the file. */
export const EXPORTS: readonly [string, (c: ConnectionFile) => string | undefined][] = [
  ['NATS_URL', (c) => c.natsUrl],
  ['NATS_CREDS', (c) => c.credentials.natsCreds],
  ['AGOV_HTTP_URL', (c) => c.httpUrl],
  ['AGOV_DATA_DIR', (c) => c.dataDir],
  ['AGOV_API_KEYS_FILE', (c) => c.credentials.apiKeysFile],
];

export function connectionFilePath(dataDir: string): string {
  return join(resolve(dataDir), CONNECTION_FILE);
}

/** Writes the file atomically (a reader never sees half of it). */
export function writeConnectionFile(c: ConnectionFile): string {
  const file = connectionFilePath(c.dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(connectionFileSchema.parse(c), null, 2)}\n`);
  renameSync(tmp, file);
  return file;
}

/** Removes the file if it is still this process's. */
export function removeConnectionFile(dataDir: string, pid = process.pid): void {
  const file = connectionFilePath(dataDir);
  try {
    if (readConnectionFile(dataDir).pid === pid) rmSync(file, { force: true });
  } catch {
    // Already gone or unreadable: nothing of ours to remove.
  }
}

export function readConnectionFile(dataDir: string): ConnectionFile {
  const file = connectionFilePath(dataDir);
  if (!existsSync(file))
    throw new ConfigError(`no running system: ${file} does not exist (start one with \`agov up\`)`);
  const parsed = connectionFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new ConfigError(`${file} is not a connection file: ${parsed.error.message}`);
  return parsed.data;
}

/** The connection file of the system running on `dataDir`, or undefined when none runs there. */
export function runningSystem(dataDir: string): ConnectionFile | undefined {
  if (!existsSync(connectionFilePath(dataDir))) return undefined;
  const c = readConnectionFile(dataDir);
  return isRunning(c.pid) ? c : undefined;
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Single-quoted for POSIX shells: `'` becomes `'\''`. */
const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** `export NAME='value'` lines for every value the file has. */
export function shellExports(c: ConnectionFile): string {
  return EXPORTS.flatMap(([name, get]) => {
    const v = get(c);
    return v === undefined ? [] : [`export ${name}=${shellQuote(v)}`];
  }).join('\n');
}
