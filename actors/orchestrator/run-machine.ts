import { DEFAULT_SCHEDULE_TO_START_MS } from '../../protocols/pipeline/options.ts';
import {
  type Effect,
  isTerminalRun,
  type RunEventBody,
  type RunInput,
  type RunRecord,
  stageDef,
  stageOfTask,
} from './run-record.ts';

export * from './run-record.ts';
import { Stepper } from './run-stepper.ts';

export interface Step {
  run: RunRecord;
  events: RunEventBody[];
  effects: Effect[];
  /** False when the input changed nothing (stale, duplicate, or not applicable). */
  changed: boolean;
}

const unchangedStep = (prev: RunRecord): Step => ({ run: prev, events: [], effects: [], changed: false });

/** One case of `step`, on a live run: applies `input` to `s`; false when it changes nothing. */
type Handler<T extends RunInput['type']> = (s: Stepper, input: Extract<RunInput, { type: T }>) => boolean;

function startOrResume(s: Stepper, input: Extract<RunInput, { type: 'start' | 'resume' }>): boolean {
  const { run, now } = s;
  if (input.type === 'start' && run.status !== 'pending') return false;
  run.status = 'running';
  run.startedAt ??= now;
  s.emit({ event: input.type === 'start' ? 'run-started' : 'run-resumed' });
  s.maybeFinish();
  return true;
}

const dispatch: Handler<'dispatch'> = (s, input) => {
  const { run, now } = s;
  const st = run.stages[input.stageId];
  if (st?.status !== 'pending') return false;
  const def = stageDef(run, input.stageId);
  const attempt = st.attempt + 1;
  s.patch(st.stageId, {
    status: 'dispatched',
    attempt,
    taskId: input.taskId,
    agentId: input.agentId,
    childRunId: undefined,
    startedAt: now,
    deadline: now + def.timeoutMs,
    retryAt: undefined,
    waitDeadline: undefined,
    fraction: undefined,
  });
  s.emit({ event: 'stage-dispatched', stageId: st.stageId, attempt, agentId: input.agentId });
  s.effects.push({
    kind: 'assign',
    stageId: st.stageId,
    taskId: input.taskId,
    attempt,
    agentId: input.agentId,
  });
  return true;
};

const startChild: Handler<'start-child'> = (s, input) => {
  const { run, now } = s;
  const st = run.stages[input.stageId];
  if (st?.status !== 'pending') return false;
  const def = stageDef(run, input.stageId);
  const attempt = st.attempt + 1;
  s.patch(st.stageId, {
    status: 'running',
    attempt,
    taskId: input.childRunId,
    childRunId: input.childRunId,
    agentId: undefined,
    startedAt: now,
    deadline: now + def.timeoutMs,
    retryAt: undefined,
    waitDeadline: undefined,
  });
  s.emit({ event: 'stage-dispatched', stageId: st.stageId, attempt });
  s.effects.push({ kind: 'start-child', stageId: st.stageId, childRunId: input.childRunId });
  return true;
};

const refused: Handler<'refused'> = (s, input) => {
  const st = stageOfTask(s.run, input.taskId);
  if (st?.status !== 'dispatched') return false;
  s.patch(st.stageId, {
    status: 'pending',
    attempt: st.attempt - 1,
    taskId: undefined,
    agentId: undefined,
    deadline: undefined,
    startedAt: undefined,
  });
  return true;
};

const accepted: Handler<'accepted'> = (s, input) => {
  const st = stageOfTask(s.run, input.taskId);
  if (st?.status !== 'dispatched') return false;
  s.patch(st.stageId, { status: 'running' });
  s.emit({ event: 'stage-accepted', stageId: st.stageId, attempt: st.attempt, agentId: input.agentId });
  return true;
};

const progress: Handler<'progress'> = (s, input) => {
  const st = stageOfTask(s.run, input.taskId);
  if (!st) return false;
  s.acceptedImplicitly(st);
  s.patch(st.stageId, {
    status: 'running',
    ...(input.fraction === undefined ? {} : { fraction: input.fraction }),
  });
  s.emit({
    event: 'stage-progress',
    stageId: st.stageId,
    attempt: st.attempt,
    ...(st.agentId ? { agentId: st.agentId } : {}),
    ...(input.fraction === undefined ? {} : { fraction: input.fraction }),
  });
  return true;
};

const result: Handler<'result'> = (s, input) => {
  const st = stageOfTask(s.run, input.taskId);
  if (!st) return false;
  s.acceptedImplicitly(st);
  if (input.status !== 'succeeded') {
    const error = input.error ?? {
      code: 'GOV_ERR_INTERNAL',
      message: `task ${input.status} without an error`,
      retryable: true,
    };
    s.attemptFailed(st, error);
    return true;
  }
  s.patch(st.stageId, {
    status: 'succeeded',
    finishedAt: s.now,
    deadline: undefined,
    fraction: 1,
    output: input.output,
    error: undefined,
  });
  s.emit({
    event: 'stage-succeeded',
    stageId: st.stageId,
    attempt: st.attempt,
    ...(st.agentId ? { agentId: st.agentId } : {}),
  });
  s.maybeFinish();
  return true;
};

