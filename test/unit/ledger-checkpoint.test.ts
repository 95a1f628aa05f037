import { createHash, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkpointSignatureProblem,
  checkpointText,
  createSigner,
  formatSignedCheckpoint,
  generateKeyPair,
  hashLeaf,
  loadPublicKey,
  parseSignedCheckpoint,
  rawPublicKey,
  verifyCheckpoint,
} from '../../actors/ledger/index.ts';
import { ConfigError, DecodeError } from '../../protocols/vocabulary/errors.ts';

const ORIGIN = 'example.test/ledger';
const keys = generateKeyPair();
const signer = createSigner(keys.seedHex, ORIGIN);
const cp = { origin: ORIGIN, size: 42, root: hashLeaf(Buffer.from('x')), ts: 1_700_000_000_123 };

describe('signed checkpoints', () => {
  it('writes the C2SP checkpoint text with a ts extension line and one signed-note signature line', () => {
    const sc = signer.sign(cp);
    const text = formatSignedCheckpoint(sc);
    const lines = text.split('\n');
    expect(lines.slice(0, 4)).toEqual([ORIGIN, '42', cp.root.toString('base64'), 'ts 1700000000123']);
    expect(lines[4]).toBe('');
    expect(lines[5]).toMatch(new RegExp(`^\u2014 ${ORIGIN} [A-Za-z0-9+/]+=*$`));
    expect(Buffer.from(lines[5]!.split(' ')[2]!, 'base64')).toHaveLength(68);
    expect(lines[6]).toBe('');
    expect(checkpointText(cp)).toBe(`${lines.slice(0, 4).join('\n')}\n`);
  });

  it('derives the key ID as SHA-256(name || 0x0A || 0x01 || public key)[:4]', () => {
    const pub = Buffer.from(keys.publicKeyHex, 'hex');
    const want = createHash('sha256')
      .update(Buffer.concat([Buffer.from(`${ORIGIN}\n`), Buffer.from([1]), pub]))
      .digest()
      .subarray(0, 4)
      .toString('hex');
    expect(signer.keyId).toBe(want);
  });

  it('parses what it formats and verifies under the public key in every accepted form', () => {
    const sc = signer.sign(cp);
    const back = parseSignedCheckpoint(formatSignedCheckpoint(sc));
    expect(back).toEqual(sc);
    for (const form of [
      keys.publicKeyPem,
      keys.publicKeyHex,
      Buffer.from(keys.publicKeyHex, 'hex').toString('base64'),
    ]) {
      expect(verifyCheckpoint(back, loadPublicKey(form))).toBe(true);
    }
  });

  it('loads the signing key from PKCS#8 PEM, hex seed or base64 seed to the same key', () => {
    const b64 = Buffer.from(keys.seedHex, 'hex').toString('base64');
    for (const material of [keys.privateKeyPem, keys.seedHex, b64, createPrivateKey(keys.privateKeyPem)]) {
      expect(rawPublicKey(createSigner(material, ORIGIN).publicKey).toString('hex')).toBe(keys.publicKeyHex);
    }
  });

  it('fails verification when any signed field changes, or under another key', () => {
    const sc = signer.sign(cp);
    const pub = loadPublicKey(keys.publicKeyPem);
    expect(checkpointSignatureProblem({ ...sc, size: 43 }, pub)).toMatch(/does not verify/);
    expect(checkpointSignatureProblem({ ...sc, ts: sc.ts + 1 }, pub)).toMatch(/does not verify/);
    expect(checkpointSignatureProblem({ ...sc, root: hashLeaf(Buffer.from('y')) }, pub)).toMatch(
      /does not verify/,
    );
    expect(checkpointSignatureProblem(sc, loadPublicKey(generateKeyPair().publicKeyPem))).toMatch(/key ID/);
  });

  it('refuses checkpoint text that is not in canonical form', () => {
    const text = formatSignedCheckpoint(signer.sign(cp));
    for (const bad of [
      text.replace('\n42\n', '\n042\n'),
      text.replace('ts ', 'ts  '),
      text.replace('\n\n', '\n'),
      `${text}\n`,
      text.replace(ORIGIN, `${ORIGIN}\t`),
      `${text}\u2014 other ${'A'.repeat(92)}\n`,
    ]) {
      expect(() => parseSignedCheckpoint(bad)).toThrow(DecodeError);
    }
  });

  it('refuses key material that is not an Ed25519 key, and an origin other than the key name', () => {
    expect(() => createSigner('not a key', ORIGIN)).toThrow(ConfigError);
    expect(() => createSigner('ab'.repeat(31), ORIGIN)).toThrow(ConfigError);
    expect(() => loadPublicKey('zz')).toThrow(ConfigError);
    expect(() => createSigner(keys.seedHex, 'has space')).toThrow(ConfigError);
    expect(() => signer.sign({ ...cp, origin: 'other.test/log' })).toThrow(ConfigError);
  });
});
