/**
 * The task-running half of the agent (agent.ts keeps the lifecycle, commands and status): one task
 * at a time, run off the mailbox, with its credentials, timeout, cancel and exactly one result.
 *
 * - **Credentials before the task.** exec and http tasks (the kinds that act on the world) start only
 *   once the child token of *their* stage attempt has arrived (agent.credentials.v1 with the same run,
 *   stage and attempt), within `credentialsWaitMs`; otherwise the task fails with
 *   GOV_ERR_CREDENTIALS_MISSING (retryable) without starting. A token is never used for another
 *   stage or attempt. noop/sleep/fail need none and start at once.
 * - **The token goes only to its task** (VAULT_TOKEN / VAULT_TOKEN_ACCESSOR in the task's env) and is
 *   revoked (Vault `revoke-self`) once the attempt has finished, then forgotten.
 * - **Results are redacted** (redact.ts) before they are sent: the orchestrator stores, publishes and
 *   audits what it receives.
 * - Completion is fed back into the agent's mailbox (`onSettled`), so the lifecycle stays serialized.
 */
import type { Bus } from '../../bus/bus.ts';
import type { Clock, TimerHandle } from '../../infra/clock/clock.ts';
import type { Logger } from '../../infra/logger.ts';
import type { BodyIn } from '../../protocols/catalog.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import {
  CredentialsInterceptedError,
  CredentialsMissingError,
  type GovError,
  InvalidMessageError,
  PayloadTooLargeError,
  serializeError,
  TimeoutError,
  toGovError,
} from '../../protocols/vocabulary/errors.ts';
import { encodeContent } from '../../protocols/memory-content.ts';
import { memoryPutSubject } from '../../protocols/subjects.ts';
import { type Tier, tierAtLeast } from '../../protocols/vocabulary/tiers.ts';
import { VaultTokenClient } from '../token/vault-client.ts';
import { unwrapSecret } from '../token/vault-wrapping.ts';
import {
  type AgentOptions,
  DEFAULT_EXEC_KILL_GRACE_MS,
  DEFAULT_HTTP_MAX_BODY_BYTES,
  DEFAULT_RESULT_FALLBACK_OUTPUT_BYTES,
  DEFAULT_TASK_ABORT_GRACE_MS,
} from './agent-options.ts';
import { EnvironmentSecrets, redactSecrets } from './redact.ts';
import { failed, type MemoryRef, runTask, type TaskOutcome, type TaskRunContext } from './tasks/index.ts';
import type { SandboxSettings } from './tasks/sandbox.ts';

export type AssignEnvelope = Envelope<'agent.task.assign.v1'>;
type Credentials = BodyIn<'agent.credentials.v1'>;

/** Task kinds that need their attempt's child token before they start. */
const KINDS_NEEDING_CREDENTIALS: ReadonlySet<string> = new Set(['exec', 'http']);
/** Child tokens kept at most (a token normally lives from its attempt's start to its end). */
const MAX_HELD_CREDENTIALS = 64;

export interface RunningTask {
  request: AssignEnvelope;
  controller: AbortController;
  startedAt: number;
  timers: TimerHandle[];
  /** Set once, by whichever comes first: the runner's outcome or the abort grace period. */
  outcome: (TaskOutcome & { durationMs: number }) | undefined;
  reported: boolean;
}

