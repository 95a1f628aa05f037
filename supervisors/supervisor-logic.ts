/**
 * The supervisor, as a pure reducer. This comment is the supervisor's specification.
 *
 * It mirrors OTP's `supervisor` behaviour (stdlib `supervisor.erl`) for the strategies
 * `one_for_one`, `one_for_all` and `rest_for_one`; differences are marked **[differs]**.
 * No I/O and no clock happen here: every function takes the state (and `now`, epoch ms from the
 * injected Clock) and returns `{ state, commands }`. The runtime carries the commands out.
 *
 * ## Commands (what the runtime must do)
 * - `{type:'start', childId, start}`: start the child from its start descriptor, then report
 *   {@link onChildStarted} or {@link onChildStartFailed}.
 * - `{type:'stop', childId, shutdownMs}`: stop a running child: `brutal_kill` kills it at once; a number
 *   asks it to shut down and kills it after that many ms; `'infinity'` waits as long as it takes.
 *   The exit of a child stopped this way need not be reported (if it is, it is ignored).
 * - `{type:'schedule-restart', childId, delayMs}`: after `delayMs`, call {@link onRestartDue} with that id.
 * - `{type:'escalate', reason, cause, childId, error?}`: the supervisor has stopped all its children and must
 *   now exit with `reason`, which its own parent handles like any child exit.
 *
 * ## Runtime contract
 * Commands are carried out in order, one at a time, each finished before the next (a stop has
 * completed when the child is gone). The outcome of a `start` is fed back before any other input
 * is given to the reducer. This is what OTP gets from starting and terminating children
 * synchronously inside the supervisor process; the reducer therefore issues one `start` at a time
 * and the next one only when the previous start is reported.
 *
 * ## Start (OTP `init/1`)
 * {@link initSupervisor} validates the spec (`ConfigError`), then starts the children one at a time in
 * list order. If one fails to start, the children already started are stopped in reverse start order
 * and the supervisor escalates with reason `{shutdown:'failed_to_start_child'}` (OTP: the supervisor
 * fails to start with `{shutdown, {failed_to_start_child, Id, Reason}}`) **[differs: reported as an
 * escalation, since our supervisor is already running when it starts its children]**.
 *
 * ## A child exits ({@link onChildExit})
 * Exit reasons: `'normal'`, `'shutdown'`, `{shutdown: why}` (all "normal" for transient children, as in
 * OTP) and `{error}` (abnormal: a crash, a kill).
 * - `permanent`: always restarted (even after `'normal'`).
 * - `transient`: restarted only after an abnormal exit; after a normal one its spec is kept, not running.
 * - `temporary`: never restarted; its spec is removed whatever the reason.
 * Exits of children that are not running (already being restarted or stopped on command) and of
 * unknown ids are ignored (OTP ignores `EXIT`s from unknown pids).
 *
 * ## Restarting (OTP `restart/2`)
 * 1. The restart is recorded first. If more than `intensity` restarts have happened within the last
 *    `periodMs` (a restart exactly `periodMs` old still counts, as in OTP's `>=` test), the supervisor
 *    gives up: it stops every running child in reverse start order and escalates with reason
 *    `{shutdown:'reached_max_restart_intensity'}` (OTP exits with reason `shutdown` and logs
 *    `reached_max_restart_intensity`). Intensity 0 means: give up at the first restart.
 *    **[differs: OTP counts whole seconds; we count milliseconds]**.
 * 2. By strategy:
 *    - `one_for_one`: only the failed child is restarted.
 *    - `one_for_all`: every other child that is running is stopped, in reverse start order; then all
 *      children are started again in start order.
 *    - `rest_for_one`: the children after the failed one (in start order) that are running are stopped,
 *      in reverse start order; then the failed child and those after it are started again in start order.
 *    Temporary children stopped in step 2 are removed, never restarted. As in OTP, non-temporary children in
 *    the affected range are started again even if they were not running (a transient child that had
 *    exited normally, or one stopped with {@link terminateChild}).
 * 3. Backoff **[differs: OTP restarts at once]**: when the spec has `backoff`, the restart of the
 *    affected children waits `min(maxMs, initialMs * factor^(k-1))` ms, where `k` counts the failed child's
 *    restarts within the last `periodMs`, this one included (`schedule-restart`). Without backoff, or with
 *    a 0 ms delay, they start at once. A later restart that takes in children already waiting takes them
 *    over; the earlier timer then finds nothing to do.
 *
 * ## A start fails ({@link onChildStartFailed})
 * - while the supervisor starts (init): see Start above.
 * - a restart: counts as another restart (OTP's `try_again_restart` goes through `restart/2`, so it adds to
 *   the intensity): the child and, by strategy, its siblings are restarted as if it had crashed. A child
 *   that keeps failing to start thus exhausts the intensity and the supervisor escalates.
 * - {@link startChild}: the child is not added (OTP `start_child/2` returns `{error, _}` and keeps nothing).
 * - {@link restartChild}: the child stays, not running (OTP `restart_child/2` returns the error).
 *
 * ## Stopping ({@link stopSupervisor})
 * Every running child is stopped in reverse start order (OTP `terminate/2`). The state becomes
 * `terminated`; later inputs are ignored and later calls to the dynamic functions throw.
 *
 * ## Dynamic children (OTP `start_child/2`, `terminate_child/2`, `restart_child/2`, `delete_child/2`)
 * - {@link startChild}: appends a child at the end of the start order and starts it. Throws
 *   `InvalidTransitionError` (details.reason `already_present`/`already_started`) for a used id.
 * - {@link terminateChild}: stops the child if running; its spec is kept (not running) unless it is
 *   temporary, then it is removed. Not a restart; intensity unaffected. A pending restart is cancelled.
 * - {@link restartChild}: starts a kept child that is not running; `InvalidTransitionError` with reason
 *   `running` or `restarting` otherwise.
 * - {@link deleteChild}: removes a kept child that is not running; `InvalidTransitionError` with reason
 *   `running` or `restarting` otherwise.
 * Unknown ids throw `NotFoundError`.
 *
 * Not supported: `simple_one_for_one`, significant children and `auto_shutdown`, `ignore` from a start
 * function, code change.
 *
 * The state is plain JSON-safe data.
 */
