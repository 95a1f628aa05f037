import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultTokenClient } from '../../actors/token/vault-client.ts';
import { freePort } from '../../infra/free-port.ts';
import { vaultApi } from '../harness/vault-api.ts';
import { type VaultBackend, vaultBackends } from '../harness/vault-backends.ts';
import {
  type GovError,
  TokenExpiredError,
  TokenRevokedError,
  VaultError,
  serializeError,
} from '../../protocols/vocabulary/errors.ts';

/**
 * One contract for Vault's token auth method, run against every backend at hand:
 * always the in-memory dev server (with a ManualClock), and a real Vault when VAULT_ADDR and
 * VAULT_TOKEN are set. Tests that move time are dev-server-only.
 */

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

const factories = vaultBackends();
if (process.env.VAULT_ADDR && !process.env.VAULT_TOKEN) {
  console.info('vault contract: VAULT_ADDR is set but VAULT_TOKEN is not; skipping the real Vault backend');
}
console.info(`vault contract: running against ${factories.map((f) => f.name).join(' and ')}`);

const api = vaultApi;

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe.each(factories)('Vault token auth contract against the $name', (factory) => {
  let backend: VaultBackend;
  let vault: VaultTokenClient;
  const suffix = randomBytes(4).toString('hex');
  const creatorPolicy = `agov-test-token-creator-${suffix}`;
  const devOnly = factory.devServer ? it : it.skip;

  beforeAll(async () => {
    backend = await factory.start();
    console.info(`vault contract: backend "${factory.name}" at ${backend.addr}`);
    vault = new VaultTokenClient({ addr: backend.addr, token: backend.rootToken, clock: backend.clock });
    const written = await api(backend.addr, 'PUT', `sys/policy/${creatorPolicy}`, {
      token: backend.rootToken,
      body: { policy: 'path "auth/token/create" { capabilities = ["create", "update"] }' },
    });
    expect(written.status).toBe(204);
  });

  afterAll(async () => {
    if (!backend) return;
    await api(backend.addr, 'DELETE', `sys/policy/${creatorPolicy}`, { token: backend.rootToken });
    await backend.stop();
  });

  it('creates a token with a 2 h TTL, the requested policies plus default, and metadata', async () => {
    const issued = await vault.createToken({
      policies: ['agent-read', 'agent-write'],
      ttl: '2h',
      meta: { pipeline: 'p-1', run: 'r-1' },
      displayName: 'run-1',
    });
    expect(issued.token).not.toBe('');
    expect(issued.accessor).not.toBe('');
    expect(issued.token).not.toBe(issued.accessor);
    expect(issued.leaseDurationS).toBe(7200);
    expect(issued.policies).toEqual(['agent-read', 'agent-write', 'default']);
    expect(issued.renewable).toBe(true);
    expect(issued.orphan).toBe(false);
    expect(issued.warnings).toContain('Policy "agent-read" does not exist');
  });

  it('answers token creation with the documented auth block', async () => {
    const res = await api(backend.addr, 'POST', 'auth/token/create', {
      token: backend.rootToken,
      body: { policies: ['agent-read'], ttl: 7200, meta: { run: 'r-2' } },
    });
    expect(res.status).toBe(200);
    const auth = res.body?.auth ?? {};
    for (const key of [
      'client_token',
      'accessor',
      'policies',
      'token_policies',
      'metadata',
      'lease_duration',
      'renewable',
      'entity_id',
      'token_type',
      'orphan',
    ]) {
      expect(auth).toHaveProperty(key);
    }
    expect(auth.lease_duration).toBe(7200);
    expect(auth.token_type).toBe('service');
    expect(auth.metadata).toEqual({ run: 'r-2' });
    expect(auth.token_policies).toEqual(['agent-read', 'default']);
  });

  it('accepts durations as "2h", "120m", "7200s" and plain seconds', async () => {
    for (const ttl of ['2h', '120m', '7200s', '7200', 7200]) {
      const issued = await vault.createToken({ policies: ['agent-read'], ttl });
      expect(issued.leaseDurationS).toBe(7200);
    }
  });

  it('looks a token up by accessor with its ttl, policies, meta and renewable flag but without its id', async () => {
    const issued = await vault.createToken({
      policies: ['agent-read'],
      ttl: '2h',
      explicitMaxTtl: '4h',
      meta: { run: 'r-3' },
    });
    const info = await vault.lookupAccessor(issued.accessor);
    expect(info.accessor).toBe(issued.accessor);
    expect(info.ttlS).toBeGreaterThan(7190);
    expect(info.ttlS).toBeLessThanOrEqual(7200);
    expect(info.creationTtlS).toBe(7200);
    expect(info.explicitMaxTtlS).toBe(14400);
    expect(info.policies).toEqual(['agent-read', 'default']);
    expect(info.meta).toEqual({ run: 'r-3' });
    expect(info.renewable).toBe(true);
    expect(info.orphan).toBe(false);
    expect(info.type).toBe('service');
    expect(info.path).toBe('auth/token/create');
    expect(info.expireTime).not.toBeNull();

    const raw = await api(backend.addr, 'POST', 'auth/token/lookup-accessor', {
      token: backend.rootToken,
      body: { accessor: issued.accessor },
    });
    expect(raw.status).toBe(200);
    const data = raw.body?.data ?? {};
    for (const key of [
      'accessor',
      'creation_time',
      'creation_ttl',
      'display_name',
      'expire_time',
      'explicit_max_ttl',
      'id',
      'issue_time',
      'meta',
      'num_uses',
      'orphan',
      'path',
      'policies',
      'renewable',
      'ttl',
      'type',
    ]) {
      expect(data).toHaveProperty(key);
    }
    expect(data.id).toBe('');
  });

  it('looks a token up by itself, and by token, with its id', async () => {
    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '2h' });
    const self = await vault.lookupSelf(issued.token);
    expect(self.accessor).toBe(issued.accessor);
    expect(self.policies).toEqual(['agent-read', 'default']);

    const raw = await api(backend.addr, 'GET', 'auth/token/lookup-self', { token: issued.token });
    expect(raw.status).toBe(200);
    expect(raw.body?.data?.id).toBe(issued.token);
    const byToken = await api(backend.addr, 'POST', 'auth/token/lookup', {
      token: backend.rootToken,
      body: { token: issued.token },
    });
    expect(byToken.body?.data?.id).toBe(issued.token);
    expect(byToken.body?.data?.accessor).toBe(issued.accessor);
  });

  it('renews a token by accessor and by itself, extending its ttl up to and not past its explicit max TTL', async () => {
    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '30m', explicitMaxTtl: '2h' });
    const first = await vault.renewAccessor(issued.accessor, '1h');
    expect(first.accessor).toBe(issued.accessor);
    expect(first.leaseDurationS).toBe(3600);
    expect(first.renewable).toBe(true);

    const self = await vault.renewSelf(issued.token, '45m');
    expect(self.leaseDurationS).toBe(2700);
    expect(self.accessor).toBe(issued.accessor);

    const capped = await vault.renewAccessor(issued.accessor, '5h');
    expect(capped.leaseDurationS).toBeGreaterThan(7190);
    expect(capped.leaseDurationS).toBeLessThanOrEqual(7200);
    expect(capped.warnings.join(' ')).toMatch(/capped/);
  });

  it('answers renew-accessor without the token in client_token', async () => {
    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '1h' });
    const raw = await api(backend.addr, 'POST', 'auth/token/renew-accessor', {
      token: backend.rootToken,
      body: { accessor: issued.accessor, increment: '2h' },
    });
    expect(raw.status).toBe(200);
    expect(raw.body?.auth?.client_token).toBe('');
    expect(raw.body?.auth?.accessor).toBe(issued.accessor);
    expect(raw.body?.auth?.lease_duration).toBe(7200);
  });

  it('refuses to renew a non-renewable token with a non-retryable VaultError', async () => {
    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '1h', renewable: false });
    expect(issued.renewable).toBe(false);
    const byAccessor = await failure(vault.renewAccessor(issued.accessor));
    expect(byAccessor).toBeInstanceOf(VaultError);
    expect((byAccessor as GovError).retryable).toBe(false);
    expect((byAccessor as GovError).details).toMatchObject({
      status: 400,
      reason: 'not_renewable',
      accessor: issued.accessor,
    });
    const bySelf = await failure(vault.renewSelf(issued.token));
    expect((bySelf as GovError).details).toMatchObject({ reason: 'not_renewable' });
    expect((await vault.lookupAccessor(issued.accessor)).renewable).toBe(false);
  });

  it('keeps a periodic token at its period on every renewal', async () => {
    const res = await api(backend.addr, 'POST', 'auth/token/create', {
      token: backend.rootToken,
      body: { policies: ['agent-read'], period: '1h' },
    });
    expect(res.body?.auth?.lease_duration).toBe(3600);
    const accessor = String(res.body?.auth?.accessor);
    const renewed = await vault.renewAccessor(accessor, '5h');
    expect(renewed.leaseDurationS).toBe(3600);
    expect((await vault.lookupAccessor(accessor)).periodS).toBe(3600);
  });

  it('revokes a token by accessor, after which every lookup fails with TokenRevokedError', async () => {
    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '2h' });
    expect(await vault.revokeAccessor(issued.accessor)).toBe(true);
    const byAccessor = await failure(vault.lookupAccessor(issued.accessor));
    expect(byAccessor).toBeInstanceOf(TokenRevokedError);
    expect((byAccessor as GovError).details).toMatchObject({
      accessor: issued.accessor,
      knownToClient: true,
    });
    expect(await failure(vault.lookupSelf(issued.token))).toBeInstanceOf(TokenRevokedError);
    expect(await failure(vault.renewAccessor(issued.accessor))).toBeInstanceOf(TokenRevokedError);
    expect(await vault.revokeAccessor(issued.accessor)).toBe(false);

    const raw = await api(backend.addr, 'POST', 'auth/token/lookup-accessor', {
      token: backend.rootToken,
      body: { accessor: issued.accessor },
    });
    expect(raw.status).toBe(400);
    expect(raw.body?.errors).toContain('invalid accessor');
  });

  it('revokes a token by token with 204 and by itself', async () => {
    const a = await vault.createToken({ policies: ['agent-read'], ttl: '2h' });
    const revoked = await api(backend.addr, 'POST', 'auth/token/revoke', {
      token: backend.rootToken,
      body: { token: a.token },
    });
    expect(revoked.status).toBe(204);
    expect(revoked.body).toBeNull();
    expect((await api(backend.addr, 'GET', 'auth/token/lookup-self', { token: a.token })).status).toBe(403);

    const b = await vault.createToken({ policies: ['agent-read'], ttl: '2h' });
    await vault.revokeSelf(b.token);
    expect(await failure(vault.lookupAccessor(b.accessor))).toBeInstanceOf(TokenRevokedError);
  });

  it('revoking a parent revokes its children and grandchildren but not orphans', async () => {
    const parent = await vault.createToken({
      policies: [creatorPolicy, 'agent-read', 'agent-write'],
      ttl: '2h',
    });
    const child = await vault.createChildToken(parent.token, {
      policies: [creatorPolicy, 'agent-read'],
      ttl: '1h',
    });
    const grandchild = await vault.createChildToken(child.token, { policies: ['agent-read'], ttl: '30m' });
    const orphan = await vault.createToken({ policies: ['agent-read'], ttl: '2h', noParent: true });
    expect(child.orphan).toBe(false);
    expect(child.policies).toEqual(['agent-read', 'default', creatorPolicy].sort());
    expect(orphan.orphan).toBe(true);

    await vault.revokeAccessor(parent.accessor);
    expect(await failure(vault.lookupAccessor(child.accessor))).toBeInstanceOf(TokenRevokedError);
    expect(await failure(vault.lookupSelf(grandchild.token))).toBeInstanceOf(TokenRevokedError);
    expect((await vault.lookupAccessor(orphan.accessor)).orphan).toBe(true);
  });

  it('creates orphans through create-orphan, and refuses no_parent to a caller without sudo', async () => {
    const orphan = await api(backend.addr, 'POST', 'auth/token/create-orphan', {
      token: backend.rootToken,
      body: { policies: ['agent-read'], ttl: '1h' },
    });
    expect(orphan.status).toBe(200);
    expect(orphan.body?.auth?.orphan).toBe(true);

    const parent = await vault.createToken({ policies: [creatorPolicy, 'agent-read'], ttl: '1h' });
    const refused = await api(backend.addr, 'POST', 'auth/token/create', {
      token: parent.token,
      body: { policies: ['agent-read'], no_parent: true },
    });
    expect(refused.status).toBe(400);
    expect(refused.body?.errors?.join(' ')).toMatch(
      /root or sudo privileges required to create orphan token/,
    );
  });

  it("requires a child's policies to be a subset of its parent's unless the parent is root", async () => {
    const parent = await vault.createToken({ policies: [creatorPolicy, 'agent-read'], ttl: '1h' });
    const ok = await vault.createChildToken(parent.token, { policies: ['agent-read'], ttl: '30m' });
    expect(ok.policies).toEqual(['agent-read', 'default']);

    const err = await failure(
      vault.createChildToken(parent.token, { policies: ['agent-admin'], ttl: '30m' }),
    );
    expect(err).toBeInstanceOf(VaultError);
    expect((err as GovError).retryable).toBe(false);
    expect((err as GovError).details).toMatchObject({
      status: 400,
      errors: ['child policies must be subset of parent'],
    });

    const fromRoot = await vault.createToken({ policies: ['agent-admin'], ttl: '30m' });
    expect(fromRoot.policies).toEqual(['agent-admin', 'default']);
  });

  it('a token without create rights is refused token creation with a 403', async () => {
    const plain = await vault.createToken({ policies: ['agent-read'], ttl: '1h' });
    const err = await failure(vault.createChildToken(plain.token, { policies: ['agent-read'], ttl: '30m' }));
    expect(err).toBeInstanceOf(VaultError);
    expect((err as GovError).details).toMatchObject({ status: 403, reason: 'permission_denied' });
  });

  it('answers bad input with 400 and an errors list', async () => {
    const token = backend.rootToken;
    const cases: Array<[string, unknown, RegExp]> = [
      ['auth/token/create', { ttl: 'two hours' }, /invalid syntax|invalid duration/],
      ['auth/token/create', { ttl: '-1h' }, /ttl must be positive/],
      ['auth/token/create', { num_uses: -1 }, /number of uses cannot be negative/],
      ['auth/token/create', { type: 'bogus' }, /token_type/],
      ['auth/token/lookup-accessor', {}, /missing accessor/],
      ['auth/token/lookup-accessor', { accessor: 'no-such-accessor' }, /invalid accessor/],
      ['auth/token/renew-accessor', { accessor: 'no-such-accessor' }, /invalid accessor/],
      ['auth/token/revoke', {}, /missing token ID/],
    ];
    for (const [path, body, pattern] of cases) {
      const res = await api(backend.addr, 'POST', path, { token, body });
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body?.errors?.join(' ')).toMatch(pattern);
    }
    const malformed = await api(backend.addr, 'POST', 'auth/token/create', { token, rawBody: '{"ttl":' });
    expect(malformed.status).toBe(400);
    expect(malformed.body?.errors?.length).toBeGreaterThan(0);
  });

  it('answers a missing, unknown or revoked token with 403 permission denied', async () => {
    const missing = await api(backend.addr, 'GET', 'auth/token/lookup-self');
    expect(missing.status).toBe(403);
    expect(missing.body?.errors?.join(' ')).toMatch(/permission denied/);
    const unknown = await api(backend.addr, 'POST', 'auth/token/create', {
      token: 'hvs.not-a-token',
      body: {},
    });
    expect(unknown.status).toBe(403);
    expect(unknown.body?.errors?.join(' ')).toMatch(/permission denied/);

    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '1h' });
    await vault.revokeAccessor(issued.accessor);
    const revoked = await api(backend.addr, 'POST', 'auth/token/renew-self', {
      token: issued.token,
      body: {},
    });
    expect(revoked.status).toBe(403);
  });

  it('reports health without a token', async () => {
    const res = await api(backend.addr, 'GET', 'sys/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ initialized: true, sealed: false });
  });

  it('keeps tokens out of error messages and details, naming only accessors', async () => {
    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '1h' });
    await vault.revokeAccessor(issued.accessor);
    const err = await failure(vault.renewSelf(issued.token));
    expect(err).toBeInstanceOf(TokenRevokedError);
    const text = JSON.stringify(serializeError(err)) + String((err as Error).stack);
    expect(text).not.toContain(issued.token);
    expect(text).toContain(issued.accessor);
  });

  it('turns an unreachable Vault into a retryable VaultError', async () => {
    const port = await freePort();
    const offline = new VaultTokenClient({
      addr: `http://127.0.0.1:${port}`,
      token: backend.rootToken,
      requestTimeoutMs: 2000,
    });
    const err = await failure(offline.lookupAccessor('some-accessor'));
    expect(err).toBeInstanceOf(VaultError);
    expect((err as GovError).retryable).toBe(true);
    expect((err as GovError).details).toMatchObject({ reason: 'network' });
    expect(JSON.stringify(serializeError(err))).not.toContain(backend.rootToken);
  });

  devOnly('answers unknown paths with 404', async () => {
    const res = await api(backend.addr, 'GET', 'secret/data/nothing-here', { token: backend.rootToken });
    expect(res.status).toBe(404);
    expect(Array.isArray(res.body?.errors)).toBe(true);
  });

  devOnly('expires a token once the injected clock passes its 2 h TTL', async () => {
    const clock = backend.clock!;
    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '2h' });
    clock.advance(2 * HOUR_MS - 1000);
    expect((await vault.lookupSelf(issued.token)).ttlS).toBe(1);
    clock.advance(1000);
    const self = await failure(vault.lookupSelf(issued.token));
    expect(self).toBeInstanceOf(TokenExpiredError);
    expect((self as GovError).details).toMatchObject({ accessor: issued.accessor });
    expect(await failure(vault.lookupAccessor(issued.accessor))).toBeInstanceOf(TokenExpiredError);
    expect(await failure(vault.renewAccessor(issued.accessor))).toBeInstanceOf(TokenExpiredError);
    const raw = await api(backend.addr, 'GET', 'auth/token/lookup-self', { token: issued.token });
    expect(raw.status).toBe(403);
    expect(raw.body?.errors).toEqual(['permission denied']);
  });

  devOnly('keeps a token alive while it is renewed every 30 min, until its explicit max TTL', async () => {
    const clock = backend.clock!;
    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '1h', explicitMaxTtl: '2h' });
    clock.advance(30 * MINUTE_MS);
    expect((await vault.renewSelf(issued.token)).leaseDurationS).toBe(3600);
    clock.advance(50 * MINUTE_MS);
    expect((await vault.lookupAccessor(issued.accessor)).ttlS).toBe(600);
    const capped = await vault.renewAccessor(issued.accessor, '1h');
    expect(capped.leaseDurationS).toBe(40 * 60);
    clock.advance(40 * MINUTE_MS);
    expect(await failure(vault.lookupAccessor(issued.accessor))).toBeInstanceOf(TokenExpiredError);
  });

  devOnly("revokes a child token when its parent's TTL runs out", async () => {
    const clock = backend.clock!;
    const parent = await vault.createToken({ policies: [creatorPolicy, 'agent-read'], ttl: '1h' });
    const child = await vault.createChildToken(parent.token, { policies: ['agent-read'], ttl: '2h' });
    clock.advance(HOUR_MS);
    expect(await failure(vault.lookupAccessor(child.accessor))).toBeInstanceOf(TokenExpiredError);
  });

  devOnly('revokes a limited-use token after its last use', async () => {
    const issued = await vault.createToken({ policies: ['agent-read'], ttl: '1h', numUses: 2 });
    expect((await vault.lookupSelf(issued.token)).numUses).toBe(1);
    await vault.lookupSelf(issued.token);
    expect(await failure(vault.lookupSelf(issued.token))).toBeInstanceOf(TokenRevokedError);
  });
});