export interface TaskHostDeps {
  agentId: string;
  bus: Bus;
  clock: Clock;
  log: Logger;
  opts: AgentOptions;
  /** The agent's tier now. */
  tier(): Tier;
  /** Called once a task's outcome is fixed; the agent completes it from its mailbox. */
  onSettled(taskId: string): void;
  /** Environment the agent reads secrets and `env.pass` from (process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

export function taskRef(b: { taskId: string; runId: string; stageId: string; attempt: number }) {
  return { taskId: b.taskId, runId: b.runId, stageId: b.stageId, attempt: b.attempt };
}

const credKey = (runId: string, stageId: string | undefined, attempt: number | undefined) =>
  `${runId}\u0000${stageId ?? ''}\u0000${attempt ?? ''}`;

/**
 * Variables of this process a task may never copy with `env.pass` besides the system prefixes: the
 * system's own credentials. A task gets its attempt's child token, scoped to its stage's tier, and
 * nothing stronger.
 */
export const AGENT_ENV_DENYLIST = [
  'VAULT_TOKEN',
  'AGOV_LEDGER_KEY',
  'AGOV_API_KEYS',
  'NATS_PASSWORD',
  'NATS_CREDS',
  'AGOV_NATS_CREDS',
  'AGOV_NATS_ISSUER_SEED',
] as const;

function agentEnvWithoutSecrets(env: Readonly<Record<string, string | undefined>>) {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of AGENT_ENV_DENYLIST) delete out[name];
  return out;
}

/** A result's output cut down to fit one bus message. */
function shrinkOutput(output: unknown): unknown {
  if (typeof output === 'object' && output !== null) {
    const o = { ...(output as Record<string, unknown>) };
    let cut = false;
    for (const k of ['stdout', 'stderr', 'body']) {
      const v = o[k];
      if (typeof v === 'string' && v.length > DEFAULT_RESULT_FALLBACK_OUTPUT_BYTES) {
        o[k] = v.slice(0, DEFAULT_RESULT_FALLBACK_OUTPUT_BYTES);
        cut = true;
      }
    }
    if (cut) return { ...o, truncated: true };
  }
  return { truncated: true, note: 'output too large for one bus message' };
}

export class TaskHost {
  private running: RunningTask | undefined;
  /** Child tokens by run/stage/attempt (agent.credentials.v1); memory only. */
  private readonly credentials = new Map<string, Credentials>();
  private readonly waiters = new Map<string, () => void>();
  /** Every token this agent was given, kept (until the cap) so a late echo of one is still redacted. */
  private readonly pastTokens: string[] = [];
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly envSecrets: EnvironmentSecrets;
  readonly sandbox: SandboxSettings;
  private stopped = false;

  constructor(private readonly d: TaskHostDeps) {
    this.env = d.env ?? process.env;
    this.envSecrets = new EnvironmentSecrets(this.env, () => d.clock.now());
    this.sandbox = {
      mode: d.opts.unsandboxedExec ? 'unsandboxed' : 'bwrap',
      uid: d.opts.sandboxUid,
      gid: d.opts.sandboxGid,
      ...(d.opts.sandboxDir ? { root: d.opts.sandboxDir } : {}),
      limits: {
        maxProcesses: d.opts.sandboxMaxProcesses,
        maxMemoryBytes: d.opts.sandboxMaxMemoryBytes,
        maxFileBytes: d.opts.sandboxMaxFileBytes,
      },
    };
    if (d.opts.unsandboxedExec) {
      d.log.warn(
        `agent ${d.agentId}: UNSANDBOXED exec (development switch unsandboxedExec / AGOV_UNSANDBOXED_EXEC): ` +
          'tasks run with the agent process rights and see everything it sees; never use this in production',
      );
    }
  }

  get current(): RunningTask | undefined {
    return this.running;
  }

  /**
   * Unwraps an `agent.credentials.v2` in Vault (once: the wrapping token is single-use) and keeps the
   * child token as {@link addCredentials} does. A wrapping token that does not unwrap was used by
   * someone else, or expired: CredentialsInterceptedError, and the child token is never held.
   */
  async addWrappedCredentials(body: BodyIn<'agent.credentials.v2'>): Promise<void> {
    const addr = this.d.opts.vaultAddr ?? this.env.VAULT_ADDR;
    if (!addr)
      throw new CredentialsInterceptedError('no Vault address to unwrap credentials with (VAULT_ADDR)');
    let data: Record<string, unknown>;
    try {
      data = await unwrapSecret(addr, body.wrappingToken);
    } catch (err) {
      this.d.bus.metrics.inc('agent.credentials.unwrap_failed');
      throw new CredentialsInterceptedError(
        `the wrapped child token of run ${body.runId} stage ${body.stageId ?? '-'} did not unwrap: used by someone else, expired or unknown`,
        { cause: err, details: { runId: body.runId, stageId: body.stageId, accessor: body.accessor } },
      );
    }
    if (typeof data.token !== 'string' || data.accessor !== body.accessor)
      throw new CredentialsInterceptedError(
        `the wrapped credentials of run ${body.runId} are not its child token`,
        {
          details: { runId: body.runId, accessor: body.accessor },
        },
      );
    const { wrappingToken: _used, wrapTtlS: _ttl, ...rest } = body;
    this.addCredentials({ ...rest, token: data.token });
  }

