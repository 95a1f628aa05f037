import { z } from 'zod';

/** Lifetime of the credentials the authority mints for system-started actors; renewed before the end. */
export const DEFAULT_CA_CREDS_TTL_MS = 60 * 60 * 1000;
/** A credential is renewed when less than this is left of it. */
export const DEFAULT_CA_RENEW_BEFORE_MS = 10 * 60 * 1000;
/** How often the authority looks for credentials to renew. */
export const DEFAULT_CA_RENEW_CHECK_MS = 30 * 1000;
/** How long a holder has to answer a rekey or take a renewed JWT. */
export const DEFAULT_CA_HOLDER_TIMEOUT_MS = 5_000;
/** KV bucket of the credentials the authority issued (public keys and JWT expiry; never a seed). */
export const CREDENTIALS_BUCKET = 'agov-credentials';
/** Audit category of credential lifecycle events (`gov.audit.credentials.<self>`). */
export const CREDENTIALS_AUDIT_CATEGORY = 'credentials';

export const CredentialAuthorityArgsSchema = z.object({
  /** Folder of the nkey seeds (`<data dir>/nats-auth`); absent: the keys this process registered for the server. */
  authorityDir: z.string().optional(),
  ttlMs: z.number().int().positive().default(DEFAULT_CA_CREDS_TTL_MS),
  renewBeforeMs: z.number().int().positive().default(DEFAULT_CA_RENEW_BEFORE_MS),
  renewCheckMs: z.number().int().positive().default(DEFAULT_CA_RENEW_CHECK_MS),
  holderTimeoutMs: z.number().int().positive().default(DEFAULT_CA_HOLDER_TIMEOUT_MS),
});
export type CredentialAuthorityArgs = z.output<typeof CredentialAuthorityArgsSchema>;
