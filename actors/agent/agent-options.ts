/**
 * Options of the agent actor (kind `agent`) and the agent directory (kind `agent-directory`):
 * one `DEFAULT_*` constant per default, unit in the name, and the schema of the agent's start args.
 */
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { isTier, type Tier } from '../../protocols/index.ts';
import { arg } from '../runtime/index.ts';

/** Prefix of the Redis/Dragonfly key holding an agent's persisted lifecycle: `<prefix>:{<agentId>}:lifecycle`. */
export const DEFAULT_AGENT_KEY_PREFIX = 'agov:agent';
/** Data folder when none is given; an agent's work dir defaults to `<data>/agents/<agentId>`. */
export const DEFAULT_AGENT_DATA_DIR = '.data';
/** Longest a Redis read or write (load, persist, preflight ping) may take before it counts as failed. */
export const DEFAULT_STORE_TIMEOUT_MS = 2_000;
/** Pause before a failed bootstrap is retried (while the lifecycle's bootstrap retries last). */
export const DEFAULT_BOOTSTRAP_RETRY_MS = 1_000;
/** Longest an audit publish waits for the AUDIT stream's ack. */
export const DEFAULT_AUDIT_TIMEOUT_MS = 2_000;
/**
 * How often an agent announces itself again (agent.register.v1 on `gov.agents.register.<tier>.<id>`):
 * receivers believe the tier its heartbeats state only up to its last registration's, which the broker
 * checked, so one that restarted (an orchestrator, the directory) knows it again within this long.
 */
export const DEFAULT_REGISTER_EVERY_MS = 2_000;
/** After SIGTERM, how long an exec task's processes get before SIGKILL. */
export const DEFAULT_EXEC_KILL_GRACE_MS = 2_000;
/**
 * After a task is aborted (cancel, timeout, suspend), how long the agent waits for its runner to
 * wind down before it reports the result anyway.
 */
export const DEFAULT_TASK_ABORT_GRACE_MS = 5_000;
/** Response body an http task keeps in its output. */
export const DEFAULT_HTTP_MAX_BODY_BYTES = 64 * 1024;
/**
 * Output of an exec task kept per stream, to store in memory when it exceeds the inline cap (the claim
 * check). One memory put is one bus message: the memory's own default `maxBlobBytes`.
 */
export const DEFAULT_MAX_SPILL_BYTES = 768 * 1024;
/** The hard bound of `maxSpillBytes`: a memory put is one bus message (broker max_payload 8 MB). */
export const MAX_SPILL_BYTES = 4 * 1024 * 1024;
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

/** The directory marks an agent `unreachable` after this many heartbeat intervals without one. */
export const DEFAULT_UNREACHABLE_AFTER_INTERVALS = 3;
/** Heartbeat interval assumed for an agent the directory has seen register but not yet heartbeat. */
export const DEFAULT_ASSUMED_HEARTBEAT_MS = 1_000;
/** The directory forgets an agent unreachable (or exited) for this long. */
export const DEFAULT_DIRECTORY_FORGET_MS = 10 * 60_000;