  /** Keeps an attempt's child token (memory only; never persisted, logged or echoed) and wakes its task. */
  addCredentials(body: Credentials): void {
    const key = credKey(body.runId, body.stageId, body.attempt);
    this.credentials.set(key, body);
    this.pastTokens.push(body.token);
    if (this.pastTokens.length > MAX_HELD_CREDENTIALS) this.pastTokens.shift();
    while (this.credentials.size > MAX_HELD_CREDENTIALS)
      this.credentials.delete(this.credentials.keys().next().value!);
    this.waiters.get(key)?.();
    // A token issued without an attempt number fits any attempt of its stage.
    if (body.attempt === undefined)
      for (const [k, wake] of this.waiters)
        if (k.startsWith(credKey(body.runId, body.stageId, undefined))) wake();
  }

  private credentialsFor(b: AssignEnvelope['body']): Credentials | undefined {
    return (
      this.credentials.get(credKey(b.runId, b.stageId, b.attempt)) ??
      this.credentials.get(credKey(b.runId, b.stageId, undefined))
    );
  }

  /** Waits for the attempt's token, at most `credentialsWaitMs`; undefined when it did not come (or the task was aborted). */
  private waitForCredentials(r: RunningTask): Promise<Credentials | undefined> {
    const b = r.request.body;
    const have = this.credentialsFor(b);
    if (have) return Promise.resolve(have);
    const key = credKey(b.runId, b.stageId, b.attempt);
    return new Promise((resolveWait) => {
      const done = () => {
        this.d.clock.clear(timer);
        this.waiters.delete(key);
        r.controller.signal.removeEventListener('abort', done);
        resolveWait(this.credentialsFor(b));
      };
      const timer = this.d.clock.setTimeout(done, this.d.opts.credentialsWaitMs);
      this.waiters.set(key, done);
      r.controller.signal.addEventListener('abort', done, { once: true });
    });
  }

  start(request: AssignEnvelope): void {
    const b = request.body;
    const r: RunningTask = {
      request,
      controller: new AbortController(),
      startedAt: this.d.clock.now(),
      timers: [],
      outcome: undefined,
      reported: false,
    };
    this.running = r;
    r.timers.push(
      this.d.clock.setTimeout(
        () =>
          this.abort(
            r,
            new TimeoutError(`task ${b.taskId} exceeded its timeout of ${b.timeoutMs} ms`, {
              details: { taskId: b.taskId, timeoutMs: b.timeoutMs },
            }),
          ),
        b.timeoutMs,
      ),
    );
    // After the handler has returned, so the accepted reply goes out before anything else of the task.
    setImmediate(() => void this.launch(r));
  }

