import type { Task } from '../../../protocols/pipeline/index.ts';
import { runExec } from './exec.ts';
import { runFail } from './fail.ts';
import { runHttp } from './http.ts';
import { runNoop } from './noop.ts';
import { runPipeline } from './pipeline.ts';
import { runSleep } from './sleep.ts';
import type { TaskOutcome, TaskRunContext, TaskRunner } from './task-runner.ts';

export * from './task-runner.ts';
export { buildExecEnv, OutputCollector, resolveTaskCwd, runExec } from './exec.ts';
export { runFail } from './fail.ts';
export { runHttp } from './http.ts';
export { runNoop } from './noop.ts';
export { runPipeline } from './pipeline.ts';
export { runSleep } from './sleep.ts';

/** The runner of every task kind. */
export const TASK_RUNNERS: { [K in Task['kind']]: TaskRunner<K> } = {
  noop: runNoop,
  sleep: runSleep,
  fail: runFail,
  exec: runExec,
  http: runHttp,
  pipeline: runPipeline,
};

/** Task kinds an agent runs itself (its capabilities); `pipeline` is the orchestrator's. */
export const AGENT_TASK_KINDS: readonly Task['kind'][] = ['noop', 'sleep', 'fail', 'exec', 'http'];

/** Runs `task` with the runner of its kind. */
export function runTask(task: Task, ctx: TaskRunContext): Promise<TaskOutcome> {
  return (TASK_RUNNERS[task.kind] as TaskRunner)(task as never, ctx);
}
