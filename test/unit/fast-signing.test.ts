import { createAccount, createUser } from '@nats-io/nkeys';
import { describe, expect, it } from 'vitest';
import { fastKeyPair, nkeyVerifier, rawPublicKey } from '../../infra/nats-auth/index.ts';

describe('Ed25519 through node:crypto with an nkey', () => {
  it('signs exactly as the nkeys library does, and each verifies the other’s signature', () => {
    for (const kp of [createUser(), createAccount()]) {
      const data = new TextEncoder().encode(`envelope ${kp.getPublicKey()}`);
      const fast = fastKeyPair(kp);
      const sig = fast.sign(data);
      expect(Buffer.from(sig).equals(Buffer.from(kp.sign(data)))).toBe(true);
      expect(kp.verify(data, sig)).toBe(true);
      expect(nkeyVerifier(kp.getPublicKey())(data, kp.sign(data))).toBe(true);
      expect(fast.getPublicKey()).toBe(kp.getPublicKey());
    }
  });

  it('refuses a signature by another key and over other bytes', () => {
    const a = createUser();
    const b = createUser();
    const data = new TextEncoder().encode('x');
    const verifyA = nkeyVerifier(a.getPublicKey());
    expect(verifyA(data, fastKeyPair(b).sign(data))).toBe(false);
    expect(verifyA(new TextEncoder().encode('y'), fastKeyPair(a).sign(data))).toBe(false);
  });

  it('refuses what is not an nkey public key', () => {
    expect(() => rawPublicKey('not-a-key')).toThrow(/nkey/);
    expect(rawPublicKey(createUser().getPublicKey())).toHaveLength(32);
  });
});
