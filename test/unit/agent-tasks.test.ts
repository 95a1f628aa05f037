import { describe, expect, it } from 'vitest';
import {
  buildExecEnv,
  numberField,
  OutputCollector,
  resolveTaskCwd,
  runFail,
  runNoop,
  runPipeline,
  runSleep,
  type TaskRunContext,
} from '../../actors/agent/tasks/index.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { InvalidMessageError, PolicyViolationError } from '../../protocols/vocabulary/errors.ts';

function ctx(clock = new ManualClock(0), signal = new AbortController().signal): TaskRunContext {
  return {
    agentId: 'a1',
    tier: 'T1',
    taskId: 't1',
    signal,
    env: {},
    agentEnv: {},
    workDir: '/nonexistent',
    keepTaskDirs: false,
    sandbox: {
      mode: 'bwrap',
      uid: 65534,
      gid: 65534,
      limits: { maxProcesses: 64, maxMemoryBytes: 2 ** 31, maxFileBytes: 2 ** 20 },
    },
    warn: () => {},
    killGraceMs: 10,
    httpMaxBodyBytes: 100,
    clock,
    progress: () => {},
  };
}

describe('exec environment allowlist', () => {
  it('copies only the passed names that the agent has, then the set values, then the assignment env', () => {
    const env = buildExecEnv(
      { pass: ['HOME', 'MISSING'], set: { MODE: 'ci', PIPELINE_ID: 'spoofed' } },
      { HOME: '/home/a', SECRET: 'x' },
      { PIPELINE_ID: 'run-1' },
    );
    expect(env).toEqual({ HOME: '/home/a', MODE: 'ci', PIPELINE_ID: 'run-1' });
  });

  it('is empty when nothing is listed, whatever the agent environment holds', () => {
    expect(buildExecEnv({}, { PATH: '/bin', AWS_SECRET_ACCESS_KEY: 'x' }, {})).toEqual({});
  });
});

describe('exec output cap', () => {
  it('keeps stdout and stderr up to a shared budget and flags the rest as truncated', () => {
    const out = new OutputCollector(10);
    out.add('stdout', Buffer.from('123456'));
    out.add('stderr', Buffer.from('abcdef'));
    out.add('stdout', Buffer.from('zz'));
    expect(out.text('stdout')).toBe('123456');
    expect(out.text('stderr')).toBe('abcd');
    expect(out.truncated).toBe(true);
  });

  it('is not truncated when the output fits exactly', () => {
    const out = new OutputCollector(4);
    out.add('stdout', Buffer.from('1234'));
    expect(out.truncated).toBe(false);
  });
});

describe('exec working directory', () => {
  it('keeps a relative cwd inside the task directory', () => {
    expect(resolveTaskCwd('/w/tasks/t-1', undefined)).toBe('/w/tasks/t-1');
    expect(resolveTaskCwd('/w/tasks/t-1', 'src/app')).toBe('/w/tasks/t-1/src/app');
  });

  it('refuses an absolute or escaping cwd as a policy violation', () => {
    expect(() => resolveTaskCwd('/w/tasks/t-1', '/etc')).toThrow(PolicyViolationError);
    expect(() => resolveTaskCwd('/w/tasks/t-1', '../t-2')).toThrow(PolicyViolationError);
    expect(() => resolveTaskCwd('/w/tasks/t-1', 'a/../../..')).toThrow(PolicyViolationError);
  });
});

describe('simple task runners', () => {
  it('noop succeeds', async () => {
    expect(await runNoop({ kind: 'noop' }, ctx())).toEqual({ status: 'succeeded' });
  });

  it('fail fails with its own message and code, or GOV_ERR_TASK_FAILED', async () => {
    expect(await runFail({ kind: 'fail', message: 'boom', code: 'E42' }, ctx())).toEqual({
      status: 'failed',
      error: { code: 'E42', message: 'boom', retryable: false },
    });
    expect((await runFail({ kind: 'fail' }, ctx())).error?.code).toBe('GOV_ERR_TASK_FAILED');
  });

  it('pipeline is reported as not handled by the agent', async () => {
    const out = await runPipeline({ kind: 'pipeline', name: 'child', params: {} }, ctx());
    expect(out.status).toBe('failed');
    expect(out.error).toMatchObject({
      code: 'GOV_ERR_TASK_NOT_HANDLED',
      details: { kind: 'pipeline', name: 'child' },
    });
  });

  it('sleep waits on the clock and succeeds', async () => {
    const clock = new ManualClock(0);
    const p = runSleep({ kind: 'sleep', ms: 7_200_000 }, ctx(clock));
    clock.advance(7_200_000);
    expect(await p).toEqual({ status: 'succeeded', output: { sleptMs: 7_200_000 } });
  });

  it('sleep ends at once when aborted', async () => {
    const clock = new ManualClock(0);
    const ac = new AbortController();
    const p = runSleep({ kind: 'sleep', ms: 60_000 }, ctx(clock, ac.signal));
    ac.abort(new Error('cancel'));
    expect(await p).toEqual({ status: 'cancelled' });
    expect(clock.pending()).toBe(0);
  });

  it('refuses a numeric field that still holds a reference', () => {
    expect(numberField(5, 'ms')).toBe(5);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the pipeline DSL's reference syntax, not a JS template.
    expect(() => numberField('${{ params.ms }}', 'ms')).toThrow(InvalidMessageError);
  });
});
