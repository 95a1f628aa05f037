/**
 * Vault response wrapping from the system's side (docs/vault.md, `sys/wrapping/*`): the token
 * authority wraps a child token into a single-use wrapping token with a short TTL and tells only
 * that (`agent.credentials.v2`); the agent unwraps it once. Whoever else reads the message — or a
 * dead letter, a log, a trace of it — holds a token that either was already used (the agent's unwrap
 * then fails for them: 400) or, if they unwrap first, makes the agent's unwrap fail, which the agent
 * reports: interception is never silent.
 */
import { VaultError } from '../../protocols/index.ts';

export interface WrappedSecret {
  /** The single-use wrapping token (a secret until it is unwrapped). */
  wrappingToken: string;
  /** Seconds the wrapping token lives unless unwrapped. */
  ttlS: number;
}

const base = (addr: string) => addr.replace(/\/+$/, '');

async function call(
  addr: string,
  path: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(`${base(addr)}/v1/${path}`, {
      method: 'POST',
      headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body ?? {}),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new VaultError(`Vault unreachable for ${path}`, { retryable: true, cause: err });
  }
  const text = await res.text();
  const parsed = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  if (!res.ok) {
    // Vault's `errors` never hold the wrapping token; the status says what went wrong.
    const errors = Array.isArray(parsed.errors) ? parsed.errors.map(String).join('; ') : '';
    throw new VaultError(`Vault answered ${res.status} to ${path}${errors ? `: ${errors}` : ''}`, {
      retryable: res.status >= 500 || res.status === 429,
      details: { path, status: res.status },
    });
  }
  return parsed;
}

/** Wraps `data` (a JSON object) with `token`'s rights on `sys/wrapping/wrap` (Vault's default policy). */
export async function wrapSecret(
  addr: string,
  token: string,
  data: Record<string, unknown>,
  ttlS: number,
): Promise<WrappedSecret> {
  const answer = await call(addr, 'sys/wrapping/wrap', token, data, { 'X-Vault-Wrap-TTL': `${ttlS}s` });
  const info = answer.wrap_info as { token?: string; ttl?: number } | null | undefined;
  if (!info?.token)
    throw new VaultError('Vault answered sys/wrapping/wrap without a wrap_info', { retryable: false });
  return { wrappingToken: info.token, ttlS: info.ttl ?? ttlS };
}

/** Unwraps once, with the wrapping token as its own authority; the data that was wrapped. */
export async function unwrapSecret(addr: string, wrappingToken: string): Promise<Record<string, unknown>> {
  const answer = await call(addr, 'sys/wrapping/unwrap', wrappingToken, {});
  return (answer.data as Record<string, unknown> | null) ?? {};
}
