import { succeeded, type TaskRunner } from './task-runner.ts';

/** `noop`: does nothing and succeeds. T0+. */
export const runNoop: TaskRunner<'noop'> = async () => succeeded();
