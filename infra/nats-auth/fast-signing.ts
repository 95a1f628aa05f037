/**
 * Ed25519 with an nkey, through node:crypto (OpenSSL) instead of the nkeys library's pure-JS
 * tweetnacl, which takes about 30 ms a signature on a loaded machine: every JWT the system signs
 * (a user minted per actor, the account re-signed at each revocation) went through it, and a
 * revocation spent most of its time there. Same keys, same signatures (Ed25519 is deterministic).
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { KeyPair } from '@nats-io/nkeys';

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Decode(text: string): Uint8Array {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text) {
    const v = BASE32.indexOf(c);
    if (v < 0) throw new Error('not an nkey: invalid base32');
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

/** The raw 32-byte Ed25519 key of an nkey public key (`U…`, `A…`, `O…`: prefix, key, CRC16). */
export function rawPublicKey(nkey: string): Uint8Array {
  const raw = base32Decode(nkey);
  if (raw.length !== 35) throw new Error('not an nkey public key');
  return raw.subarray(1, 33);
}

/** A verifier for signatures by the nkey `publicKey`. */
export function nkeyVerifier(publicKey: string): (data: Uint8Array, sig: Uint8Array) => boolean {
  const key = createPublicKey({
    key: Buffer.concat([SPKI_ED25519, rawPublicKey(publicKey)]),
    format: 'der',
    type: 'spki',
  });
  return (data, sig) => verify(null, data, key, sig);
}

function privateKeyOf(kp: KeyPair): KeyObject {
  const raw = (kp as KeyPair & { getRawSeed(): Uint8Array }).getRawSeed();
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, raw]), format: 'der', type: 'pkcs8' });
}

/** `kp` with sign and verify done by node:crypto; everything else is the nkeys key pair's own. */
export function fastKeyPair(kp: KeyPair): KeyPair {
  const priv = privateKeyOf(kp);
  // The nkeys key pair derives its public key from the seed (a pure-JS scalar multiplication, as slow
  // as a signature) on every getPublicKey/getPrivateKey call, and @nats-io/jwt calls both per JWT.
  const publicKey = kp.getPublicKey();
  let privateKey: Uint8Array | undefined;
  const verifyOwn = nkeyVerifier(publicKey);
  return {
    getPublicKey: () => publicKey,
    getPrivateKey: () => {
      privateKey ??= kp.getPrivateKey();
      return privateKey;
    },
    getSeed: () => kp.getSeed(),
    sign: (input) => new Uint8Array(sign(null, input, priv)),
    verify: (input, sig) => verifyOwn(input, sig),
    clear: () => kp.clear(),
    seal: (input, recipient, nonce) => kp.seal(input, recipient, nonce),
    open: (message, sender) => kp.open(message, sender),
  };
}