  private async launch(r: RunningTask): Promise<void> {
    const b = r.request.body;
    this.progress(r, 0, 'started');
    let cred = this.credentialsFor(b);
    if (!cred && this.d.opts.requireCredentials && KINDS_NEEDING_CREDENTIALS.has(b.task.kind)) {
      cred = await this.waitForCredentials(r);
      if (!cred) {
        if (!r.controller.signal.aborted)
          this.settle(
            r,
            failed(
              new CredentialsMissingError(
                `task ${b.taskId}: no child token for stage ${b.stageId} attempt ${b.attempt} within ${this.d.opts.credentialsWaitMs} ms; not started`,
                { details: { taskId: b.taskId, stageId: b.stageId, attempt: b.attempt } },
              ),
            ),
          );
        else this.settle(r, { status: 'cancelled' });
        return;
      }
    }
    const env = this.env;
    const runCtx: TaskRunContext = {
      agentId: this.d.agentId,
      tier: this.d.tier(),
      taskId: b.taskId,
      signal: r.controller.signal,
      env: cred ? { ...b.env, VAULT_TOKEN: cred.token, VAULT_TOKEN_ACCESSOR: cred.accessor } : { ...b.env },
      // Copying process.env costs more than a noop task: only the runners that read it pay for it.
      get agentEnv() {
        return agentEnvWithoutSecrets(env);
      },
      workDir: this.d.opts.workDir,
      keepTaskDirs: this.d.opts.keepTaskDirs,
      sandbox: this.sandbox,
      warn: (message, fields) => this.d.log.warn(message, fields),
      killGraceMs: DEFAULT_EXEC_KILL_GRACE_MS,
      httpMaxBodyBytes: DEFAULT_HTTP_MAX_BODY_BYTES,
      clock: this.d.clock,
      maxSpillBytes: this.d.opts.maxSpillBytes,
      ...(tierAtLeast(this.d.tier(), 'T1')
        ? { storeMemory: (bytes, meta) => this.storeMemory(b, bytes, meta) }
        : {}),
      progress: (fraction, note) => this.progress(r, fraction, note),
    };
    let outcome: TaskOutcome;
    try {
      outcome = await runTask(b.task, runCtx);
    } catch (err) {
      outcome = failed(toGovError(err));
    }
    this.settle(r, outcome);
  }

  /** The claim check's put: under the agent's own id and tier, which the memory actor reads from the subject. */
  private async storeMemory(
    b: { runId: string },
    bytes: Uint8Array,
    meta: { contentType: string; tags: string[] },
  ): Promise<MemoryRef> {
    const reply = await this.d.bus.ask(memoryPutSubject(this.d.tier(), this.d.agentId), {
      type: 'memory.put.v1',
      body: {
        ...encodeContent(bytes),
        ...meta,
        runId: b.runId,
      },
    });
    if (reply.type !== 'memory.entry.v1')
      throw new InvalidMessageError(`memory put answered ${reply.type}`, { details: { type: reply.type } });
    return { memoryId: reply.body.id, size: reply.body.size, summary: reply.body.summary };
  }

  private progress(r: RunningTask, fraction?: number, note?: string): void {
    if (r.outcome || this.stopped) return;
    const b = r.request.body;
    this.safely('progress', () =>
      this.d.bus.tell(
        b.replyTo,
        {
          type: 'agent.task.progress.v1',
          body: {
            ...taskRef(b),
            agentId: this.d.agentId,
            ...(fraction === undefined ? {} : { fraction }),
            ...(note === undefined ? {} : { note: this.redact(note) }),
          },
        },
        { inResponseTo: r.request },
      ),
    );
  }

  /** Fixes the task's outcome (first call wins) and feeds its completion back into the mailbox. */
  private settle(r: RunningTask, outcome: TaskOutcome): void {
    if (r.outcome) return;
    let final = outcome;
    const reason: unknown = r.controller.signal.aborted ? r.controller.signal.reason : undefined;
    if (reason !== undefined) {
      const e = toGovError(reason);
      final = {
        status: e instanceof TimeoutError ? 'failed' : 'cancelled',
        error: serializeError(e),
        ...(outcome.output === undefined ? {} : { output: outcome.output }),
      };
    }
    r.outcome = { ...final, durationMs: Math.max(0, this.d.clock.now() - r.startedAt) };
    for (const t of r.timers.splice(0)) this.d.clock.clear(t);
    if (!this.stopped) this.d.onSettled(r.request.body.taskId);
  }

