/**
 * Child and supervisor specifications: plain, JSON-safe data describing what a supervisor
 * starts and how it reacts when a child exits. See `supervisor-logic.ts` for the semantics.
 *
 * Mirrors OTP's `child_spec()` and `sup_flags()` (stdlib supervisor.erl) with these differences:
 * - `start` is an opaque descriptor the runtime interprets, not an `{M,F,A}`;
 *   a nested supervisor carries its whole spec (`{kind:'supervisor', spec}`) instead of `type => supervisor`.
 * - `shutdownMs` is `shutdown` (a number of ms, `'infinity'` or `'brutal_kill'`).
 * - `periodMs` is OTP's `period` in milliseconds, not seconds.
 * - `backoff` is ours: an optional delay before restarts (OTP restarts at once).
 * - `nice` (process children only) is ours: the OS scheduling priority the child's process runs at.
 * - No `simple_one_for_one`, `significant` or `auto_shutdown`; no `modules`.
 */
import { ConfigError } from '../protocols/index.ts';
import {
  DEFAULT_BACKOFF_FACTOR,
  DEFAULT_BACKOFF_INITIAL_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_INTENSITY,
  DEFAULT_PERIOD_MS,
  DEFAULT_RESTART_TYPE,
  DEFAULT_STRATEGY,
  DEFAULT_SUPERVISOR_SHUTDOWN,
  DEFAULT_WORKER_SHUTDOWN_MS,
  MAX_CHILD_NICE,
  MIN_CHILD_NICE,
  RESTART_TYPES,
  type RestartType,
  STRATEGIES,
  type Strategy,
} from './supervisor-options.ts';

/** Milliseconds to wait after asking a child to stop before killing it; or wait forever; or kill at once. */
export type Shutdown = number | 'infinity' | 'brutal_kill';

/** How to start a child. The runtime interprets it; this module never does. */
export type StartDescriptor =
  /** An actor hosted in the supervisor's own process. */
  | { kind: 'actor'; actorKind: string; actorId: string; args?: Record<string, unknown> }
  /**
   * An actor in a separate OS process. `nice`: the process's niceness (0..19; absent = the
   * supervisor's own), set right after every spawn, restarts included. Higher = lower CPU priority
   * under contention; it costs nothing when a core is idle. Only lowering is allowed: a negative value
   * needs CAP_SYS_NICE, and a supervisor that cannot apply its spec should not depend on privileges.
   * `env`: environment variables the child process gets over its supervisor's (its own credentials,
   * for one), so nothing has to edit the supervisor's environment for a child's sake.
   */
  | {
      kind: 'process';
      actorKind: string;
      actorId: string;
      args?: Record<string, unknown>;
      nice?: number;
      env?: Record<string, string>;
    }
  /** A nested supervisor. */
  | { kind: 'supervisor'; spec: SupervisorSpec };

export interface ChildSpec {
  /** Unique among the supervisor's children. */
  id: string;
  start: StartDescriptor;
  restart: RestartType;
  shutdownMs: Shutdown;
}

export interface BackoffSpec {
  /** Delay before a child's first restart within the period. */
  initialMs: number;
  /** Upper bound of the delay. */
  maxMs: number;
  /** Multiplier per further restart of the same child within the period (>= 1). */
  factor: number;
}

export interface SupervisorSpec {
  id: string;
  strategy: Strategy;
  /** Most restarts allowed within `periodMs`; one more and the supervisor gives up (OTP `intensity`). */
  intensity: number;
  /** Sliding window for `intensity`, in ms (OTP `period`, which is in seconds). */
  periodMs: number;
  /** Optional delay before restarts. Absent: restart at once, as OTP does. */
  backoff?: BackoffSpec;
  /** In start order. */
  children: ChildSpec[];
}

/** A child spec with only `id` and `start` required; OTP's defaults fill the rest. */
export type ChildSpecInput = Pick<ChildSpec, 'id' | 'start'> &
  Partial<Pick<ChildSpec, 'restart' | 'shutdownMs'>>;

export interface SupervisorSpecInput {
  id: string;
  strategy?: Strategy;
  intensity?: number;
  periodMs?: number;
  /** `true` for the default backoff, or some of its fields. */
  backoff?: true | Partial<BackoffSpec>;
  children?: ChildSpecInput[];
}

/** Completes a child spec with OTP's defaults: permanent; shutdown 5000 ms for workers, infinity for supervisors. */
export function childSpec(input: ChildSpecInput): ChildSpec {
  return {
    id: input.id,
    start: input.start,
    restart: input.restart ?? DEFAULT_RESTART_TYPE,
    shutdownMs:
      input.shutdownMs ??
      (input.start.kind === 'supervisor' ? DEFAULT_SUPERVISOR_SHUTDOWN : DEFAULT_WORKER_SHUTDOWN_MS),
  };
}

/** Completes a supervisor spec with OTP's defaults (one_for_one, intensity 1 per 5000 ms, no backoff). */
export function supervisorSpec(input: SupervisorSpecInput): SupervisorSpec {
  const spec: SupervisorSpec = {
    id: input.id,
    strategy: input.strategy ?? DEFAULT_STRATEGY,
    intensity: input.intensity ?? DEFAULT_INTENSITY,
    periodMs: input.periodMs ?? DEFAULT_PERIOD_MS,
    children: (input.children ?? []).map(childSpec),
  };
  if (input.backoff !== undefined) {
    const b = input.backoff === true ? {} : input.backoff;
    spec.backoff = {
      initialMs: b.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS,
      maxMs: b.maxMs ?? DEFAULT_BACKOFF_MAX_MS,
      factor: b.factor ?? DEFAULT_BACKOFF_FACTOR,
    };
  }
  return spec;
}

