import { numberField, succeeded, type TaskOutcome, type TaskRunner } from './task-runner.ts';

/** `sleep`: waits `ms` (on the agent's clock) and succeeds; an abort ends the wait at once. T0+. */
export const runSleep: TaskRunner<'sleep'> = (task, ctx) => {
  const ms = numberField(task.ms, 'ms');
  return new Promise<TaskOutcome>((resolve) => {
    if (ctx.signal.aborted) return resolve({ status: 'cancelled' });
    const timer = ctx.clock.setTimeout(() => {
      ctx.signal.removeEventListener('abort', onAbort);
      resolve(succeeded({ sleptMs: ms }));
    }, ms);
    const onAbort = () => {
      ctx.clock.clear(timer);
      resolve({ status: 'cancelled' });
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
};