  /** Aborts `r` (the running task by default); a runner that does not wind down in time is reported anyway. */
  abort(r: RunningTask | undefined, reason: GovError): void {
    if (!r || r.outcome || r.controller.signal.aborted) return;
    r.controller.abort(reason);
    r.timers.push(
      this.d.clock.setTimeout(() => this.settle(r, { status: 'cancelled' }), DEFAULT_TASK_ABORT_GRACE_MS),
    );
  }

  /** Aborts the running task if it is `taskId` and still going; whether it was. */
  cancel(taskId: string, reason: GovError): boolean {
    const r = this.running;
    const match = r !== undefined && r.request.body.taskId === taskId && r.outcome === undefined;
    if (match) this.abort(r, reason);
    return match;
  }

  /** Once `taskId` has settled: sends its result, lets go of it and its token; its outcome. */
  finish(taskId: string): (TaskOutcome & { durationMs: number }) | undefined {
    const r = this.running;
    if (!r || r.request.body.taskId !== taskId || !r.outcome) return undefined;
    this.running = undefined;
    this.sendResult(r, r.outcome);
    this.releaseCredentials(r);
    return r.outcome;
  }

  /** The agent is stopping: the running task (if any) is aborted and reported failed with `err`. */
  stop(err: GovError): RunningTask | undefined {
    const r = this.running;
    if (r) {
      this.abort(r, err);
      for (const t of r.timers.splice(0)) this.d.clock.clear(t);
      this.sendResult(r, { status: 'failed', error: serializeError(err) });
      this.running = undefined;
      this.releaseCredentials(r);
    }
    this.stopped = true;
    for (const wake of [...this.waiters.values()]) wake();
    return r;
  }

  /** The attempt is over: its token is revoked in Vault (best effort; the run's end revokes it anyway) and forgotten. */
  private releaseCredentials(r: RunningTask): void {
    const b = r.request.body;
    const cred = this.credentialsFor(b);
    if (!cred) return;
    this.credentials.delete(credKey(cred.runId, cred.stageId, cred.attempt));
    const addr = this.d.opts.vaultAddr ?? this.env.VAULT_ADDR;
    if (!addr) return;
    const vault = new VaultTokenClient({ addr, token: cred.token, clock: this.d.clock });
    vault.revokeSelf(cred.token).then(
      () => this.d.bus.metrics.inc('agent.credentials.revoked'),
      (err: unknown) => {
        this.d.bus.metrics.inc('agent.credentials.revoke_failed');
        this.d.log.debug('could not revoke a finished attempt token', {
          accessor: cred.accessor,
          error: toGovError(err).message,
        });
      },
    );
  }

  private redact<T>(value: T): T {
    return redactSecrets(value, [
      ...this.pastTokens,
      ...[...this.credentials.values()].map((c) => c.accessor),
      ...this.envSecrets.get(),
    ]);
  }

  /** Tells the one result of a task to its replyTo (redacted; cut down if it does not fit). */
  private sendResult(r: RunningTask, outcome: TaskOutcome & { durationMs?: number }): void {
    if (r.reported) return;
    r.reported = true;
    const b = r.request.body;
    const clean =
      outcome.output === undefined && outcome.error === undefined ? outcome : this.redact(outcome);
    const body = {
      ...taskRef(b),
      agentId: this.d.agentId,
      status: clean.status,
      durationMs: outcome.durationMs ?? Math.max(0, this.d.clock.now() - r.startedAt),
      ...(clean.error ? { error: clean.error } : {}),
    };
    const send = (output: unknown) =>
      this.d.bus.tell(
        b.replyTo,
        { type: 'agent.task.result.v1', body: output === undefined ? body : { ...body, output } },
        { inResponseTo: r.request },
      );
    try {
      send(clean.output);
    } catch (err) {
      if (!(err instanceof PayloadTooLargeError)) {
        this.d.log.warn('could not send a task result', {
          taskId: b.taskId,
          error: toGovError(err).message,
        });
        return;
      }
      this.safely('shrunk result', () => send(shrinkOutput(clean.output)));
    }
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.d.log.warn(`agent could not publish ${what}`, { error: toGovError(err).message });
    }
  }
}