import { InvalidTransitionError, NotFoundError } from '../protocols/index.ts';
import type { SerializedError } from '../protocols/index.ts';
import { validateChildSpec, validateSupervisorSpec } from './child-spec.ts';
import type { ChildSpec, SupervisorSpec } from './child-spec.ts';

import type {
  ChildExitReason,
  ChildExit,
  ChildStatus,
  StartCause,
  ChildState,
  SupervisorState,
  EscalationCause,
  StopCommand,
  EscalateCommand,
  SupervisorCommand,
  SupervisorStep,
} from './supervisor-state.ts';
export type {
  ChildExitReason,
  ChildExit,
  ChildStatus,
  StartCause,
  ChildState,
  SupervisorPhase,
  SupervisorState,
  EscalationCause,
  StartCommand,
  StopCommand,
  ScheduleRestartCommand,
  EscalateCommand,
  SupervisorCommand,
  SupervisorStep,
} from './supervisor-state.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

/** `'normal'`, `'shutdown'` and `{shutdown: _}`: exits after which a transient child is not restarted. */
export function isNormalExit(reason: ChildExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown' || (typeof reason === 'object' && 'shutdown' in reason);
}

function clone(state: SupervisorState): SupervisorState {
  return {
    ...state,
    children: state.children.map((c) => ({ ...c, restartTimes: [...c.restartTimes] })),
    restarts: [...state.restarts],
  };
}

function newChild(spec: ChildSpec, cause: StartCause): ChildState {
  return {
    spec,
    status: 'pending',
    startCause: cause,
    awaiting: null,
    restartTimes: [],
    restartCount: 0,
    lastExit: null,
  };
}

function indexOf(state: SupervisorState, childId: string): number {
  return state.children.findIndex((c) => c.spec.id === childId);
}

