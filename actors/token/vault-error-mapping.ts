/**
 * How the Vault token client turns a failed call into a GovError (docs/vault.md): network trouble and
 * 5xx/429 are retryable VaultErrors; a token Vault no longer knows is a TokenRevokedError or a
 * TokenExpiredError (Vault does not say which: {@link TokenMemory} decides); anything else is a
 * VaultError that is not retryable. Secrets named by the call are scrubbed from every message.
 */
import { type GovError, TokenExpiredError, TokenRevokedError, VaultError } from '../../protocols/index.ts';
import type { TokenMemory } from './token-memory.ts';

/** What a call was about, for its error. */
export interface CallSubject {
  operation: string;
  /** The accessor the call is about, when known. */
  accessor?: string;
  /** Which kind of answer means "that token is gone". */
  gone: 'invalid-accessor' | 'self-forbidden' | 'parent-forbidden' | 'none';
  /** Secrets to scrub from any message. */
  secrets: string[];
}

/** The typed error of a failed Vault call. */
export function mapVaultError(err: unknown, subject: CallSubject, memory: TokenMemory): GovError {
  const scrub = (s: string) =>
    subject.secrets.reduce((acc, secret) => (secret ? acc.split(secret).join('[redacted]') : acc), s);
  const base: Record<string, unknown> = { operation: subject.operation };
  if (subject.accessor !== undefined) base.accessor = subject.accessor;

  const response = (err as { response?: { statusCode?: unknown; body?: unknown } } | null)?.response;
  if (response && typeof response.statusCode === 'number') {
    const rawErrors = (response.body as { errors?: unknown } | null | undefined)?.errors;
    const errors = Array.isArray(rawErrors) ? rawErrors.map((e) => scrub(String(e))) : [];
    return statusError(response.statusCode, errors, base, subject, memory);
  }

  const code = (err as { code?: unknown } | null)?.code;
  const message = scrub(
    err instanceof Error ? err.message : String((err as { message?: unknown } | null)?.message ?? err),
  );
  if (typeof code === 'string' || (err as { isAxiosError?: unknown } | null)?.isAxiosError) {
    return new VaultError(`Vault ${subject.operation} could not reach Vault: ${message}`, {
      retryable: true,
      details: { ...base, reason: 'network', code: typeof code === 'string' ? code : undefined },
      cause: new Error(message),
    });
  }
  return new VaultError(`Vault ${subject.operation} failed: ${message}`, {
    retryable: false,
    details: base,
    cause: new Error(message),
  });
}

/** The error of an HTTP answer from Vault with `status` and its (scrubbed) `errors`. */
function statusError(
  status: number,
  errors: string[],
  base: Record<string, unknown>,
  subject: CallSubject,
  memory: TokenMemory,
): GovError {
  const text = errors.join('; ') || `status ${status}`;
  const details = { ...base, status, errors };
  const cause = new Error(`Vault ${status}: ${text}`);
  if (status >= 500 || status === 429) {
    return new VaultError(`Vault ${subject.operation} failed with ${status}: ${text}`, {
      retryable: true,
      details,
      cause,
    });
  }
  const gone =
    (subject.gone === 'invalid-accessor' &&
      status === 400 &&
      errors.some((e) => /invalid accessor/i.test(e))) ||
    (subject.gone === 'self-forbidden' && status === 403) ||
    (status === 400 && errors.some((e) => /lease expired|token not found/i.test(e)));
  if (gone) return classifyGone(subject, details, cause, memory);
  if (subject.gone === 'parent-forbidden' && status === 403 && subject.accessor !== undefined) {
    const known = memory.knownGone(subject.accessor);
    if (known) return classifyGone(subject, details, cause, memory);
  }
  const notRenewable = status === 400 && errors.some((e) => /not renewable/i.test(e));
  return new VaultError(`Vault ${subject.operation} refused (${status}): ${text}`, {
    retryable: false,
    details: notRenewable
      ? { ...details, reason: 'not_renewable' }
      : status === 403
        ? { ...details, reason: 'permission_denied' }
        : details,
    cause,
  });
}

/**
 * Vault says the token no longer exists. Revoked by this client (itself or an ancestor) →
 * TokenRevokedError; otherwise past its estimated expiry (itself or an ancestor) → TokenExpiredError;
 * otherwise (revoked elsewhere, or unknown to this client) → TokenRevokedError.
 */
function classifyGone(
  subject: CallSubject,
  details: Record<string, unknown>,
  cause: Error,
  memory: TokenMemory,
): GovError {
  const verdict = subject.accessor === undefined ? undefined : memory.knownGone(subject.accessor);
  const d = {
    ...details,
    knownToClient: subject.accessor !== undefined && memory.has(subject.accessor),
  };
  const who = subject.accessor === undefined ? 'token' : `token with accessor ${subject.accessor}`;
  if (verdict === 'expired') return new TokenExpiredError(`${who} has expired`, { details: d, cause });
  return new TokenRevokedError(`${who} is revoked or unknown to Vault`, { details: d, cause });
}
