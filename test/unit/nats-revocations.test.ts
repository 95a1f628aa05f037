import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '@nats-io/jwt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createNatsAuthority,
  DEFAULT_REVOCATION_PRUNE_SKEW_MS,
  loadOrCreateNatsAuthority,
  pruneRevocations,
  revokeUsers,
  saveRevocations,
} from '../../infra/nats-auth/index.ts';
import { REVOCATIONS_FILE } from '../../infra/nats-auth/authority.ts';

const revokedIn = (jwt: string) =>
  Object.keys((decode(jwt).nats as { revocations?: Record<string, number> }).revocations ?? {}).sort();

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('revocations in the account JWT', () => {
  it('prunes a revocation once its user JWT has expired past the clock-skew margin, and keeps the others', () => {
    const now = 10_000_000;
    const revoked = { UEXPIRED: 1, UFRESH: 1, UUNKNOWN: 1, UWITHINSKEW: 1 };
    const expires = {
      UEXPIRED: now - DEFAULT_REVOCATION_PRUNE_SKEW_MS - 1,
      UFRESH: now + 1_000,
      UWITHINSKEW: now - 1,
    };
    expect(pruneRevocations(revoked, expires, now)).toBe(1);
    expect(Object.keys(revoked).sort()).toEqual(['UFRESH', 'UUNKNOWN', 'UWITHINSKEW']);
    expect(Object.keys(expires).sort()).toEqual(['UFRESH', 'UWITHINSKEW']);
  });

  it('signs the account JWT without the revocations of expired users (regression: the list only grew, and every claim update carried it)', async () => {
    const auth = await createNatsAuthority();
    const t0 = Date.now();
    await revokeUsers(auth, [{ publicKey: 'UOLD', expiresAtMs: t0 + 1_000 }, 'UFOREVER'], t0);
    expect(revokedIn(auth.accountJwt)).toEqual(['UFOREVER', 'UOLD']);
    const later = t0 + 1_000 + DEFAULT_REVOCATION_PRUNE_SKEW_MS + 1;
    await revokeUsers(auth, [{ publicKey: 'UNEW', expiresAtMs: later + 60_000 }], later);
    expect(revokedIn(auth.accountJwt)).toEqual(['UFOREVER', 'UNEW']);
  });

  it('saves revocations with their expiries and reads them back, and still reads the bare map of before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agov-revocations-'));
    dirs.push(dir);
    const auth = await loadOrCreateNatsAuthority(dir);
    await revokeUsers(auth, [{ publicKey: 'UA', expiresAtMs: Date.now() + 3_600_000 }, 'UB']);
    await saveRevocations(auth);
    const saved = JSON.parse(readFileSync(join(dir, REVOCATIONS_FILE), 'utf8'));
    expect(saved).toMatchObject({ v: 2, revoked: { UA: expect.any(Number), UB: expect.any(Number) } });
    expect(Object.keys(saved.expires)).toEqual(['UA']);
    expect(revokedIn((await loadOrCreateNatsAuthority(dir)).accountJwt)).toEqual(['UA', 'UB']);

    writeFileSync(join(dir, REVOCATIONS_FILE), JSON.stringify({ UOLDFORMAT: 1 }));
    const old = await loadOrCreateNatsAuthority(dir);
    expect(revokedIn(old.accountJwt)).toEqual(['UOLDFORMAT']);
    expect(old.revocationExpiry).toEqual({});
  });
});
