/**
 * `exec`: runs a program in the bubblewrap sandbox (sandbox.ts). T1+; with `network: true`, T2.
 *
 * - argv only, never a shell (`command[0]` is the program, looked up inside the sandbox on the
 *   task's PATH, else the default path);
 * - a fresh working directory per task, bound at `/work` (a relative `cwd` is a folder inside it; an
 *   absolute or escaping `cwd` is refused); removed afterwards unless the agent keeps task dirs. The
 *   task cannot leave it: nothing else of the host is writable or even visible;
 * - environment = only the allowlist: names in `env.pass` copied from the agent's environment (never a
 *   system variable: SYSTEM_ENV_PREFIXES), then `env.set`, then the assignment's env (PIPELINE_ID,
 *   the attempt's VAULT_TOKEN…, which wins). Nothing else is inherited;
 * - the sandbox is its own process group, session and PID namespace: on timeout or abort the group
 *   gets SIGTERM, SIGKILL after the grace period, and once bwrap is gone the kernel kills everything
 *   left in the namespace, `setsid` children included;
 * - stdout + stderr together capped at `maxOutputBytes` (at most MAX_EXEC_OUTPUT_BYTES) inline; beyond
 *   that `truncated` is set and, for a T1+ agent, each cut stream is stored in memory in full (its first
 *   `maxSpillBytes`; beyond that `spillTruncated`) and named in `output.memory` (the claim check,
 *   docs/context.md).
 *
 * Output: `{ exitCode, signal, stdout, stderr, truncated, timedOut, durationMs }`. Exit 0 succeeds;
 * anything else fails with GOV_ERR_TASK_FAILED (GOV_ERR_TIMEOUT when its own timeout fired). Where the
 * sandbox cannot start the task fails with GOV_ERR_SANDBOX_UNAVAILABLE before anything runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  EXEC_NETWORK_MIN_TIER,
  GovError,
  PolicyViolationError,
  serializeError,
  TaskFailedError,
  TierForbiddenError,
  TimeoutError,
  tierAtLeast,
} from '../../../protocols/index.ts';
import { isSystemEnvName, MAX_EXEC_OUTPUT_BYTES, type TaskOf } from '../../../protocols/pipeline/index.ts';
import {
  makeTaskDir,
  probeSandbox,
  removeTaskDir,
  SANDBOX_WORK_DIR,
  type SandboxSpawn,
  sandboxSpawn,
  sandboxUnavailable,
} from './sandbox.ts';
import { readTaskReports, TASK_REPORT_FILE, type TaskReport } from './task-reports.ts';
import {
  failed,
  type MemoryRef,
  numberField,
  succeeded,
  type TaskOutcome,
  type TaskRunner,
} from './task-runner.ts';

export interface ExecOutput {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

/**
 * The environment of an exec task: nothing but the allowlist. Pure.
 * @param pass names copied from `agentEnv` when set there
 * @param set explicit values
 * @param assigned the assignment's env (PIPELINE_ID…), applied last so a task cannot spoof it
 * @throws PolicyViolationError when `pass` or `set` names a system variable (SYSTEM_ENV_PREFIXES)
 */
export function buildExecEnv(
  spec: { pass?: readonly string[]; set?: Readonly<Record<string, string>> },
  agentEnv: Readonly<Record<string, string | undefined>>,
  assigned: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  const denied = [...(spec.pass ?? []), ...Object.keys(spec.set ?? {})].filter(isSystemEnvName);
  if (denied.length > 0) {
    throw new PolicyViolationError(`exec env may not pass or set system variables: ${denied.join(', ')}`, {
      details: { names: denied },
    });
  }
  for (const name of spec.pass ?? []) {
    const v = agentEnv[name];
    if (v !== undefined) env[name] = v;
  }
  Object.assign(env, spec.set ?? {}, assigned);
  return env;
}

/**
 * Collects stdout and stderr up to a shared inline byte budget, and (for the claim check) each stream
 * in full up to `maxSpillBytes`.
 */
