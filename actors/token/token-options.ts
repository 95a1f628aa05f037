/**
 * Defaults and start arguments of the token actors (token-authority, token-renewer).
 * One `DEFAULT_*` per default, unit in the name. See docs/governance.md.
 */
import { ConfigError } from '../../protocols/errors.ts';
import {
  DEFAULT_TOKEN_MAX_TTL_MS,
  DEFAULT_TOKEN_RENEW_EVERY_MS,
  DEFAULT_TOKEN_TTL_MS,
} from '../../protocols/pipeline/options.ts';
import { AGENT_KIND } from '../agent/agent-options.ts';
import {
  argList,
  argPositiveNumber,
  argStartFrom,
  argString,
  type StartFrom,
} from '../runtime/start-args.ts';

/** A run token lives 2 h unless the run declares otherwise (same as the pipeline DSL default). */
export const DEFAULT_RUN_TOKEN_TTL_MS = DEFAULT_TOKEN_TTL_MS;
/** Run tokens are renewed every 30 min. */
export const DEFAULT_RUN_TOKEN_RENEW_EVERY_MS = DEFAULT_TOKEN_RENEW_EVERY_MS;
/** Explicit max TTL of a run token: no renewal makes it live longer. */
export const DEFAULT_RUN_TOKEN_MAX_TTL_MS = DEFAULT_TOKEN_MAX_TTL_MS;
/** Prefix of the token actors' Redis keys. */
export const DEFAULT_TOKEN_KEY_PREFIX = 'agov:token';
/** Name of the token authority's durable JetStream consumer on `gov.audit.run`. */
export const DEFAULT_TOKEN_AUTHORITY_DURABLE = 'token-authority';
/** Actor kind of the agents whose inboxes get credentials and commands. */
export const DEFAULT_AGENT_KIND = AGENT_KIND;
/** How long the authority waits for a reporter's agent.state.v1 when verifying a T2 claim. */
export const DEFAULT_REPORTER_VERIFY_TIMEOUT_MS = 1_000;
/** How often the renewer looks for due renewals (Clock time). */
export const DEFAULT_RENEWER_POLL_MS = 1_000;
/** After a failed renewal the renewer tries again this much later (never past the token's expiry). */
export const DEFAULT_RENEW_RETRY_MS = 60_000;
/** Redelivery delay of a run event whose handling failed (Vault or Redis down). */
export const DEFAULT_EVENT_RETRY_MS = 1_000;
/** How long JetStream waits for the ack of a run event before redelivering it. */
export const DEFAULT_EVENT_ACK_WAIT_MS = 30_000;
/** Vault policy every run token carries: may create child tokens (for its agents). */
export const RUN_POLICY = 'agov-run';

export interface TokenActorArgs {
  vaultAddr: string;
  vaultToken: string;
  redisUrl: string;
  keyPrefix: string;
  agentKind: string;
}

export interface TokenAuthorityArgs extends TokenActorArgs {
  durable: string;
  startFrom: StartFrom;
  /** `from` addresses allowed to report violations whatever their tier. */
  reporterAllowlist: string[];
  /** Write the agov-run / agov-tier-* policies into Vault at start (needs sys/policy rights). */
  ensurePolicies: boolean;
  reporterVerifyTimeoutMs: number;
  eventRetryMs: number;
  ackWaitMs: number;
}

export interface TokenRenewerArgs extends TokenActorArgs {
  pollMs: number;
  retryMs: number;
}

function common(args: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): TokenActorArgs {
  const vaultAddr = argString(args.vaultAddr) ?? argString(env.VAULT_ADDR);
  const vaultToken = argString(args.vaultToken) ?? argString(env.VAULT_TOKEN);
  const redisUrl = argString(args.redisUrl) ?? argString(env.REDIS_URL);
  if (!vaultAddr || !vaultToken)
    throw new ConfigError('token actors need vaultAddr and vaultToken (args or VAULT_ADDR / VAULT_TOKEN)');
  if (!redisUrl) throw new ConfigError('token actors need redisUrl (arg or REDIS_URL)');
  return {
    vaultAddr,
    vaultToken,
    redisUrl,
    keyPrefix: argString(args.keyPrefix) ?? DEFAULT_TOKEN_KEY_PREFIX,
    agentKind: argString(args.agentKind) ?? DEFAULT_AGENT_KIND,
  };
}

export function tokenAuthorityArgs(
  args: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): TokenAuthorityArgs {
  const startFrom = argStartFrom(args.startFrom);
  return {
    ...common(args, env),
    durable: argString(args.durable) ?? DEFAULT_TOKEN_AUTHORITY_DURABLE,
    startFrom,
    reporterAllowlist: argList(args.reporterAllowlist),
    ensurePolicies: args.ensurePolicies !== false && args.ensurePolicies !== 'false',
    reporterVerifyTimeoutMs: argPositiveNumber(
      args.reporterVerifyTimeoutMs,
      DEFAULT_REPORTER_VERIFY_TIMEOUT_MS,
    ),
    eventRetryMs: argPositiveNumber(args.eventRetryMs, DEFAULT_EVENT_RETRY_MS),
    ackWaitMs: argPositiveNumber(args.ackWaitMs, DEFAULT_EVENT_ACK_WAIT_MS),
  };
}

export function tokenRenewerArgs(
  args: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): TokenRenewerArgs {
  return {
    ...common(args, env),
    pollMs: argPositiveNumber(args.pollMs, DEFAULT_RENEWER_POLL_MS),
    retryMs: argPositiveNumber(args.retryMs, DEFAULT_RENEW_RETRY_MS),
  };
}
