/**
 * The token actors: the token authority (issues, scopes and revokes the Vault tokens of runs and
 * their agents) and the token renewer, their Vault client, stores and options. See docs/governance.md.
 */
export {
  decideRenewal,
  nextRenewalAt,
  type RenewalDecision,
  type RenewalState,
  retryAt,
  toVaultSeconds,
} from './renewal-schedule.ts';
export { type IssueInput, type RevokeResult, TokenAuthority, tokenAuthorityKind } from './token-authority.ts';
export * from './token-options.ts';
export {
  childPolicies,
  childTier,
  lowestTier,
  policyDocuments,
  runPolicies,
  tierPolicy,
} from './token-policy.ts';
export { TokenRenewer, tokenRenewerKind } from './token-renewer.ts';
export {
  type ChildTokenRecord,
  type RunTokenRecord,
  TokenStore,
  type TokenStateName,
} from './token-store.ts';
export {
  type CreateTokenOptions,
  type IssuedToken,
  type RenewedToken,
  type TokenInfo,
  type VaultDuration,
  VaultTokenClient,
  type VaultTokenClientOptions,
} from './vault-client.ts';
export * from './vault-client-options.ts';