/** Start arguments of an agent (kind `agent`), every default in it. */
export const AgentArgsSchema = z.strictObject({
  /** T0, T1 or T2; any other value starts the agent as T0 with a failing preflight (it reports why). */
  tier: arg.text().default('T0'),
  role: arg.text().optional(),
  team: arg.text().optional(),
  /** Whether it leads its team (set by the team spec). */
  lead: arg.bool().default(false),
  /** Where its lifecycle is persisted. */
  redisUrl: arg.text(),
  /** The data folder; the work dir defaults to `<dataDir>/agents/<agentId>`. */
  dataDir: arg.text().default(DEFAULT_AGENT_DATA_DIR),
  workDir: arg.text().optional(),
  /** Discard a persisted lifecycle and start afresh (a terminated agent id may be reused this way). */
  fresh: arg.bool().default(false),
  /** Keep each exec task's working directory after the task (default: removed). */
  keepTaskDirs: arg.bool().default(false),
  keyPrefix: arg.text().default(DEFAULT_AGENT_KEY_PREFIX),
  maxRestarts: arg.int(0).optional(),
  /**
   * DEVELOPMENT ONLY: run exec tasks without the bubblewrap sandbox, with the agent's own rights.
   * Logged as a warning at start and at every task. Never set it in production.
   */
  unsandboxedExec: arg.bool().default(false),
  /** Host uid/gid the sandbox runs as when the agent is root (never root itself). */
  sandboxUid: arg.int(1).default(DEFAULT_SANDBOX_UID),
  sandboxGid: arg.int(1).default(DEFAULT_SANDBOX_GID),
  /** Parent of sandboxed task directories (default: a fresh `agov-sandbox-*` folder in the OS temp dir). */
  sandboxDir: arg.text().optional(),
  sandboxMaxProcesses: arg.positive().default(DEFAULT_SANDBOX_MAX_PROCESSES),
  sandboxMaxMemoryBytes: arg.positive().default(DEFAULT_SANDBOX_MAX_MEMORY_BYTES),
  sandboxMaxFileBytes: arg.positive().default(DEFAULT_SANDBOX_MAX_FILE_BYTES),
  /** exec and http tasks start only once their stage attempt's child token has arrived. */
  requireCredentials: arg.bool().default(true),
  credentialsWaitMs: arg.positive().default(DEFAULT_CREDENTIALS_WAIT_MS),
  /** Claim check: exec output kept per stream, stored in memory past the inline cap (T1+); 0: off. */
  maxSpillBytes: arg.int(0, MAX_SPILL_BYTES).default(DEFAULT_MAX_SPILL_BYTES),
  /** Vault's address, for revoking a finished attempt's token (revoke-self); none: left to the run's end. */
  vaultAddr: arg.text().optional(),
});
export type AgentArgs = z.output<typeof AgentArgsSchema>;

/** An agent's settings, compiled from its start arguments. */
export interface AgentOptions {
  /** The tier asked for; when not a valid tier the agent starts as T0 and its preflight fails. */
  tier: Tier;
  tierValid: boolean;
  requestedTier: string;
  role: string | undefined;
  team: string | undefined;
  redisUrl: string;
  workDir: string;
  fresh: boolean;
  keepTaskDirs: boolean;
  keyPrefix: string;
  maxRestarts: number | undefined;
  unsandboxedExec: boolean;
  sandboxUid: number;
  sandboxGid: number;
  sandboxDir: string | undefined;
  sandboxMaxProcesses: number;
  sandboxMaxMemoryBytes: number;
  sandboxMaxFileBytes: number;
  requireCredentials: boolean;
  credentialsWaitMs: number;
  maxSpillBytes: number;
  vaultAddr: string | undefined;
}

/** Compiles an agent's parsed start arguments into its settings. */
export function agentOptions(agentId: string, args: AgentArgs): AgentOptions {
  const tierValid = isTier(args.tier);
  return {
    tier: isTier(args.tier) ? args.tier : 'T0',
    tierValid,
    requestedTier: args.tier,
    role: args.role,
    team: args.team,
    redisUrl: args.redisUrl,
    workDir: resolve(args.workDir ?? join(args.dataDir, 'agents', agentId)),
    fresh: args.fresh,
    keepTaskDirs: args.keepTaskDirs,
    keyPrefix: args.keyPrefix,
    maxRestarts: args.maxRestarts,
    unsandboxedExec: args.unsandboxedExec,
    sandboxUid: args.sandboxUid,
    sandboxGid: args.sandboxGid,
    sandboxDir: args.sandboxDir === undefined ? undefined : resolve(args.sandboxDir),
    sandboxMaxProcesses: args.sandboxMaxProcesses,
    sandboxMaxMemoryBytes: args.sandboxMaxMemoryBytes,
    sandboxMaxFileBytes: args.sandboxMaxFileBytes,
    requireCredentials: args.requireCredentials,
    credentialsWaitMs: args.credentialsWaitMs,
    maxSpillBytes: args.maxSpillBytes,
    vaultAddr: args.vaultAddr,
  };
}
