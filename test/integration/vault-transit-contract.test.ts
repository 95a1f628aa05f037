import { createPublicKey, randomBytes, verify as edVerify } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointText, verifyCheckpoint } from '../../actors/ledger/checkpoint.ts';
import { createTransitSigner, transitSignerPolicy } from '../../actors/ledger/transit-signer.ts';
import { evidenceStatement } from '../../actors/ledger/evidence-format.ts';
import { startVaultDevServer } from '../../infra/vault/dev-server.ts';
import { VaultError } from '../../protocols/vocabulary/errors.ts';
import { vaultApi as api } from '../harness/vault-api.ts';
import { type VaultBackend, vaultBackends } from '../harness/vault-backends.ts';

/**
 * Vault's transit engine, as the ledger uses it (Ed25519 sign/verify, key read), run against the dev
 * server and, when VAULT_ADDR and VAULT_TOKEN are set, a real Vault (transit is mounted if it is not).
 */

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const factories = vaultBackends({
  manualClock: false,
  async prepareRealVault(addr, rootToken) {
    await api(addr, 'POST', 'sys/mounts/transit', { token: rootToken, body: { type: 'transit' } });
  },
});

describe.each(factories)('Vault transit contract against the $name', (factory) => {
  let backend: VaultBackend;
  const key = `agov-test-${randomBytes(4).toString('hex')}`;
  const devOnly = factory.devServer ? it : it.skip;

  beforeAll(async () => {
    backend = await factory.start();
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('creates an ed25519 key whose read answer carries the raw public key of version 1', async () => {
    const created = await api(backend.addr, 'POST', `transit/keys/${key}`, {
      token: backend.rootToken,
      body: { type: 'ed25519' },
    });
    expect([200, 204]).toContain(created.status);
    const read = await api(backend.addr, 'GET', `transit/keys/${key}`, { token: backend.rootToken });
    expect(read.status).toBe(200);
    expect(read.body?.data?.type).toBe('ed25519');
    expect(read.body?.data?.latest_version).toBe(1);
    expect(read.body?.data?.supports_signing).toBe(true);
    const keys = read.body?.data?.keys as Record<string, { public_key: string }>;
    expect(Buffer.from(keys['1']!.public_key, 'base64')).toHaveLength(32);
  });

  it('signs input as is, with a vault:v1: signature any Ed25519 library verifies, and verifies it back', async () => {
    const input = Buffer.from('example.test/ledger\n5\nroot\nts 1\n');
    const signed = await api(backend.addr, 'POST', `transit/sign/${key}`, {
      token: backend.rootToken,
      body: { input: input.toString('base64') },
    });
    expect(signed.status).toBe(200);
    const signature = String(signed.body?.data?.signature);
    expect(signature).toMatch(/^vault:v1:[A-Za-z0-9+/]+=*$/);
    expect(signed.body?.data?.key_version).toBe(1);

    const read = await api(backend.addr, 'GET', `transit/keys/${key}`, { token: backend.rootToken });
    const raw = Buffer.from(
      (read.body!.data!.keys as Record<string, { public_key: string }>)['1']!.public_key,
      'base64',
    );
    const publicKey = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
      format: 'der',
      type: 'spki',
    });
    const sigBytes = Buffer.from(signature.slice('vault:v1:'.length), 'base64');
    expect(edVerify(null, input, publicKey, sigBytes)).toBe(true);

    const ok = await api(backend.addr, 'POST', `transit/verify/${key}`, {
      token: backend.rootToken,
      body: { input: input.toString('base64'), signature },
    });
    expect(ok.body?.data?.valid).toBe(true);
    const altered = await api(backend.addr, 'POST', `transit/verify/${key}`, {
      token: backend.rootToken,
      body: { input: Buffer.from('example.test/ledger\n6\nroot\nts 1\n').toString('base64'), signature },
    });
    expect(altered.body?.data?.valid).toBe(false);
  });

  it('refuses to sign with a key that does not exist (400) and reads an unknown key as 404', async () => {
    const sign = await api(backend.addr, 'POST', 'transit/sign/agov-no-such-key', {
      token: backend.rootToken,
      body: { input: 'aGk=' },
    });
    expect(sign.status).toBe(400);
    const read = await api(backend.addr, 'GET', 'transit/keys/agov-no-such-key', {
      token: backend.rootToken,
    });
    expect(read.status).toBe(404);
  });

  it('lets a token with the signer policy sign and read its key, and nothing else', async () => {
    const policy = `agov-test-signer-${key}`;
    const put = await api(backend.addr, 'PUT', `sys/policy/${policy}`, {
      token: backend.rootToken,
      body: { policy: transitSignerPolicy(key) },
    });
    expect(put.status).toBe(204);
    const created = await api(backend.addr, 'POST', 'auth/token/create', {
      token: backend.rootToken,
      body: { policies: [policy], ttl: '10m' },
    });
    const signerToken = String(created.body?.auth?.client_token);
    const sign = await api(backend.addr, 'POST', `transit/sign/${key}`, {
      token: signerToken,
      body: { input: 'aGk=' },
    });
    expect(sign.status).toBe(200);
    const createOther = await api(backend.addr, 'POST', `transit/keys/${key}-other`, {
      token: signerToken,
      body: { type: 'ed25519' },
    });
    expect(createOther.status).toBe(403);
    const replaceOwn = await api(backend.addr, 'POST', `transit/keys/${key}`, {
      token: signerToken,
      body: { type: 'ed25519' },
    });
    expect(replaceOwn.status).toBe(403);
    const noToken = await api(backend.addr, 'POST', `transit/sign/${key}`, { body: { input: 'aGk=' } });
    expect(noToken.status).toBe(403);
  });

  it('signs ledger checkpoints through the transit signer that verify under the public key it read', async () => {
    const signer = await createTransitSigner({
      addr: backend.addr,
      token: backend.rootToken,
      transitKey: `${key}-ledger`,
      keyName: 'example.test/ledger',
      create: true,
    });
    const cp = { origin: 'example.test/ledger', size: 3, root: randomBytes(32), ts: 1_700_000_000_000 };
    const sc = await signer.sign(cp);
    expect(verifyCheckpoint(sc, signer.publicKey)).toBe(true);
    expect(checkpointText(sc)).toBe(checkpointText(cp));
  });

  it('signs evidence statements through the transit signer (the package signature) that verify under its key', async () => {
    const signer = await createTransitSigner({
      addr: backend.addr,
      token: backend.rootToken,
      transitKey: `${key}-evidence`,
      keyName: 'example.test/ledger',
      create: true,
    });
    const statement = evidenceStatement('run-1', 'ab'.repeat(32));
    const sig = await signer.signText!(statement);
    expect(edVerify(null, Buffer.from(statement), signer.publicKey, sig)).toBe(true);
    expect(edVerify(null, Buffer.from(`${statement}x`), signer.publicKey, sig)).toBe(false);
  });

  it('reports a transit signer that cannot reach its key as a VaultError, not a crash', async () => {
    const err = await createTransitSigner({
      addr: backend.addr,
      token: 'hvs.not-a-token',
      transitKey: key,
      keyName: 'example.test/ledger',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultError);
  });

  devOnly('refuses key types other than ed25519 (the dev server implements signing keys only)', async () => {
    const res = await api(backend.addr, 'POST', `transit/keys/${key}-aes`, {
      token: backend.rootToken,
      body: { type: 'aes256-gcm96' },
    });
    expect(res.status).toBe(400);
  });

  devOnly('keeps its keyring across restarts in a 0600 file, so the public key stays the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agov-transit-'));
    try {
      const keyringFile = join(dir, 'vault', 'transit-keyring.json');
      const first = await startVaultDevServer({ transitKeyringFile: keyringFile });
      await api(first.addr, 'POST', 'transit/keys/k', { token: first.rootToken, body: { type: 'ed25519' } });
      const before = await api(first.addr, 'GET', 'transit/keys/k', { token: first.rootToken });
      await first.stop();
      expect(statSync(keyringFile).mode & 0o777).toBe(0o600);
      const second = await startVaultDevServer({ transitKeyringFile: keyringFile });
      const after = await api(second.addr, 'GET', 'transit/keys/k', { token: second.rootToken });
      await second.stop();
      expect(after.body?.data?.keys).toEqual(before.body?.data?.keys);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
