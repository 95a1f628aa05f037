/**
 * The exec sandbox: every `exec` task runs inside bubblewrap (`bwrap`), under resource limits
 * (`prlimit`), as an unprivileged host user. docs/agents.md ("The exec sandbox") is the reference.
 *
 * - **Who:** when the agent runs as root, the sandbox is started as `uid`/`gid` (default 65534,
 *   nobody) — `bwrap --uid` alone would map back to root outside (shared/notes/bubblewrap-sandbox.md).
 *   An agent that is not root starts it as itself; its own files stay out of view because nothing of
 *   the host is bound but the system directories.
 * - **What it sees:** `/usr` (and `/bin`, `/sbin`, `/lib*`, as symlinks or read-only binds, as on the
 *   host), `/etc/alternatives` and `/etc/ld.so.cache` read-only, a fresh `/dev`, its own `/proc` (own PID
 *   namespace: no other process is visible, so no `/proc/<pid>/mem` of a system process), a private
 *   `/tmp`, and its task directory at `/work`, the only writable place, owned by the sandbox user.
 *   The data directory, keys, other tasks' directories and the host's `/root`, `/home`, `/etc` are not there.
 * - **Namespaces:** `--unshare-all` (user, pid, net, ipc, uts, cgroup), `--new-session` (no TIOCSTI on
 *   a shared terminal), `--die-with-parent`. Network (`--share-net`, plus the resolver files) only
 *   when the task asks for it and its tier allows it (protocols/vocabulary/tiers.ts EXEC_NETWORK_MIN_TIER).
 * - **Limits:** processes (RLIMIT_NPROC), address space (RLIMIT_AS), CPU seconds (RLIMIT_CPU, from the
 *   task's timeout), file size (RLIMIT_FSIZE), no core dumps; wall time is the task's timeout, after
 *   which the sandbox's PID 1 (its host pid comes on `--info-fd`) is SIGKILLed: the kernel then kills
 *   everything in the namespace before the outer bwrap can exit, so when exec reports, nothing is left.
 * - **Fail closed:** {@link probeSandbox} starts one empty sandbox per agent process; when it fails,
 *   exec tasks are refused with SandboxUnavailableError, unless the explicit development switch
 *   (`AGOV_UNSANDBOXED_EXEC=1` or the agent arg `unsandboxedExec`) is on, which is logged as a warning
 *   at start and at every task.
 */
import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readlinkSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { SandboxUnavailableError } from '../../../protocols/vocabulary/errors.ts';

/** Where the sandbox mounts the task's working directory. */
export const SANDBOX_WORK_DIR = '/work';

export interface SandboxLimits {
  /** RLIMIT_NPROC: processes (threads count too) of the sandbox user. */
  maxProcesses: number;
  /** RLIMIT_AS: address space of each process, bytes. */
  maxMemoryBytes: number;
  /** RLIMIT_FSIZE: largest file a process may write, bytes. */
  maxFileBytes: number;
}

export interface SandboxSettings {
  /** `bwrap`: the real sandbox; `unsandboxed`: the development switch (plain spawn, loudly logged). */
  mode: 'bwrap' | 'unsandboxed';
  /** Host user and group the sandbox runs as when the agent is root. */
  uid: number;
  gid: number;
  limits: SandboxLimits;
  /** Parent of the task directories; undefined: a fresh `agov-sandbox-*` folder in the OS temp dir. */
  root?: string;
}

/** What one sandboxed run needs. */
export interface SandboxRun {
  /** Host path of the task directory (bound at /work). */
  taskDir: string;
  /** Working directory relative to the task directory ('' for the task directory itself). */
  cwdRel: string;
  network: boolean;
  /** Wall time of the task; the CPU limit is derived from it. */
  timeoutMs: number;
  command: readonly string[];
  env: Readonly<Record<string, string>>;
}

/** The process to spawn for a sandboxed run: program, argv, host-side environment and spawn ids. */
export interface SandboxSpawn {
  file: string;
  args: string[];
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  /** The child fd (3) on which bwrap writes `{"child-pid": N}`: the host pid of the sandbox's PID 1. */
  infoFd?: 3;
}

