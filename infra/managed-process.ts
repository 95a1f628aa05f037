import { type ChildProcess, spawn } from 'node:child_process';
import { ServiceStartError } from '../protocols/index.ts';

/** A server binary we started, with the means to stop, kill and restart it. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL after graceMs. Resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once. Resolves once the process has exited. */
  kill(): Promise<void>;
  /** Start the same command again (same port, same data). */
  restart(): Promise<void>;
  readonly exited: boolean;
}

export interface ManagedProcessSpec {
  name: string;
  command: string;
  args: string[];
  /** Resolves when the service accepts clients. */
  ready: () => Promise<void>;
  readyTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Servers we started must never outlive us, whatever way we leave.
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export async function startManagedProcess(spec: ManagedProcessSpec): Promise<ManagedProcess> {
  installExitHook();
  let child: ChildProcess;
  let stderr = '';

  const launch = async () => {
    stderr = '';
    // Both streams: redis-server logs to stdout, nats-server to stderr, and a failed start is explained
    // only by the server's last words (whether its port was taken, for one).
    child = spawn(spec.command, spec.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const keep = (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exitedEarly = new Promise<never>((_, reject) => {
      // 'close', not 'exit': it comes after the output has drained, so the error carries the last words.
      child.once('close', (code, signal) => {
        live.delete(child);
        reject(
          new ServiceStartError(
            `${spec.name} exited during start (code ${code}, signal ${signal}): ${stderr.trim()}`,
          ),
        );
      });
      child.once('error', (err) =>
        reject(new ServiceStartError(`${spec.name} failed to start: ${err.message}`, { cause: err })),
      );
    });
    exitedEarly.catch(() => {});
    const timeoutMs = spec.readyTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ServiceStartError(`${spec.name} not ready after ${timeoutMs} ms: ${stderr.trim()}`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([spec.ready(), exitedEarly, timeout]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    child.once('exit', () => live.delete(child));
  };

  const waitExit = (c: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
    });

  await launch();
  const handle: ManagedProcess = {
    name: spec.name,
    get pid() {
      return child.pid;
    },
    get exited() {
      return child.exitCode !== null || child.signalCode !== null;
    },
    async stop(graceMs = 5_000) {
      const c = child;
      if (c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
      await waitExit(c);
      clearTimeout(t);
    },
    async kill() {
      const c = child;
      if (c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGKILL');
      await waitExit(c);
    },
    async restart() {
      await handle.stop();
      await launch();
    },
  };
  return handle;
}

/** Polls `probe` until it resolves, for services with no readiness signal of their own. */
export async function pollUntil(
  probe: () => Promise<unknown>,
  timeoutMs = 15_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probe();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