function fail(message: string, details: Record<string, unknown>): never {
  throw new ConfigError(message, { details });
}

function isNonNegInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

/** Throws {@link ConfigError} unless `child` is a valid child spec (OTP `check_childspec`). */
export function validateChildSpec(child: ChildSpec): void {
  if (typeof child !== 'object' || child === null) fail('child spec must be an object', {});
  if (typeof child.id !== 'string' || child.id === '') fail('child spec needs a non-empty string id', {});
  const ctx = { childId: child.id };
  if (!RESTART_TYPES.includes(child.restart))
    fail(`child ${child.id}: invalid restart type`, { ...ctx, restart: child.restart });
  const s = child.shutdownMs;
  if (!(isNonNegInt(s) || s === 'infinity' || s === 'brutal_kill')) {
    fail(`child ${child.id}: shutdownMs must be a non-negative integer, 'infinity' or 'brutal_kill'`, {
      ...ctx,
      shutdownMs: s,
    });
  }
  const start = child.start as StartDescriptor | undefined;
  if (typeof start !== 'object' || start === null) fail(`child ${child.id}: missing start descriptor`, ctx);
  if (start.kind === 'supervisor') {
    validateSupervisorSpec(start.spec);
  } else if (start.kind === 'actor' || start.kind === 'process') {
    if (typeof start.actorKind !== 'string' || start.actorKind === '')
      fail(`child ${child.id}: start needs an actorKind`, ctx);
    if (typeof start.actorId !== 'string' || start.actorId === '')
      fail(`child ${child.id}: start needs an actorId`, ctx);
    const env = (start as { env?: unknown }).env;
    if (env !== undefined) {
      if (start.kind !== 'process') fail(`child ${child.id}: env applies only to process children`, ctx);
      const entries = typeof env === 'object' && env !== null ? Object.values(env) : [undefined];
      if (!entries.every((v) => typeof v === 'string'))
        fail(`child ${child.id}: env must map variable names to strings`, ctx);
    }
    const nice = (start as { nice?: unknown }).nice;
    if (nice !== undefined) {
      // An in-host actor shares its host's threads: there is no process of its own to deprioritise.
      if (start.kind !== 'process')
        fail(`child ${child.id}: nice applies only to process children`, { ...ctx, nice });
      if (
        !(Number.isInteger(nice) && (nice as number) >= MIN_CHILD_NICE && (nice as number) <= MAX_CHILD_NICE)
      ) {
        fail(
          `child ${child.id}: nice must be an integer from ${MIN_CHILD_NICE} to ${MAX_CHILD_NICE} (only lowering priority needs no privileges)`,
          {
            ...ctx,
            nice,
          },
        );
      }
    }
  } else {
    fail(`child ${child.id}: unknown start kind`, { ...ctx, kind: (start as { kind?: unknown }).kind });
  }
}

/** Throws {@link ConfigError} unless `spec` (and every nested supervisor spec) is valid (OTP `check_flags` + `check_startspec`). */
export function validateSupervisorSpec(spec: SupervisorSpec): void {
  if (typeof spec !== 'object' || spec === null) fail('supervisor spec must be an object', {});
  if (typeof spec.id !== 'string' || spec.id === '') fail('supervisor spec needs a non-empty string id', {});
  const ctx = { supervisorId: spec.id };
  if (!STRATEGIES.includes(spec.strategy))
    fail(`supervisor ${spec.id}: invalid strategy`, { ...ctx, strategy: spec.strategy });
  if (!isNonNegInt(spec.intensity))
    fail(`supervisor ${spec.id}: intensity must be an integer >= 0`, { ...ctx, intensity: spec.intensity });
  if (!(Number.isInteger(spec.periodMs) && spec.periodMs > 0)) {
    fail(`supervisor ${spec.id}: periodMs must be an integer > 0`, { ...ctx, periodMs: spec.periodMs });
  }
  if (spec.backoff !== undefined) {
    const b = spec.backoff;
    if (!(Number.isFinite(b.initialMs) && b.initialMs >= 0))
      fail(`supervisor ${spec.id}: backoff.initialMs must be >= 0`, ctx);
    if (!(Number.isFinite(b.maxMs) && b.maxMs >= b.initialMs))
      fail(`supervisor ${spec.id}: backoff.maxMs must be >= initialMs`, ctx);
    if (!(Number.isFinite(b.factor) && b.factor >= 1))
      fail(`supervisor ${spec.id}: backoff.factor must be >= 1`, ctx);
  }
  if (!Array.isArray(spec.children)) fail(`supervisor ${spec.id}: children must be an array`, ctx);
  const seen = new Set<string>();
  for (const child of spec.children) {
    validateChildSpec(child);
    if (seen.has(child.id))
      fail(`supervisor ${spec.id}: duplicate child id ${child.id}`, { ...ctx, childId: child.id });
    seen.add(child.id);
  }
}