function stopCommand(c: ChildState): StopCommand {
  return { type: 'stop', childId: c.spec.id, shutdownMs: c.spec.shutdownMs };
}

/** Issues the next start when none is outstanding: the first pending child (start order) not waiting on a timer. */
function pump(state: SupervisorState, commands: SupervisorCommand[]): void {
  if (state.phase === 'terminated') return;
  if (state.children.some((c) => c.status === 'starting')) return;
  const next = state.children.find((c) => c.status === 'pending' && c.awaiting === null);
  if (next) {
    next.status = 'starting';
    commands.push({ type: 'start', childId: next.spec.id, start: next.spec.start });
    return;
  }
  if (state.phase === 'starting' && !state.children.some((c) => c.startCause === 'init'))
    state.phase = 'running';
}

/** Stops every running child in reverse start order and ends the supervisor. */
function shutDownAll(state: SupervisorState, commands: SupervisorCommand[]): void {
  for (let i = state.children.length - 1; i >= 0; i--) {
    const c = state.children[i]!;
    if (c.status === 'running') commands.push(stopCommand(c));
    c.status = 'stopped';
    c.startCause = null;
    c.awaiting = null;
  }
  state.phase = 'terminated';
}

function escalate(
  state: SupervisorState,
  commands: SupervisorCommand[],
  cause: EscalationCause,
  childId: string,
  error?: SerializedError | string,
): void {
  shutDownAll(state, commands);
  const cmd: EscalateCommand = { type: 'escalate', reason: { shutdown: cause }, cause, childId };
  if (error !== undefined) cmd.error = error;
  state.escalation = cmd;
  commands.push(cmd);
}

function window(times: number[], now: number, periodMs: number): number[] {
  const threshold = now - periodMs;
  return times.filter((t) => t >= threshold);
}

/** Backoff delay for the k-th restart of a child within the period (k >= 1). */
export function backoffDelayMs(backoff: SupervisorSpec['backoff'], k: number): number {
  if (!backoff) return 0;
  const raw = backoff.initialMs * backoff.factor ** Math.max(0, k - 1);
  return Math.min(backoff.maxMs, Math.max(0, Math.round(raw)));
}

/** OTP `restart/2`: count the restart, give up past the intensity, else restart by strategy. */
function restart(state: SupervisorState, childId: string, now: number, commands: SupervisorCommand[]): void {
  const { spec } = state;
  state.restarts = [...window(state.restarts, now, spec.periodMs), now];
  if (state.restarts.length > spec.intensity) {
    escalate(state, commands, 'reached_max_restart_intensity', childId);
    return;
  }
  const idx = indexOf(state, childId);
  const failed = state.children[idx]!;
  failed.restartTimes = [...window(failed.restartTimes, now, spec.periodMs), now];
  failed.restartCount += 1;

  // one_for_one: the failed child; rest_for_one: it and those after it; one_for_all: everyone.
  const from = spec.strategy === 'one_for_all' ? 0 : idx;
  const to = spec.strategy === 'one_for_one' ? idx : state.children.length - 1;
  const affected = state.children.slice(from, to + 1);
  const removed = new Set<string>();
  for (let i = affected.length - 1; i >= 0; i--) {
    const c = affected[i]!;
    if (c === failed) continue;
    if (c.status === 'running') commands.push(stopCommand(c));
    if (c.spec.restart === 'temporary') removed.add(c.spec.id);
  }
  const group = affected.filter((c) => !removed.has(c.spec.id));
  if (removed.size > 0) state.children = state.children.filter((c) => !removed.has(c.spec.id));

  const delayMs = backoffDelayMs(spec.backoff, failed.restartTimes.length);
  for (const c of group) {
    c.status = 'pending';
    c.startCause = 'restart';
    c.awaiting = delayMs > 0 ? childId : null;
  }
  if (delayMs > 0) commands.push({ type: 'schedule-restart', childId, delayMs });
  pump(state, commands);
}

