/**
 * Options of the agent actor (kind `agent`) and the agent directory (kind `agent-directory`):
 * one `DEFAULT_*` constant per default, unit in the name, and the parser of the agent's start args.
 */
import { join, resolve } from 'node:path';
import { ConfigError } from '../../protocols/errors.ts';
import { isTier, type Tier } from '../../protocols/tiers.ts';

export const AGENT_KIND = 'agent';
export const AGENT_DIRECTORY_KIND = 'agent-directory';

/** Prefix of the Redis/Dragonfly key holding an agent's persisted lifecycle: `<prefix>:{<agentId>}:lifecycle`. */
export const DEFAULT_AGENT_KEY_PREFIX = 'agov:agent';
/** Data folder when AGOV_DATA_DIR is not set; an agent's work dir defaults to `<data>/agents/<agentId>`. */
export const DEFAULT_AGENT_DATA_DIR = '.data';
/** Longest a Redis read or write (load, persist, preflight ping) may take before it counts as failed. */
export const DEFAULT_STORE_TIMEOUT_MS = 2_000;
/** Pause before a failed bootstrap is retried (while the lifecycle's bootstrap retries last). */
export const DEFAULT_BOOTSTRAP_RETRY_MS = 1_000;
/** Longest an audit publish waits for the AUDIT stream's ack. */
export const DEFAULT_AUDIT_TIMEOUT_MS = 2_000;
/** After SIGTERM, how long an exec task's processes get before SIGKILL. */
export const DEFAULT_EXEC_KILL_GRACE_MS = 2_000;
/**
 * After a task is aborted (cancel, timeout, suspend), how long the agent waits for its runner to
 * wind down before it reports the result anyway.
 */
export const DEFAULT_TASK_ABORT_GRACE_MS = 5_000;
/** Response body an http task keeps in its output. */
export const DEFAULT_HTTP_MAX_BODY_BYTES = 64 * 1024;
/** stdout/stderr kept per stream when a result would not fit in one bus message otherwise. */
export const DEFAULT_RESULT_FALLBACK_OUTPUT_BYTES = 128 * 1024;
/** Host uid (and gid) an exec sandbox runs as when the agent is root: nobody/nogroup on Debian. */
export const DEFAULT_SANDBOX_UID = 65534;
export const DEFAULT_SANDBOX_GID = 65534;
/** RLIMIT_NPROC of a sandboxed task (processes and threads of the sandbox user). */
export const DEFAULT_SANDBOX_MAX_PROCESSES = 256;
/** RLIMIT_AS of each process of a sandboxed task. */
export const DEFAULT_SANDBOX_MAX_MEMORY_BYTES = 4 * 1024 * 1024 * 1024;
/** RLIMIT_FSIZE: the largest file a sandboxed task may write. */
export const DEFAULT_SANDBOX_MAX_FILE_BYTES = 256 * 1024 * 1024;
/**
 * Longest an exec or http task waits for its stage attempt's child token (agent.credentials.v1)
 * before it fails with GOV_ERR_CREDENTIALS_MISSING (retryable) without starting.
 */
export const DEFAULT_CREDENTIALS_WAIT_MS = 10_000;
/** Environment variable of the development switch that runs exec tasks without the sandbox. */
export const UNSANDBOXED_EXEC_ENV = 'AGOV_UNSANDBOXED_EXEC';

/** The directory marks an agent `unreachable` after this many heartbeat intervals without one. */
export const DEFAULT_UNREACHABLE_AFTER_INTERVALS = 3;
/** Heartbeat interval assumed for an agent the directory has seen register but not yet heartbeat. */
export const DEFAULT_ASSUMED_HEARTBEAT_MS = 1_000;
/** The directory forgets an agent unreachable (or exited) for this long. */
export const DEFAULT_DIRECTORY_FORGET_MS = 10 * 60_000;

/** Start arguments of an agent, as parsed. */
export interface AgentOptions {
  /** The tier asked for; when not a valid tier the agent starts as T0 and its preflight fails. */
  tier: Tier;
  tierValid: boolean;
  requestedTier: string;
  role: string | undefined;
  team: string | undefined;
  redisUrl: string;
  workDir: string;
  /** Discard a persisted lifecycle and start afresh (a terminated agent id may be reused this way). */
  fresh: boolean;
  /** Keep each exec task's working directory after the task (default: removed). */
  keepTaskDirs: boolean;
  keyPrefix: string;
  maxRestarts: number | undefined;
  /** DEVELOPMENT ONLY: run exec tasks without the bubblewrap sandbox (arg `unsandboxedExec` or AGOV_UNSANDBOXED_EXEC=1). */
  unsandboxedExec: boolean;
  sandboxUid: number;
  sandboxGid: number;
  /** Parent of sandboxed task directories (default: a fresh folder in the OS temp dir). */
  sandboxDir: string | undefined;
  sandboxMaxProcesses: number;
  sandboxMaxMemoryBytes: number;
  sandboxMaxFileBytes: number;
  /** exec and http tasks start only with their attempt's child token (default true). */
  requireCredentials: boolean;
  credentialsWaitMs: number;
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return String(v);
}