/** System directories, as the host has them: merged-/usr symlinks become symlinks, real dirs read-only binds. */
function systemMounts(): string[] {
  const out = ['--ro-bind', '/usr', '/usr'];
  for (const dir of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) out.push('--symlink', readlinkSync(dir), dir);
    else if (st.isDirectory()) out.push('--ro-bind', dir, dir);
  }
  for (const f of ['/etc/alternatives', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d'])
    out.push('--ro-bind-try', f, f);
  return out;
}

let mounts: string[] | undefined;

/** Files a task with network needs to resolve names and check certificates. */
const NETWORK_FILES = [
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/ssl',
  '/etc/ca-certificates',
];

/**
 * Variables the dynamic loader honours: they would act on the host-side `prlimit`/`bwrap` before
 * the sandbox exists, so they are handed to the task through `--setenv` instead of the spawn environment.
 */
const LOADER_VAR = /^(LD_|GCONV_PATH$|LOCPATH$|MALLOC_)/;

/** The bwrap + prlimit command line of one run. Pure apart from reading the host's directory layout once. */
export function sandboxSpawn(settings: SandboxSettings, run: SandboxRun): SandboxSpawn {
  mounts ??= systemMounts();
  const cpuSeconds = Math.max(1, Math.ceil(run.timeoutMs / 1000));
  const limits = [
    `--nproc=${settings.limits.maxProcesses}`,
    `--as=${settings.limits.maxMemoryBytes}`,
    `--fsize=${settings.limits.maxFileBytes}`,
    `--cpu=${cpuSeconds}`,
    '--core=0',
  ];
  const env: Record<string, string> = {};
  const setenv: string[] = [];
  for (const [k, v] of Object.entries(run.env)) {
    if (LOADER_VAR.test(k)) setenv.push('--setenv', k, v);
    else env[k] = v;
  }
  const cwd = run.cwdRel === '' ? SANDBOX_WORK_DIR : `${SANDBOX_WORK_DIR}/${run.cwdRel.split(sep).join('/')}`;
  const bwrap = [
    ...mounts,
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
    '--bind',
    run.taskDir,
    SANDBOX_WORK_DIR,
    ...(run.network ? NETWORK_FILES.flatMap((f) => ['--ro-bind-try', f, f]) : []),
    // The root bwrap builds is a tmpfs: read-only too, so only /work (and the private /tmp) take writes.
    '--remount-ro',
    '/',
    '--chdir',
    cwd,
    '--unshare-all',
    ...(run.network ? ['--share-net'] : []),
    '--die-with-parent',
    '--new-session',
    '--info-fd',
    '3',
    ...setenv,
    '--',
    ...run.command,
  ];
  const asRoot = process.getuid?.() === 0;
  return {
    file: 'prlimit',
    args: [...limits, '--', 'bwrap', ...bwrap],
    env,
    ...(asRoot ? { uid: settings.uid, gid: settings.gid } : {}),
    infoFd: 3,
  };
}

let sandboxRootDir: string | undefined;

/** The parent of task directories: traversable (0711) but not listable by the sandbox user. */
export function sandboxRoot(settings: SandboxSettings): string {
  if (settings.root !== undefined) return settings.root;
  if (!sandboxRootDir) {
    sandboxRootDir = mkdtempSync(join(tmpdir(), 'agov-sandbox-'));
    chmodSync(sandboxRootDir, 0o711);
  }
  return sandboxRootDir;
}

/**
 * A fresh task directory (and its working sub-directory) owned by the sandbox user, mode 0700. It
 * lives under {@link sandboxRoot}, outside the agent's data directory: bwrap, started as the sandbox
 * user, must be able to reach it, and the data directory must stay unreachable.
 */
export async function makeTaskDir(settings: SandboxSettings, name: string, cwdRel: string): Promise<string> {
  const root = sandboxRoot(settings);
  await mkdir(root, { recursive: true, mode: 0o711 });
  const dir = await mkdtemp(join(root, `${name}-`));
  const asRoot = process.getuid?.() === 0 && settings.mode === 'bwrap';
  let at = dir;
  for (const part of ['', ...(cwdRel === '' ? [] : cwdRel.split(sep))]) {
    at = part === '' ? at : join(at, part);
    await mkdir(at, { recursive: true, mode: 0o700 });
    if (asRoot) await chown(at, settings.uid, settings.gid);
  }
  return dir;
}

export async function removeTaskDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

const probes = new Map<string, Promise<string | undefined>>();

/**
 * Starts one empty sandbox (`true`) with these settings, once per process and settings. Resolves
 * undefined when it works, else the reason (bwrap's own message), so exec can fail closed.
 */
export function probeSandbox(settings: SandboxSettings): Promise<string | undefined> {
  const key = JSON.stringify(settings);
  let p = probes.get(key);
  if (!p) {
    p = runProbe(settings);
    probes.set(key, p);
  }
  return p;
}

async function runProbe(settings: SandboxSettings): Promise<string | undefined> {
  let dir: string | undefined;
  try {
    dir = await makeTaskDir(settings, 'probe', '');
    const tmp = dir;
    const s = sandboxSpawn(settings, {
      taskDir: tmp,
      cwdRel: '',
      network: false,
      timeoutMs: 5_000,
      command: ['true'],
      env: {},
    });
    return await new Promise<string | undefined>((resolveProbe) => {
      let stderr = '';
      const child = spawn(s.file, s.args, {
        env: s.env,
        uid: s.uid,
        gid: s.gid,
        stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      (child.stdio[3] as NodeJS.ReadableStream | null)?.resume();
      child.stderr?.on('data', (c: Buffer) => {
        stderr += c.toString('utf8');
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        resolveProbe(`cannot start prlimit/bwrap: ${err.message}`);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolveProbe(
          code === 0 ? undefined : `sandbox probe exited ${code ?? signal}: ${stderr.trim().slice(0, 500)}`,
        );
      });
    });
  } catch (err) {
    return `cannot prepare the sandbox: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    if (dir) await removeTaskDir(dir);
  }
}

/** SandboxUnavailableError for a failed probe. */
export function sandboxUnavailable(reason: string): SandboxUnavailableError {
  return new SandboxUnavailableError(
    `exec tasks are refused: the bubblewrap sandbox cannot start here (${reason})`,
    { details: { reason } },
  );
}
