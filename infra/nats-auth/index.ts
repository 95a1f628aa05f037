export {
  createNatsAuthority,
  DEFAULT_RESPONSE_WINDOW_MS,
  DEFAULT_USER_CREDS_TTL_MS,
  loadOrCreateNatsAuthority,
  type MintedUser,
  mintSystemUser,
  mintUser,
  type NatsAuthority,
  type UserIssuer,
  operatorModeConfig,
  pruneRevocations,
  type RevokedUser,
  revokeUsers,
  saveRevocations,
  signUser,
  DEFAULT_REVOCATION_PRUNE_SKEW_MS,
} from './authority.ts';
export {
  authorityFor,
  defaultCredentialsFor,
  forgetServer,
  type JwtCredentials,
  mintLocal,
  formatCredsText,
  issuerSeedFor,
  registerIssuerSeed,
  parseCredsText,
  registerAuthority,
  registerDefaultCredentials,
} from './local-credentials.ts';
export { ClaimsPusher, DEFAULT_CLAIMS_UPDATE_TIMEOUT_MS } from './revocation.ts';
export { fastKeyPair, nkeyVerifier, rawPublicKey } from './fast-signing.ts';