function requireLive(state: SupervisorState, op: string): void {
  if (state.phase === 'terminated') {
    throw new InvalidTransitionError(`supervisor ${state.spec.id} is terminated; cannot ${op}`, {
      details: { supervisorId: state.spec.id, reason: 'terminated' },
    });
  }
}

function requireChild(state: SupervisorState, childId: string): number {
  const idx = indexOf(state, childId);
  if (idx < 0) {
    throw new NotFoundError(`supervisor ${state.spec.id} has no child ${childId}`, {
      details: { supervisorId: state.spec.id, childId },
    });
  }
  return idx;
}

function notStopped(state: SupervisorState, c: ChildState, op: string): never {
  const reason = c.status === 'pending' ? 'restarting' : 'running';
  throw new InvalidTransitionError(
    `supervisor ${state.spec.id}: cannot ${op} child ${c.spec.id}: ${reason}`,
    {
      details: { supervisorId: state.spec.id, childId: c.spec.id, reason },
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Reducer

/** Validates `spec` (ConfigError) and begins starting its children in order. */
export function initSupervisor(spec: SupervisorSpec, _now: number): SupervisorStep {
  validateSupervisorSpec(spec);
  const state: SupervisorState = {
    spec,
    phase: 'starting',
    children: spec.children.map((c) => newChild(c, 'init')),
    restarts: [],
    escalation: null,
  };
  const commands: SupervisorCommand[] = [];
  pump(state, commands);
  return { state, commands };
}

/** A start command succeeded. */
export function onChildStarted(prev: SupervisorState, childId: string, _now: number): SupervisorStep {
  const state = clone(prev);
  const commands: SupervisorCommand[] = [];
  const c = state.children.find((x) => x.spec.id === childId);
  if (c?.status === 'running') return { state, commands }; // reported twice
  if (c?.status !== 'starting' || state.phase === 'terminated') {
    // Started although no longer wanted (terminated, removed or supervisor stopped meanwhile): stop it again.
    commands.push(c ? stopCommand(c) : { type: 'stop', childId, shutdownMs: 'brutal_kill' });
    return { state, commands };
  }
  c.status = 'running';
  c.startCause = null;
  pump(state, commands);
  return { state, commands };
}

/** A start command failed. See "A start fails" in the module doc. */
export function onChildStartFailed(
  prev: SupervisorState,
  childId: string,
  error: SerializedError | string,
  now: number,
): SupervisorStep {
  const state = clone(prev);
  const commands: SupervisorCommand[] = [];
  const idx = indexOf(state, childId);
  const c = state.children[idx];
  if (c?.status !== 'starting' || state.phase === 'terminated') return { state, commands };
  c.lastExit = { error };
  switch (c.startCause) {
    case 'init':
      c.status = 'stopped';
      escalate(state, commands, 'failed_to_start_child', childId, error);
      break;
    case 'dynamic':
      state.children.splice(idx, 1);
      pump(state, commands);
      break;
    case 'manual':
      c.status = 'stopped';
      c.startCause = null;
      pump(state, commands);
      break;
    default:
      c.status = 'stopped';
      restart(state, childId, now, commands);
  }
  return { state, commands };
}

/** A running child exited. See "A child exits" in the module doc. */
export function onChildExit(prev: SupervisorState, exit: ChildExit, now: number): SupervisorStep {
  const state = clone(prev);
  const commands: SupervisorCommand[] = [];
  const idx = indexOf(state, exit.childId);
  const c = state.children[idx];
  if (c?.status !== 'running' || state.phase === 'terminated') return { state, commands };
  c.lastExit = exit.reason;
  c.status = 'stopped';
  const restartIt =
    c.spec.restart === 'permanent' || (c.spec.restart === 'transient' && !isNormalExit(exit.reason));
  if (c.spec.restart === 'temporary') {
    state.children.splice(idx, 1);
  } else if (restartIt) {
    restart(state, exit.childId, now, commands);
    return { state, commands };
  }
  pump(state, commands);
  return { state, commands };
}

/** A `schedule-restart` timer fired. */
export function onRestartDue(prev: SupervisorState, childId: string, _now: number): SupervisorStep {
  const state = clone(prev);
  const commands: SupervisorCommand[] = [];
  if (state.phase === 'terminated') return { state, commands };
  for (const c of state.children) {
    if (c.status === 'pending' && c.awaiting === childId) c.awaiting = null;
  }
  pump(state, commands);
  return { state, commands };
}

/** Stops every running child in reverse start order; the supervisor is then terminated. */
export function stopSupervisor(prev: SupervisorState): SupervisorStep {
  const state = clone(prev);
  const commands: SupervisorCommand[] = [];
  if (state.phase !== 'terminated') shutDownAll(state, commands);
  return { state, commands };
}

/** Adds a child at the end of the start order and starts it (OTP `start_child/2`). */
export function startChild(prev: SupervisorState, spec: ChildSpec): SupervisorStep {
  requireLive(prev, 'start a child');
  validateChildSpec(spec);
  const existing = prev.children.find((c) => c.spec.id === spec.id);
  if (existing) {
    const reason = existing.status === 'stopped' ? 'already_present' : 'already_started';
    throw new InvalidTransitionError(
      `supervisor ${prev.spec.id}: child ${spec.id} ${reason.replace('_', ' ')}`,
      {
        details: { supervisorId: prev.spec.id, childId: spec.id, reason },
      },
    );
  }
  const state = clone(prev);
  const commands: SupervisorCommand[] = [];
  state.children.push(newChild(spec, 'dynamic'));
  pump(state, commands);
  return { state, commands };
}

/** Stops a child without restarting it (OTP `terminate_child/2`); a temporary child is also removed. */
export function terminateChild(prev: SupervisorState, childId: string): SupervisorStep {
  requireLive(prev, 'terminate a child');
  const state = clone(prev);
  const idx = requireChild(state, childId);
  const c = state.children[idx]!;
  const commands: SupervisorCommand[] = [];
  if (c.status === 'running') commands.push(stopCommand(c));
  c.status = 'stopped';
  c.startCause = null;
  c.awaiting = null;
  if (c.spec.restart === 'temporary') state.children.splice(idx, 1);
  pump(state, commands);
  return { state, commands };
}

/** Starts again a kept child that is not running (OTP `restart_child/2`). */
export function restartChild(prev: SupervisorState, childId: string): SupervisorStep {
  requireLive(prev, 'restart a child');
  const state = clone(prev);
  const c = state.children[requireChild(state, childId)]!;
  if (c.status !== 'stopped') notStopped(state, c, 'restart');
  const commands: SupervisorCommand[] = [];
  c.status = 'pending';
  c.startCause = 'manual';
  pump(state, commands);
  return { state, commands };
}

/** Forgets a kept child that is not running (OTP `delete_child/2`). */
export function deleteChild(prev: SupervisorState, childId: string): SupervisorStep {
  requireLive(prev, 'delete a child');
  const state = clone(prev);
  const idx = requireChild(state, childId);
  const c = state.children[idx]!;
  if (c.status !== 'stopped') notStopped(state, c, 'delete');
  state.children.splice(idx, 1);
  return { state, commands: [] };
}

// ---------------------------------------------------------------------------------------------
// Queries

export interface ChildInfo {
  id: string;
  status: ChildStatus;
  restart: ChildSpec['restart'];
  restartCount: number;
  lastExit: ChildExitReason | null;
}

/** The children in start order (OTP `which_children/1`). */
export function whichChildren(state: SupervisorState): ChildInfo[] {
  return state.children.map((c) => ({
    id: c.spec.id,
    status: c.status,
    restart: c.spec.restart,
    restartCount: c.restartCount,
    lastExit: c.lastExit,
  }));
}

/** Counts like OTP `count_children/1`: specs, and those running. */
export function countChildren(state: SupervisorState): { specs: number; active: number } {
  return {
    specs: state.children.length,
    active: state.children.filter((c) => c.status === 'running').length,
  };
}
