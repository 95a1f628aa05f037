/** Raw Vault HTTP calls for contract tests: Vault's wire shapes and statuses without a client in between. */

export interface VaultApiAnswer {
  status: number;
  body: {
    errors?: string[];
    warnings?: string[] | null;
    data?: Record<string, unknown> | null;
    auth?: Record<string, unknown> | null;
    wrap_info?: Record<string, unknown> | null;
  } | null;
}

export async function vaultApi(
  addr: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; rawBody?: string; wrapTtl?: string } = {},
): Promise<VaultApiAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.wrapTtl !== undefined) headers['X-Vault-Wrap-TTL'] = opts.wrapTtl;
  if (opts.token !== undefined) headers['X-Vault-Token'] = opts.token;
  const res = await fetch(`${addr}/v1/${path}`, {
    method,
    headers,
    body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as VaultApiAnswer['body']) };
}
