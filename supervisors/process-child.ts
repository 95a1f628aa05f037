/**
 * An actor running in its own OS process (`agov actor <kind> --id <id>`), started by a supervisor.
 * The supervisor learns of its death the moment the process exits (the OS tells us), without
 * waiting for heartbeats.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { BusCredentials } from '../bus/bus-options.ts';
import {
  BUNDLE_ENTRY,
  bundleIsCurrent,
  childEnvironment,
  readEnvironment,
  SOURCE_ENTRY,
} from '../infra/index.ts';
import { formatCredsText } from '../infra/nats-auth/index.ts';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessChild {
  readonly pid: number | undefined;
  readonly exited: Promise<ProcessExit>;
  readonly hasExited: boolean;
  /** SIGTERM (graceful: the actor drains and exits), then SIGKILL after shutdownMs. */
  stop(shutdownMs: number | 'infinity'): Promise<ProcessExit>;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT…). */
  signal(sig: NodeJS.Signals): void;
  /**
   * Closes the pipe the child watches, as this process's death would: the child exits on its own
   * (AGOV_EXIT_WITH_PARENT). What an in-host supervisor that is killed leaves its process children.
   */
  orphan(): void;
  /** Why the asked-for `nice` could not be applied (the child then runs at the spawner's priority). */
  readonly niceError: Error | undefined;
}

export interface ProcessChildOptions {
  kind: string;
  id: string;
  natsUrl: string;
  /** The child's own NATS credential, passed as `.creds` text in AGOV_NATS_CREDS (never on argv). */
  credentials?: BusCredentials;
  /**
   * For a supervisor in its own process: the key it mints its children's credentials with
   * (AGOV_NATS_ISSUER_SEED, removed from its environment as soon as it is read).
   */
  issuerSeed?: string;
  args?: Record<string, unknown>;
  heartbeatMs?: number;
  /** Environment given to the child over this process's own (credentials, settings of its spec). */
  env?: Readonly<Record<string, string>>;
  /** Where the child's stderr goes; default: inherited. */
  stderr?: 'inherit' | 'ignore';
  /** Niceness of the child's process (0..19, see `StartDescriptor`); absent: inherited. */
  nice?: number;
  /** Run the TypeScript sources even when a bundle exists (a bench must never measure a stale one). */
  fromSource?: boolean;
}

/**
 * Sets the niceness of a just-spawned process. Linux keeps a nice value per thread and a new thread
 * takes its creator's, so the main thread is set first (every thread it starts from now on inherits
 * it: the libuv pool that fsyncs, V8's GC helpers), then every thread that already exists. Spawned
 * from the same tick, Node has not started any yet (tested), but a loaded machine may delay us.
 */
function applyNice(pid: number, nice: number): void {
  setPriority(pid, nice);
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return; // no procfs (not Linux): the main thread is what setpriority(2) sets there anyway
  }
  for (const tid of tids) {
    try {
      if (Number(tid) !== pid) setPriority(Number(tid), nice);
    } catch {
      // the thread ended meanwhile
    }
  }
}

/**
 * The command that runs the CLI: the esbuild bundle when it is current (`npm run build`, the test
 * setup; starts in about a third of the time, which matters for restart latency), else the TypeScript
 * sources through tsx. A stale bundle is never used: a child must run the code its supervisor runs.
 */
export function agovEntry(fromSource = false): string {
  return !fromSource && !readEnvironment().noBundle && bundleIsCurrent() ? BUNDLE_ENTRY : SOURCE_ENTRY;
}

export function spawnProcessChild(options: ProcessChildOptions): ProcessChild {
  const argv = [agovEntry(options.fromSource), 'actor', options.kind, '--id', options.id];
  if (options.heartbeatMs) argv.push('--heartbeat-ms', String(options.heartbeatMs));
  // stdin is a pipe the child watches: when this process dies (even by SIGKILL) the pipe closes and
  // the child exits, so no orphan keeps running under an id its restarted supervisor will reuse.
  const child: ChildProcess = spawn(process.execPath, argv, {
    stdio: ['pipe', 'ignore', options.stderr ?? 'inherit'],
    env: childEnvironment({
      ...options.env,
      NATS_URL: options.natsUrl,
      AGOV_NATS_CREDS: options.credentials?.kind === 'jwt' ? formatCredsText(options.credentials) : '',
      AGOV_NATS_ISSUER_SEED: options.issuerSeed ?? '',
      AGOV_ACTOR_ARGS: JSON.stringify(options.args ?? {}),
      AGOV_EXIT_WITH_PARENT: '1',
    }),
  });
  let niceError: Error | undefined;
  if (options.nice !== undefined && child.pid !== undefined) {
    try {
      applyNice(child.pid, options.nice);
    } catch (err) {
      // ESRCH: it died at once (the exit is reported as usual). EACCES: the spawner itself runs at a
      // higher niceness than asked, and raising needs privileges; the child keeps the spawner's.
      niceError = err as Error;
    }
  }
  let hasExited = false;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      hasExited = true;
      resolve({ code, signal });
    });
    child.once('error', () => {
      hasExited = true;
      resolve({ code: -1, signal: null });
    });
  });
  return {
    get pid() {
      return child.pid;
    },
    exited,
    get hasExited() {
      return hasExited;
    },
    async stop(shutdownMs) {
      if (hasExited) return exited;
      child.kill('SIGCONT'); // a stopped (SIGSTOP) process cannot handle SIGTERM
      child.kill('SIGTERM');
      if (shutdownMs !== 'infinity') {
        const t = setTimeout(() => child.kill('SIGKILL'), shutdownMs);
        void exited.then(() => clearTimeout(t));
      }
      return exited;
    },
    signal(sig) {
      if (!hasExited) child.kill(sig);
    },
    orphan() {
      child.stdin?.destroy();
    },
    niceError,
  };
}
