/**
 * `exec`: runs a program in a sandbox. T1+.
 *
 * - argv only, never a shell (`command[0]` is the program, looked up on the task's own PATH if it
 *   passes one, else the system default path);
 * - a fresh working directory per task, `<workDir>/tasks/<taskId>-XXXXXX` (a relative `cwd` is a
 *   folder inside it; an absolute or escaping `cwd` is refused); removed afterwards unless the agent
 *   keeps task dirs;
 * - environment = only the allowlist: names in `env.pass` copied from the agent's environment, then
 *   `env.set`, then the assignment's env (PIPELINE_ID etc., which wins). Nothing else is inherited;
 * - its own process group; on timeout or abort SIGTERM to the group, SIGKILL after the grace period;
 *   once the program exits, anything it left running in its group is killed;
 * - stdout + stderr together capped at `maxOutputBytes`; beyond that output is dropped and `truncated` set.
 *
 * Output: `{ exitCode, signal, stdout, stderr, truncated, timedOut, durationMs }`. Exit 0 succeeds;
 * anything else fails with GOV_ERR_TASK_FAILED (GOV_ERR_TIMEOUT when its own timeout fired).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { GovError, PolicyViolationError, TaskFailedError, TimeoutError } from '../../../protocols/index.ts';
import type { TaskOf } from '../../../protocols/pipeline/index.ts';
import { failed, numberField, succeeded, type TaskOutcome, type TaskRunner } from './task-runner.ts';

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
 */
export function buildExecEnv(
  spec: { pass?: readonly string[]; set?: Readonly<Record<string, string>> },
  agentEnv: Readonly<Record<string, string | undefined>>,
  assigned: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of spec.pass ?? []) {
    const v = agentEnv[name];
    if (v !== undefined) env[name] = v;
  }
  Object.assign(env, spec.set ?? {}, assigned);
  return env;
}

/** Collects stdout and stderr up to a shared byte budget. */
export class OutputCollector {
  private readonly chunks: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
  private used = 0;
  truncated = false;

  constructor(private readonly maxBytes: number) {}

  add(stream: 'stdout' | 'stderr', chunk: Buffer): void {
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

export const runExec: TaskRunner<'exec'> = async (task, ctx) => {
  let timeoutMs: number;
  let maxOutputBytes: number;
  let taskDir: string;
  let cwd: string;
  try {
    timeoutMs = numberField(task.timeoutMs, 'timeoutMs');
    maxOutputBytes = numberField(task.maxOutputBytes, 'maxOutputBytes');
    const tasksDir = join(ctx.workDir, 'tasks');
    await mkdir(tasksDir, { recursive: true });
    taskDir = await mkdtemp(join(tasksDir, `${safeName(ctx.taskId)}-`));
    cwd = resolveTaskCwd(taskDir, task.cwd);
    mkdirSync(cwd, { recursive: true });
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
    return await spawnAndWait(
      task,
      { cwd, timeoutMs, maxOutputBytes, env: buildExecEnv(task.env, ctx.agentEnv, ctx.env) },
      ctx,
    );
  } finally {
    if (!ctx.keepTaskDirs) await rm(taskDir, { recursive: true, force: true }).catch(() => undefined);
  }
};

function spawnAndWait(
  task: TaskOf<'exec'>,
  run: { cwd: string; timeoutMs: number; maxOutputBytes: number; env: Record<string, string> },
  ctx: Parameters<TaskRunner<'exec'>>[1],
): Promise<TaskOutcome> {
  const [program, ...args] = task.command;
  const started = ctx.clock.now();
  const out = new OutputCollector(run.maxOutputBytes);
  return new Promise<TaskOutcome>((resolveOutcome) => {
    let settled = false;
    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timers: ReturnType<typeof ctx.clock.setTimeout>[] = [];

    let child: ChildProcess;
    try {
      child = spawn(program!, args, {
        cwd: run.cwd,
        env: run.env,
        shell: false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
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
      resolveOutcome(outcome);
    };

    const terminate = () => {
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
    child.on('close', () => {
      const o = output();
      if (timedOut)
        finish(
          failed(
            new TimeoutError(`exec: ${program} timed out after ${run.timeoutMs} ms`, {
              details: { timeoutMs: run.timeoutMs },
            }),
            o,
          ),
        );
      else if (o.exitCode === 0) finish(succeeded(o));
      else
        finish(
          failed(
            new TaskFailedError(
              o.exitCode === null
                ? `exec: ${program} was killed by ${o.signal}`
                : `exec: ${program} exited with code ${o.exitCode}`,
              { details: { exitCode: o.exitCode, signal: o.signal } },
            ),
            o,
          ),
        );
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
