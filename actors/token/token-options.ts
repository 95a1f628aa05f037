/**
 * Defaults and start arguments of the token actors (token-authority, token-renewer).
 * One `DEFAULT_*` per default, unit in the name. See docs/governance.md.
 */
import { z } from 'zod';
import { ACTOR_KIND } from '../../protocols/index.ts';
import {
  DEFAULT_TOKEN_MAX_TTL_MS,
  DEFAULT_TOKEN_RENEW_EVERY_MS,
  DEFAULT_TOKEN_TTL_MS,
} from '../../protocols/pipeline/index.ts';
import { arg } from '../runtime/index.ts';
import {
  DEFAULT_QUARANTINE_COOL_DOWN_MS,
  DEFAULT_QUARANTINE_POLL_MS,
  DEFAULT_VIOLATION_RELEASE,
  QUARANTINE_RELEASES,
} from '../error-budget/quarantine-policy.ts';

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
export const DEFAULT_AGENT_KIND = ACTOR_KIND.agent;
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

/**
 * Life of the wrapping token a child token travels in (`agent.credentials.v2`): the agent unwraps it as
 * soon as the message reaches it, so this only has to cover a busy mailbox.
 */
export const DEFAULT_CHILD_WRAP_TTL_MS = 120_000;
/** Prefix of the authority's quarantine keys (agents held after a violation). */
export const DEFAULT_VIOLATION_QUARANTINE_KEY_PREFIX = 'agov:token:quarantine';

/** Start arguments both token actors take. */
const tokenActorArgs = {
  vaultAddr: arg.text(),
  vaultToken: arg.text(),
  redisUrl: arg.text(),
  keyPrefix: arg.text().default(DEFAULT_TOKEN_KEY_PREFIX),
  agentKind: arg.text().default(DEFAULT_AGENT_KIND),
};

/** Start arguments of the token authority (kind `token-authority`). */
export const TokenAuthorityArgsSchema = z.strictObject({
  ...tokenActorArgs,
  durable: arg.text().default(DEFAULT_TOKEN_AUTHORITY_DURABLE),
  startFrom: arg.startFrom(),
  /** `from` addresses allowed to report violations whatever their tier. */
  reporterAllowlist: arg.list().default([]),
  /** Write the agov-run / agov-tier-* policies into Vault at start (needs sys/policy rights). */
  ensurePolicies: arg.bool().default(true),
  reporterVerifyTimeoutMs: arg.positive().default(DEFAULT_REPORTER_VERIFY_TIMEOUT_MS),
  eventRetryMs: arg.positive().default(DEFAULT_EVENT_RETRY_MS),
  ackWaitMs: arg.positive().default(DEFAULT_EVENT_ACK_WAIT_MS),
  childWrapTtlMs: arg.positive().default(DEFAULT_CHILD_WRAP_TTL_MS),
  /** How the agent that committed a violation leaves quarantine (default: an operator releases it). */
  violationRelease: z.enum(QUARANTINE_RELEASES).default(DEFAULT_VIOLATION_RELEASE),
  violationCoolDownMs: arg.positive().default(DEFAULT_QUARANTINE_COOL_DOWN_MS),
  quarantineKeyPrefix: arg.text().default(DEFAULT_VIOLATION_QUARANTINE_KEY_PREFIX),
  quarantinePollMs: arg.positive().default(DEFAULT_QUARANTINE_POLL_MS),
});
export type TokenAuthorityArgs = z.output<typeof TokenAuthorityArgsSchema>;

/** Start arguments of the token renewer (kind `token-renewer`). */
export const TokenRenewerArgsSchema = z.strictObject({
  ...tokenActorArgs,
  pollMs: arg.positive().default(DEFAULT_RENEWER_POLL_MS),
  retryMs: arg.positive().default(DEFAULT_RENEW_RETRY_MS),
});
export type TokenRenewerArgs = z.output<typeof TokenRenewerArgsSchema>;