const timeout: Handler<'timeout'> = (s, input) => {
  const st = stageOfTask(s.run, input.taskId);
  if (!st) return false;
  const def = stageDef(s.run, st.stageId);
  s.emit({
    event: 'stage-timed-out',
    stageId: st.stageId,
    attempt: st.attempt,
    ...(st.agentId ? { agentId: st.agentId } : {}),
  });
  s.cancelAttempt(st, `stage timed out after ${def.timeoutMs} ms`);
  s.attemptFailed(st, {
    code: 'GOV_ERR_TIMEOUT',
    message: `stage ${st.stageId} attempt ${st.attempt} timed out after ${def.timeoutMs} ms`,
    retryable: true,
    details: { stageId: st.stageId, attempt: st.attempt, timeoutMs: def.timeoutMs },
  });
  return true;
};

const lost: Handler<'lost'> = (s, input) => {
  const st = stageOfTask(s.run, input.taskId);
  if (!st) return false;
  s.attemptFailed(st, input.error, { lost: true });
  return true;
};

const childFinished: Handler<'child-finished'> = (s, input) => {
  const st = stageOfTask(s.run, input.childRunId);
  if (!st || st.childRunId !== input.childRunId) return false;
  if (input.status !== 'succeeded') {
    s.attemptFailed(
      st,
      input.error ?? {
        code: 'GOV_ERR_INTERNAL',
        message: `child run ${input.childRunId} ${input.status}`,
        retryable: false,
      },
    );
    return true;
  }
  s.patch(st.stageId, {
    status: 'succeeded',
    finishedAt: s.now,
    deadline: undefined,
    fraction: 1,
    error: undefined,
  });
  s.emit({ event: 'stage-succeeded', stageId: st.stageId, attempt: st.attempt });
  s.maybeFinish();
  return true;
};

const cancel: Handler<'cancel'> = (s, input) => {
  s.finish(
    'cancelled',
    { code: 'GOV_ERR_RUN_CANCELLED', message: `run cancelled: ${input.reason}`, retryable: false },
    input.reason,
  );
  return true;
};

/** Governance stops the run where it stands: nothing more is dispatched or retried, what runs is
 * cancelled, and the run ends `contained` (not `failed`: no stage decided it). */
const contain: Handler<'contain'> = (s, input) => {
  s.finish(
    'contained',
    {
      code: 'GOV_ERR_RUN_CONTAINED',
      message: `run contained (${input.cause}): ${input.reason}`,
      retryable: false,
      details: { cause: input.cause },
    },
    `run contained: ${input.reason}`,
    { cause: input.cause },
  );
  return true;
};

/** An operator holds the run: nothing new is dispatched; ready stages' schedule-to-start bounds stop. */
const pause: Handler<'pause'> = (s, input) => {
  if (s.run.paused) return false;
  s.run.paused = {
    at: s.now,
    ...(input.by ? { by: input.by } : {}),
    ...(input.reason ? { reason: input.reason } : {}),
  };
  for (const st of Object.values(s.run.stages))
    if (st.status === 'pending' && st.waitDeadline !== undefined)
      s.patch(st.stageId, { waitDeadline: undefined });
  return true;
};

/** The run goes on; ready stages get fresh schedule-to-start bounds (markReady, after the step). */
const unpause: Handler<'unpause'> = (s) => {
  if (!s.run.paused) return false;
  delete s.run.paused;
  return true;
};

const scheduleTimeout: Handler<'schedule-timeout'> = (s, input) => {
  const { run, now } = s;
  const st = run.stages[input.stageId];
  if (run.status !== 'running' || run.paused || st?.status !== 'pending') return false;
  if (st.waitDeadline === undefined || st.waitDeadline > now) return false;
  const def = stageDef(run, st.stageId);
  const bound = def.scheduleToStartMs ?? DEFAULT_SCHEDULE_TO_START_MS;
  // The attempt that never started still counts: against retries.max and the error budget.
  const attempt = st.attempt + 1;
  const cur = s.patch(st.stageId, {
    attempt,
    agentId: undefined,
    taskId: undefined,
    waitDeadline: undefined,
    startedAt: undefined,
  });
  s.attemptFailed(cur, {
    code: 'GOV_ERR_SCHEDULE_TO_START_TIMEOUT',
    message: `stage ${st.stageId} attempt ${attempt}: no agent took it within ${bound} ms (scheduleToStartMs)`,
    retryable: true,
    details: { stageId: st.stageId, attempt, scheduleToStartMs: bound },
  });
  return true;
};

const HANDLERS: { [T in RunInput['type']]: Handler<T> } = {
  start: startOrResume,
  resume: startOrResume,
  dispatch,
  'start-child': startChild,
  refused,
  accepted,
  progress,
  result,
  timeout,
  lost,
  'child-finished': childFinished,
  cancel,
  contain,
  pause,
  unpause,
  'schedule-timeout': scheduleTimeout,
};

/**
 * Applies one input to a run: the new record, the events to publish and the effects to carry out.
 * A finished run takes no input.
 */
export function step(prev: RunRecord, input: RunInput, now: number): Step {
  if (isTerminalRun(prev.status)) return unchangedStep(prev);
  const s = new Stepper(prev, now);
  const handler = HANDLERS[input.type] as Handler<RunInput['type']>;
  if (!handler(s, input)) return unchangedStep(prev);
  s.markReady();
  return { run: s.run, events: s.events, effects: s.effects, changed: true };
}
