/**
 * `npm run bench -- sandbox`: what the exec sandbox costs per task. The same short program (`true`)
 * is run through exec's runner, paired, round after round:
 * - bare: a plain spawn (the development switch `unsandboxed`, the floor any exec task pays);
 * - sandboxed: prlimit + bwrap as the unprivileged sandbox user, with its task directory made and
 *   removed, and the namespace's teardown awaited (what every real exec task pays).
 * Reported: medians and p99 of both, and the ratio sandboxed / bare of the medians.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_SANDBOX_MAX_FILE_BYTES,
  DEFAULT_SANDBOX_MAX_MEMORY_BYTES,
  DEFAULT_SANDBOX_MAX_PROCESSES,
} from '../actors/agent/agent-options.ts';
import { probeSandbox, type SandboxSettings } from '../actors/agent/tasks/sandbox.ts';
import { runExec, type TaskRunContext } from '../actors/agent/tasks/index.ts';
import { systemClock } from '../infra/clock/clock.ts';
import { report, round, summarize } from './stats.ts';

const ROUNDS = 60;

export async function benchSandbox(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'agov-bench-sandbox-'));
  chmodSync(root, 0o711);
  const base: SandboxSettings = {
    mode: 'bwrap',
    uid: 65534,
    gid: 65534,
    root,
    limits: {
      maxProcesses: DEFAULT_SANDBOX_MAX_PROCESSES,
      maxMemoryBytes: DEFAULT_SANDBOX_MAX_MEMORY_BYTES,
      maxFileBytes: DEFAULT_SANDBOX_MAX_FILE_BYTES,
    },
  };
  const why = await probeSandbox(base);
  if (why) throw new Error(`the sandbox cannot start here: ${why}`);
  const ctx = (sandbox: SandboxSettings): TaskRunContext => ({
    agentId: 'bench',
    tier: 'T1',
    taskId: 'bench',
    signal: new AbortController().signal,
    env: {},
    agentEnv: {},
    workDir: root,
    keepTaskDirs: false,
    sandbox,
    warn: () => {},
    killGraceMs: 1_000,
    httpMaxBodyBytes: 1_000,
    clock: systemClock,
    progress: () => {},
  });
  const task = {
    kind: 'exec' as const,
    command: ['/usr/bin/true'],
    env: { pass: [], set: {} },
    timeoutMs: 10_000,
    maxOutputBytes: 1_000,
    network: false,
  };
  const once = async (sandbox: SandboxSettings) => {
    const t0 = performance.now();
    const r = await runExec(task, ctx(sandbox));
    if (r.status !== 'succeeded') throw new Error(`bench task failed: ${JSON.stringify(r.error)}`);
    return performance.now() - t0;
  };
  const bareSettings: SandboxSettings = { ...base, mode: 'unsandboxed' };
  for (let i = 0; i < 5; i++) {
    await once(bareSettings);
    await once(base);
  }
  const bare: number[] = [];
  const boxed: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which goes first, so drift in the machine's load falls on both alike.
    if (i % 2 === 0) {
      bare.push(await once(bareSettings));
      boxed.push(await once(base));
    } else {
      boxed.push(await once(base));
      bare.push(await once(bareSettings));
    }
  }
  rmSync(root, { recursive: true, force: true });
  const b = summarize(bare);
  const s = summarize(boxed);
  report(
    'sandbox',
    {
      rounds: ROUNDS,
      bareSpawnMs: { p50: round(b.p50), p99: round(b.p99) },
      sandboxedMs: { p50: round(s.p50), p99: round(s.p99) },
      overheadMsP50: round(s.p50 - b.p50),
    },
    { sandboxedVsBareP50: round(s.p50 / b.p50), sandboxedVsBareP99: round(s.p99 / b.p99) },
  );
}