export class OutputCollector {
  private readonly chunks: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
  private readonly full: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
  private readonly fullBytes = { stdout: 0, stderr: 0 };
  private used = 0;
  truncated = false;
  /** Some output was beyond even the spill bound: what memory holds is cut too. */
  spillTruncated = false;

  constructor(
    private readonly maxBytes: number,
    private readonly maxSpillBytes = 0,
  ) {}

  add(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    this.keepFull(stream, chunk);
    const room = this.maxBytes - this.used;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks[stream].push(kept);
    this.used += kept.length;
  }

  text(stream: 'stdout' | 'stderr'): string {
    return Buffer.concat(this.chunks[stream]).toString('utf8');
  }

  /** The stream as kept for spilling (its first maxSpillBytes). */
  fullBytesOf(stream: 'stdout' | 'stderr'): Buffer {
    return Buffer.concat(this.full[stream]);
  }

  private keepFull(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.maxSpillBytes <= 0) return;
    const room = this.maxSpillBytes - this.fullBytes[stream];
    if (chunk.length > room) this.spillTruncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.full[stream].push(kept);
    this.fullBytes[stream] += kept.length;
  }
}

/**
 * The claim check: each stream cut from the inline output is stored in memory in full (up to the
 * spill bound) and the output names it (`memory.stdout` / `memory.stderr`: memoryId, size, summary).
 * Without a memory to store in (T0, spilling off) or when the store fails, the output stays as cut
 * and says why (`memoryError`).
 */
async function claimCheck(
  outcome: TaskOutcome,
  out: OutputCollector,
  ctx: Parameters<TaskRunner<'exec'>>[1],
): Promise<TaskOutcome> {
  const o = outcome.output as ExecOutput | undefined;
  if (!o?.truncated || !ctx.storeMemory || (ctx.maxSpillBytes ?? 0) <= 0) return outcome;
  const memory: Partial<Record<'stdout' | 'stderr', MemoryRef>> = {};
  try {
    for (const stream of ['stdout', 'stderr'] as const) {
      const bytes = out.fullBytesOf(stream);
      if (bytes.length <= Buffer.byteLength(o[stream], 'utf8')) continue;
      memory[stream] = await ctx.storeMemory(bytes, {
        contentType: 'text/plain',
        tags: ['task-output', stream],
      });
    }
  } catch (err) {
    const memoryError = err instanceof GovError ? serializeError(err) : { message: String(err) };
    return { ...outcome, output: { ...o, memoryError } };
  }
  return { ...outcome, output: { ...o, memory, ...(out.spillTruncated ? { spillTruncated: true } : {}) } };
}

/** A relative `cwd` inside the task dir; PolicyViolationError for an absolute or escaping one. */
export function resolveTaskCwd(taskDir: string, cwd: string | undefined): string {
  if (cwd === undefined || cwd === '' || cwd === '.') return taskDir;
  const target = resolve(taskDir, cwd);
  const rel = relative(taskDir, target);
  if (isAbsolute(cwd) || rel.startsWith('..') || isAbsolute(rel)) {
    throw new PolicyViolationError(
      `exec cwd ${JSON.stringify(cwd)} leaves the task's own working directory`,
      { details: { cwd } },
    );
  }
  return target;
}

function safeName(taskId: string): string {
  return taskId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'task';
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** `/proc/<pid>/stat` fields of interest: the command name and the state letter; undefined when gone. */
function procStat(pid: number): { comm: string; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), state: stat.slice(close + 2, close + 3) };
  } catch {
    return undefined;
  }
}

