import { TaskFailedError } from '../../../protocols/index.ts';
import { failed, type TaskRunner } from './task-runner.ts';

/** `fail`: fails at once with the task's `message` and `code` (default GOV_ERR_TASK_FAILED); for tests and drills. T0+. */
export const runFail: TaskRunner<'fail'> = async (task) => {
  const message = task.message ?? 'task failed on request (fail task)';
  if (task.code === undefined) return failed(new TaskFailedError(message));
  return failed({ code: task.code, message, retryable: false });
};
