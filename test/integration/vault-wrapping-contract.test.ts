import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaultApi as api } from '../harness/vault-api.ts';
import { type VaultBackend, vaultBackends } from '../harness/vault-backends.ts';

/**
 * Vault's response wrapping (`sys/wrapping/wrap|unwrap|lookup`, `X-Vault-Wrap-TTL`), the way child
 * tokens reach agents without crossing the bus in clear: run against the dev server, and against a
 * real Vault when VAULT_ADDR and VAULT_TOKEN are set (shapes from Vault's API docs, 1.15).
 */
const factories = vaultBackends();

const INVALID = 'wrapping token is not valid or does not exist';

describe.each(factories)('Vault response wrapping contract against the $name', (factory) => {
  let b: VaultBackend;
  const devOnly = factory.devServer ? it : it.skip;

  beforeAll(async () => {
    b = await factory.start();
  });
  afterAll(() => b?.stop());

  async function wrapped(data: Record<string, unknown>, wrapTtl = '60s'): Promise<Record<string, unknown>> {
    const res = await api(b.addr, 'POST', 'sys/wrapping/wrap', { token: b.rootToken, body: data, wrapTtl });
    expect(res.status).toBe(200);
    return res.body!.wrap_info!;
  }

  it('wraps data into a wrap_info with token, accessor, ttl, creation time and path, and no data', async () => {
    const res = await api(b.addr, 'POST', 'sys/wrapping/wrap', {
      token: b.rootToken,
      body: { secret: 's3cr3t' },
      wrapTtl: '90s',
    });
    expect(res.status).toBe(200);
    expect(res.body?.data).toBeNull();
    expect(res.body?.auth).toBeNull();
    const info = res.body!.wrap_info!;
    expect(info).toMatchObject({ ttl: 90, creation_path: 'sys/wrapping/wrap' });
    expect(typeof info.token).toBe('string');
    expect(typeof info.accessor).toBe('string');
    expect(Number.isNaN(Date.parse(String(info.creation_time)))).toBe(false);
    expect(JSON.stringify(res.body)).not.toContain('s3cr3t');
  });

  it('unwraps once with the wrapping token as the client token; a second unwrap fails with 400', async () => {
    const info = await wrapped({ secret: 'once' });
    const first = await api(b.addr, 'POST', 'sys/wrapping/unwrap', { token: String(info.token) });
    expect(first.status).toBe(200);
    expect(first.body?.data).toEqual({ secret: 'once' });
    const second = await api(b.addr, 'POST', 'sys/wrapping/unwrap', { token: String(info.token) });
    expect(second.status).toBe(400);
    expect(second.body?.errors).toContain(INVALID);
  });

  it('unwraps with another token that passes the wrapping token in the body', async () => {
    const info = await wrapped({ secret: 'body' });
    const res = await api(b.addr, 'POST', 'sys/wrapping/unwrap', {
      token: b.rootToken,
      body: { token: info.token },
    });
    expect(res.status).toBe(200);
    expect(res.body?.data).toEqual({ secret: 'body' });
  });

  it('wraps a token create asked with X-Vault-Wrap-TTL: the child token is only in the unwrapped answer', async () => {
    const res = await api(b.addr, 'POST', 'auth/token/create', {
      token: b.rootToken,
      body: { policies: ['agent-read'], ttl: '1h' },
      wrapTtl: '5m',
    });
    expect(res.status).toBe(200);
    expect(res.body?.auth).toBeNull();
    const info = res.body!.wrap_info!;
    expect(info).toMatchObject({ ttl: 300, creation_path: 'auth/token/create' });
    const unwrapped = await api(b.addr, 'POST', 'sys/wrapping/unwrap', { token: String(info.token) });
    expect(unwrapped.status).toBe(200);
    const auth = unwrapped.body!.auth!;
    expect(info.wrapped_accessor).toBe(auth.accessor);
    const self = await api(b.addr, 'GET', 'auth/token/lookup-self', { token: String(auth.client_token) });
    expect(self.status).toBe(200);
    expect(self.body?.data?.policies).toEqual(['agent-read', 'default']);
  });

  it('looks a wrapping token up without authentication until it is unwrapped', async () => {
    const info = await wrapped({ secret: 'look' }, '120');
    const res = await api(b.addr, 'POST', 'sys/wrapping/lookup', { body: { token: info.token } });
    expect(res.status).toBe(200);
    expect(res.body?.data).toMatchObject({ creation_path: 'sys/wrapping/wrap', creation_ttl: 120 });
    expect(res.body?.data?.creation_time).toBe(info.creation_time);
    await api(b.addr, 'POST', 'sys/wrapping/unwrap', { token: String(info.token) });
    const after = await api(b.addr, 'POST', 'sys/wrapping/lookup', { body: { token: info.token } });
    expect(after.status).toBe(400);
    expect(after.body?.errors).toContain(INVALID);
  });

  it('a wrapping token is no Vault token: it cannot look itself up or create tokens', async () => {
    const info = await wrapped({ secret: 'x' });
    const self = await api(b.addr, 'GET', 'auth/token/lookup-self', { token: String(info.token) });
    expect(self.status).toBe(403);
    const create = await api(b.addr, 'POST', 'auth/token/create', {
      token: String(info.token),
      body: { policies: ['default'] },
    });
    expect(create.status).toBe(403);
  });

  it('refuses an unknown wrapping token and an unparseable wrap TTL with 400', async () => {
    const res = await api(b.addr, 'POST', 'sys/wrapping/unwrap', {
      token: b.rootToken,
      body: { token: 'hvs.not-a-wrapping-token' },
    });
    expect(res.status).toBe(400);
    expect(res.body?.errors).toContain(INVALID);
    const bad = await api(b.addr, 'POST', 'sys/wrapping/wrap', {
      token: b.rootToken,
      body: { a: 1 },
      wrapTtl: 'soon',
    });
    expect(bad.status).toBe(400);
  });

  devOnly('a wrapping token dies at the end of its TTL, unused', async () => {
    const info = await wrapped({ secret: 'late' }, '30s');
    b.clock!.advance(31_000);
    const res = await api(b.addr, 'POST', 'sys/wrapping/unwrap', { token: String(info.token) });
    expect(res.status).toBe(400);
    expect(res.body?.errors).toContain(INVALID);
  });
});
