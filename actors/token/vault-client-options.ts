/** Defaults of {@link VaultTokenClient} (actors/token/vault-client.ts). */

/** Per-request timeout towards Vault; a timeout surfaces as a retryable VaultError. */
export const DEFAULT_VAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * How many tokens the client remembers (accessor, estimated expiry, revoked-by-us, parent) to tell
 * TokenExpiredError from TokenRevokedError when Vault only says "gone". Oldest entries are forgotten first.
 */
export const DEFAULT_VAULT_TOKEN_MEMORY_ENTRIES = 10_000;