function bool(v: unknown): boolean {
  return v === true || v === 'true' || v === 1 || v === '1';
}

function positiveInt(agentId: string, name: string, v: unknown, def: number, min = 1): number {
  if (v === undefined || v === null || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(`agent ${agentId}: ${name} must be an integer >= ${min}`);
  return n;
}

/**
 * Parses the agent's start arguments: `tier` (T0|T1|T2), `role?`, `team?`, `redisUrl` (or env
 * REDIS_URL), `workDir?` (default `$AGOV_DATA_DIR/agents/<id>`), `fresh?`, `keepTaskDirs?`,
 * `keyPrefix?`, `maxRestarts?`; the exec sandbox: `unsandboxedExec?` (development only), `sandboxUid?`,
 * `sandboxGid?`, `sandboxDir?`, `sandboxMaxProcesses?`, `sandboxMaxMemoryBytes?`, `sandboxMaxFileBytes?`;
 * credentials: `requireCredentials?` (default true), `credentialsWaitMs?`.
 * @throws ConfigError when no Redis URL is given at all (nowhere to persist the lifecycle).
 */
export function parseAgentArgs(
  agentId: string,
  args: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): AgentOptions {
  const requestedTier = str(args.tier) ?? 'T0';
  const tierValid = isTier(requestedTier);
  const redisUrl = str(args.redisUrl) ?? str(env.REDIS_URL);
  if (!redisUrl)
    throw new ConfigError(
      `agent ${agentId}: no redisUrl argument and no REDIS_URL: the lifecycle cannot be persisted`,
    );
  const dataDir = str(env.AGOV_DATA_DIR) ?? DEFAULT_AGENT_DATA_DIR;
  const maxRestarts = args.maxRestarts === undefined ? undefined : Number(args.maxRestarts);
  if (maxRestarts !== undefined && !(Number.isInteger(maxRestarts) && maxRestarts >= 0)) {
    throw new ConfigError(`agent ${agentId}: maxRestarts must be a non-negative integer`);
  }
  return {
    tier: tierValid ? requestedTier : 'T0',
    tierValid,
    requestedTier,
    role: str(args.role),
    team: str(args.team),
    redisUrl,
    workDir: resolve(str(args.workDir) ?? join(dataDir, 'agents', agentId)),
    fresh: bool(args.fresh),
    keepTaskDirs: bool(args.keepTaskDirs),
    keyPrefix: str(args.keyPrefix) ?? DEFAULT_AGENT_KEY_PREFIX,
    maxRestarts,
    unsandboxedExec: bool(args.unsandboxedExec) || bool(env[UNSANDBOXED_EXEC_ENV]),
    sandboxUid: positiveInt(agentId, 'sandboxUid', args.sandboxUid, DEFAULT_SANDBOX_UID),
    sandboxGid: positiveInt(agentId, 'sandboxGid', args.sandboxGid, DEFAULT_SANDBOX_GID),
    sandboxDir: str(args.sandboxDir) === undefined ? undefined : resolve(String(args.sandboxDir)),
    sandboxMaxProcesses: positiveInt(
      agentId,
      'sandboxMaxProcesses',
      args.sandboxMaxProcesses,
      DEFAULT_SANDBOX_MAX_PROCESSES,
    ),
    sandboxMaxMemoryBytes: positiveInt(
      agentId,
      'sandboxMaxMemoryBytes',
      args.sandboxMaxMemoryBytes,
      DEFAULT_SANDBOX_MAX_MEMORY_BYTES,
    ),
    sandboxMaxFileBytes: positiveInt(
      agentId,
      'sandboxMaxFileBytes',
      args.sandboxMaxFileBytes,
      DEFAULT_SANDBOX_MAX_FILE_BYTES,
    ),
    requireCredentials: args.requireCredentials === undefined ? true : bool(args.requireCredentials),
    credentialsWaitMs: positiveInt(
      agentId,
      'credentialsWaitMs',
      args.credentialsWaitMs,
      DEFAULT_CREDENTIALS_WAIT_MS,
    ),
  };
}