/** SIGKILLs the sandbox's PID 1 (taking its PID namespace down) if that pid is still a live bwrap. */
function killSandbox(pid: number | undefined): void {
  if (pid === undefined) return;
  const st = procStat(pid);
  // The pid is checked before the kill: once reaped it could belong to any other process.
  if (!st || st.state === 'Z' || st.comm !== 'bwrap') return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Resolves once the sandbox's PID 1 has finished exiting (the kernel has killed its namespace), at most 5 s. */
async function sandboxGone(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  for (let waited = 0; waited < 5_000; waited += 5) {
    const st = procStat(pid);
    if (!st || st.state === 'Z' || st.comm !== 'bwrap') return;
    await sleep(5);
  }
}

export const runExec: TaskRunner<'exec'> = async (task, ctx) => {
  let timeoutMs: number;
  let maxOutputBytes: number;
  let taskDir: string;
  let cwdRel: string;
  let env: Record<string, string>;
  try {
    timeoutMs = numberField(task.timeoutMs, 'timeoutMs');
    maxOutputBytes = Math.min(numberField(task.maxOutputBytes, 'maxOutputBytes'), MAX_EXEC_OUTPUT_BYTES);
    if (task.network && !tierAtLeast(ctx.tier, EXEC_NETWORK_MIN_TIER)) {
      throw new TierForbiddenError(
        `exec with network needs ${EXEC_NETWORK_MIN_TIER}; agent ${ctx.agentId} is ${ctx.tier}`,
        { details: { tier: ctx.tier, requiredTier: EXEC_NETWORK_MIN_TIER } },
      );
    }
    env = buildExecEnv(task.env, ctx.agentEnv, ctx.env);
    if (ctx.sandbox.mode === 'bwrap') {
      const reason = await probeSandbox(ctx.sandbox);
      if (reason !== undefined) throw sandboxUnavailable(reason);
    } else {
      ctx.warn("UNSANDBOXED exec task: the development switch is on; the task runs with the agent's rights", {
        taskId: ctx.taskId,
      });
    }
    // Resolved against a stand-in root first, so an escaping cwd is refused before anything is made.
    cwdRel = relative('/task', resolveTaskCwd('/task', task.cwd));
    taskDir = await makeTaskDir(ctx.sandbox, safeName(ctx.taskId), cwdRel);
  } catch (err) {
    return failed(
      err instanceof GovError
        ? err
        : new TaskFailedError(
            `exec: cannot prepare the task: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          ),
    );
  }
  try {
    const how: SandboxSpawn =
      ctx.sandbox.mode === 'bwrap'
        ? sandboxSpawn(ctx.sandbox, {
            taskDir,
            cwdRel,
            network: task.network,
            timeoutMs,
            command: task.command,
            env: { ...env, AGOV_REPORT_FILE: `${SANDBOX_WORK_DIR}/${TASK_REPORT_FILE}` },
          })
        : {
            file: task.command[0]!,
            args: task.command.slice(1),
            env: { ...env, AGOV_REPORT_FILE: join(taskDir, TASK_REPORT_FILE) },
          };
    const outcome = await spawnAndWait(
      task,
      how,
      { cwd: resolve(taskDir, cwdRel), timeoutMs, maxOutputBytes },
      ctx,
    );
    return withReports(outcome, await readTaskReports(taskDir));
  } finally {
    if (!ctx.keepTaskDirs) await removeTaskDir(taskDir);
  }
};

/** The task's outcome reports (task-reports.ts) ride in its output, for the orchestrator to count. */
function withReports(outcome: TaskOutcome, r: { reports: TaskReport[]; dropped: number }): TaskOutcome {
  if (r.reports.length === 0 && r.dropped === 0) return outcome;
  const output = {
    ...(outcome.output as Record<string, unknown>),
    reports: r.reports,
    reportsDropped: r.dropped,
  };
  return { ...outcome, output };
}

/** The outcome of a program that ended: timed out, exited 0, or failed with its code or signal. */
function exitOutcome(program: string, o: ExecOutput, timedOut: boolean, timeoutMs: number): TaskOutcome {
  if (timedOut)
    return failed(
      new TimeoutError(`exec: ${program} timed out after ${timeoutMs} ms`, { details: { timeoutMs } }),
      o,
    );
  if (o.exitCode === 0) return succeeded(o);
  return failed(
    new TaskFailedError(
      o.exitCode === null
        ? `exec: ${program} was killed by ${o.signal}`
        : `exec: ${program} exited with code ${o.exitCode}`,
      { details: { exitCode: o.exitCode, signal: o.signal } },
    ),
    o,
  );
}

/** The sandbox's PID 1 as bwrap reports it on its info fd (`"child-pid": N`), once it has. */
function watchSandboxPid(child: ChildProcess, infoFd: number | undefined): { pid: number | undefined } {
  const sandbox: { pid: number | undefined } = { pid: undefined };
  if (infoFd) {
    let info = '';
    child.stdio[infoFd]?.on('data', (c: Buffer) => {
      info += c.toString('utf8');
      const m = /"child-pid"\s*:\s*(\d+)/.exec(info);
      if (m) sandbox.pid = Number(m[1]);
    });
  }
  return sandbox;
}

function spawnAndWait(
  task: TaskOf<'exec'>,
  how: SandboxSpawn,
  run: { cwd: string; timeoutMs: number; maxOutputBytes: number },
  ctx: Parameters<TaskRunner<'exec'>>[1],
): Promise<TaskOutcome> {
  const program = task.command[0]!;
  const started = ctx.clock.now();
  const out = new OutputCollector(run.maxOutputBytes, ctx.maxSpillBytes ?? 0);
  return new Promise<TaskOutcome>((resolveOutcome) => {
    let settled = false;
    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timers: ReturnType<typeof ctx.clock.setTimeout>[] = [];

    let child: ChildProcess;
    try {
      child = spawn(how.file, how.args, {
        cwd: run.cwd,
        env: how.env,
        ...(how.uid === undefined ? {} : { uid: how.uid, gid: how.gid }),
        shell: false,
        detached: true,
        stdio: how.infoFd ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      resolveOutcome(
        failed(new TaskFailedError(`exec: cannot start ${program}: ${String(err)}`, { cause: err })),
      );
      return;
    }

    const output = (): ExecOutput => ({
      exitCode: exit?.code ?? null,
      signal: exit?.signal ?? null,
      stdout: out.text('stdout'),
      stderr: out.text('stderr'),
      truncated: out.truncated,
      timedOut,
      durationMs: ctx.clock.now() - started,
    });

    const finish = (outcome: TaskOutcome) => {
      if (settled) return;
      settled = true;
      for (const t of timers) ctx.clock.clear(t);
      ctx.signal.removeEventListener('abort', onAbort);
      void claimCheck(outcome, out, ctx).then(resolveOutcome, () => resolveOutcome(outcome));
    };

    // The sandbox's PID 1, as the host sees it: killing it takes the whole PID namespace down, and
    // bwrap (our child) exits only once that is done.
    const sandbox = watchSandboxPid(child, how.infoFd);
    const terminate = () => {
      killSandbox(sandbox.pid);
      killGroup(child, 'SIGTERM');
      timers.push(ctx.clock.setTimeout(() => killGroup(child, 'SIGKILL'), ctx.killGraceMs));
    };
    const onAbort = () => terminate();

    child.stdout?.on('data', (c: Buffer) => out.add('stdout', c));
    child.stderr?.on('data', (c: Buffer) => out.add('stderr', c));
    child.on('error', (err) => {
      // Spawn failures (ENOENT, EACCES) arrive here with no exit.
      if (exit === undefined)
        finish(
          failed(
            new TaskFailedError(`exec: cannot start ${program}: ${err.message}`, { cause: err }),
            output(),
          ),
        );
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Nothing the program started may outlive it.
      killGroup(child, 'SIGKILL');
    });
    child.on('close', async () => {
      // bwrap reports the program's exit before its namespace is torn down: wait for that, so nothing
      // of the task is left when its result goes out.
      killSandbox(sandbox.pid);
      await sandboxGone(sandbox.pid);
      finish(exitOutcome(program, output(), timedOut, run.timeoutMs));
    });

    timers.push(
      ctx.clock.setTimeout(() => {
        timedOut = true;
        terminate();
      }, run.timeoutMs),
    );
    if (ctx.signal.aborted) terminate();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}
